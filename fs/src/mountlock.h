/*
 * mountlock.h - one mount per backing folder: BACKING/mount.lock.
 *
 * A daemon serving BACKING holds an flock on BACKING/mount.lock for its whole life and, once
 * mounted, writes its mount point (the real path) into the file. After `fusermount3 -u` the kernel
 * is done with the mount at once, but the daemon holds the lock until it has written back and wiped
 * its keys; a mount started in that window would be refused. So when the lock is held and the
 * recorded mount point is no longer mounted, cmk-fs mount waits for the lock, at most
 * CMKFS_LOCK_WAIT_S seconds (default 10; 0..600).
 */
#ifndef CMKFS_MOUNTLOCK_H
#define CMKFS_MOUNTLOCK_H

#define CMKFS_LOCK_WAIT_DEFAULT_S 10

/*
 * cmkfs_mount_lock takes BACKING/mount.lock (|dir| is BACKING). Returns the locked descriptor
 * (the caller keeps it open while it lives and gives it to cmkfs_mount_unlock), or -1 after
 * printing why to stderr: "already mounted [at M]" (also while the holder is still starting),
 * still held by an exiting daemon after the wait, or the file could not be opened.
 */
int cmkfs_mount_lock(const char *dir);

/* cmkfs_mount_record writes |mnt|'s real path into the lock file, once the mount is up. */
void cmkfs_mount_record(int fd, const char *mnt);

/* cmkfs_mount_unlock forgets the recorded mount point and releases the lock. */
void cmkfs_mount_unlock(int fd);

/* cmkfs_is_mounted: is |path| (a real path) a mount point in /proc/self/mountinfo? 1, 0. */
int cmkfs_is_mounted(const char *path);

#endif
