/*
 * test_cli_torture.c - crash consistency of the cmk tool: SIGKILL at
 * random moments (at least 200 that really interrupt it) during puts, KEK
 * rotations, DEK rotations (rekey), backups and restores, like a machine
 * losing power under a script. After every kill:
 *   - `cmk status` succeeds: the key table is intact;
 *   - every acknowledged put (exit 0) reads back; an interrupted put may
 *     have torn its own units (documented), so it is re-run to completion
 *     and the model follows it;
 *   - a backup that verifies restores to exactly the data at backup time;
 *   - an interrupted restore leaves a folder that either does not open or
 *     holds exactly that data.
 * Seeded (CMK_TORTURE_SEED) so that a failure replays.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmt_client.h"

#ifndef CMK_BIN
#define CMK_BIN "bin/cmk"
#endif

#define STORE_BYTES           (256 * 1024)
#define KILLS_WANTED          200
#define KILLS_WANTED_VALGRIND 20 /* make valgrind: each cmk start takes ~1 s */

static char dir[200], key[240], store[240];
static uint8_t model[STORE_BYTES], snap[STORE_BYTES];
static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/*
 * Runs cmk with |args| (NULL-terminated, after the binary and --key-file);
 * stdin from |in| (or /dev/null), stdout to |out| (or /dev/null). Kills it
 * with SIGKILL after |kill_us| microseconds if it is still running
 * (0 = never). Returns the exit code, or -SIGKILL when it was killed.
 */
static int run(const char *const *args, const char *in, const char *out, long kill_us)
{
    const char *argv[24];
    int n = 0;
    argv[n++] = getenv("CMK_BIN") != NULL ? getenv("CMK_BIN") : CMK_BIN;
    argv[n++] = "--key-file";
    argv[n++] = key;
    for (int i = 0; args[i] != NULL && n < 23; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen(in != NULL ? in : "/dev/null", "r", stdin) ||
            !freopen(out != NULL ? out : "/dev/null", "w", stdout) ||
            !freopen("/dev/null", "w", stderr)) {
            _exit(126);
        }
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st;
    if (kill_us > 0) {
        struct timespec ts = {kill_us / 1000000, (kill_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        }
        kill(pid, SIGKILL);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Reads the whole store |d| with cmk get; 0 and the bytes in |out|, or the exit code. */
static int read_store(const char *d, uint8_t *out)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/get.out", dir);
    char len[32];
    snprintf(len, sizeof(len), "%d", STORE_BYTES);
    const char *args[] = {"get", d, "--length", len, "--output", path, "--force", NULL};
    int rc = run(args, NULL, NULL, 0);
    if (rc != 0) {
        return rc;
    }
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fread(out, 1, STORE_BYTES, f), STORE_BYTES);
    fclose(f);
    return 0;
}

static void check_consistent(const char *when)
{
    const char *st[] = {"status", store, NULL};
    cr_assert_eq(run(st, NULL, NULL, 0), 0, "%s: cmk status failed: key table damaged", when);
    static uint8_t got[STORE_BYTES];
    cr_assert_eq(read_store(store, got), 0, "%s: store unreadable", when);
    for (size_t i = 0; i < STORE_BYTES; i++) {
        cr_assert_eq(got[i], model[i], "%s: byte %zu differs (acknowledged data lost)", when, i);
    }
}

Test(cli_torture, sigkill_at_random_points, .timeout = 600)
{
    const char *seed = getenv("CMK_TORTURE_SEED");
    rng = seed != NULL ? strtoull(seed, NULL, 10) : 0x1234567ULL;
    snprintf(dir, sizeof(dir), "/tmp/cmk-torture-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/smk.key", dir);
    snprintf(store, sizeof(store), "%s/store", dir);
    const char *create[] = {"create",         store, "--size", "256K", "--unit-size", "4096",
                            "--extent-units", "8",   "--mode", "gcm",  NULL};
    cr_assert_eq(run(create, NULL, NULL, 0), 0);
    memset(model, 0, sizeof(model));
    int kills = 0, by_op[5] = {0}, backups_ok = 0, restores_checked = 0;
    static const char *const names[5] = {"put", "rotate-kek", "rekey", "backup", "restore"};
    char data_path[300], bak[300], rdir[300];
    snprintf(data_path, sizeof(data_path), "%s/put.in", dir);
    snprintf(bak, sizeof(bak), "%s/store.bak", dir);
    snprintf(rdir, sizeof(rdir), "%s/restored", dir);
    int have_backup = 0;
    const int kills_wanted = vmt_scaled(KILLS_WANTED, KILLS_WANTED_VALGRIND);
    const long slow = vmt_scaled(1, 30); /* valgrind runs cmk ~30x slower: widen the kill window */
    for (int iter = 0; kills < kills_wanted && iter < 3000; iter++) {
        int op = (int)(rnd() % 10);
        op = op < 5 ? 0 : op - 5 < 2 ? 1 + (op - 5) : op == 7 ? 3 : op == 8 ? 4 : 0;
        /* 0..25 ms hits startup, unwrap and I/O of the short commands; backups and
         * restores (fsyncs) take longer, so they get a wider window too */
        long delay = slow * (long)(rnd() % (op >= 3 && (rnd() & 1) ? 150000 : 25000));
        int rc;
        if (op == 0) {
            size_t len = 1 + rnd() % 12000, off = rnd() % (STORE_BYTES - len);
            uint8_t buf[12000];
            for (size_t i = 0; i < len; i++) {
                buf[i] = (uint8_t)rnd();
            }
            write_file(data_path, buf, len);
            char offs[32];
            snprintf(offs, sizeof(offs), "%zu", off);
            const char *put[] = {"put", store, "-", "--offset", offs, NULL};
            rc = run(put, data_path, NULL, delay);
            if (rc != 0) {
                /* interrupted: its units may be torn; finish the write, as a journal would */
                cr_assert_eq(rc, -SIGKILL, "put failed with exit %d", rc);
                cr_assert_eq(run(put, data_path, NULL, 0), 0,
                             "re-run of an interrupted put failed");
            }
            memcpy(model + off, buf, len);
        } else if (op == 1) {
            const char *rot[] = {"rotate-kek", store, NULL};
            rc = run(rot, NULL, NULL, delay);
        } else if (op == 2) {
            char ext[8];
            snprintf(ext, sizeof(ext), "%u", (unsigned)(rnd() % 8));
            const char *rk[] = {"rekey", store, ext, NULL};
            rc = run(rk, NULL, NULL, delay);
        } else if (op == 3) {
            unlink(bak);
            memcpy(snap, model, sizeof(snap));
            const char *bk[] = {"backup", store, bak, NULL};
            rc = run(bk, NULL, NULL, delay);
            const char *vf[] = {"verify-backup", bak, NULL};
            int vrc = run(vf, NULL, NULL, 0);
            if (rc == 0) {
                cr_assert_eq(vrc, 0, "an acknowledged backup does not verify");
            }
            have_backup = vrc == 0;
            backups_ok += vrc == 0;
        } else {
            if (!have_backup) { /* make one, uninterrupted, to restore from */
                memcpy(snap, model, sizeof(snap));
                const char *bk[] = {"backup", store, bak, NULL};
                unlink(bak);
                cr_assert_eq(run(bk, NULL, NULL, 0), 0);
                have_backup = 1;
            }
            char cmd[700];
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rdir);
            cr_assert_eq(system(cmd), 0);
            const char *rs[] = {"restore", bak, rdir, NULL};
            rc = run(rs, NULL, NULL, delay);
            static uint8_t got[STORE_BYTES];
            int grc = read_store(rdir, got);
            if (rc == 0) {
                cr_assert_eq(grc, 0, "an acknowledged restore does not read");
            }
            if (grc == 0) {
                cr_assert(memcmp(got, snap, STORE_BYTES) == 0,
                          "restored store differs from the backup");
                restores_checked++;
            }
        }
        if (rc == -SIGKILL) {
            kills++;
            by_op[op]++;
        }
        check_consistent(names[op]);
    }
    fprintf(stderr,
            "cli torture: %d SIGKILLs that interrupted cmk (put %d, rotate-kek %d, rekey %d, "
            "backup %d, restore %d); %d backups verified, %d restores compared\n",
            kills, by_op[0], by_op[1], by_op[2], by_op[3], by_op[4], backups_ok, restores_checked);
    cr_assert_geq(kills, kills_wanted);
    for (int i = 0; i < 5; i++) {
        cr_assert_gt(by_op[i], 0, "no kill landed during %s", names[i]);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    int rc = system(cmd);
    (void)rc;
}
