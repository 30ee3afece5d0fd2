/*
 * cmk-fs - a FUSE filesystem whose files' contents are encrypted by the
 * engine, under the SMK key file or a customer-managed key in the vault.
 * See fs/README.md and usage_text below.
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"
#include "cmkfs.h"
#include "eng_secure.h"
#include "keyopts.h"
#include "mountlock.h"

static const char usage_text[] =
    "usage: cmk-fs COMMAND BACKING [MOUNTPOINT] [options]\n"
    "\n"
    "commands:\n"
    "  init BACKING          make a new filesystem in the folder BACKING: its key table\n"
    "                        (BACKING/keyring, one master key wrapped by the KEK) and the\n"
    "                        file tree (BACKING/files); --passthrough: a plaintext one\n"
    "  mount BACKING MNT     mount it at MNT; returns once the mount is live (-f: stays in\n"
    "                        the foreground until unmounted or SIGTERM/SIGINT)\n"
    "  status BACKING        the key table: mode, unit size, id, KEK and version\n"
    "  rotate-kek BACKING    rewrap the key table under the KEK's current version (the SMK\n"
    "                        key file gets a new version first); data is not touched; the\n"
    "                        filesystem must not be mounted\n"
    "\n"
    "options:\n"
    "  --mode xts|gcm        contents cipher (init): AES-256-XTS on data units (the\n"
    "                        default; length-preserving), or AES-256-GCM with a random\n"
    "                        nonce and a tag per unit (32 more bytes per unit; tampering,\n"
    "                        moved units and torn writes read as EIO)\n"
    "  --unit-size N         data unit bytes (init): a power of two, 512..65536 (4096)\n"
    "  --passthrough         init/mount a plaintext backing: the same code with the cipher\n"
    "                        replaced by a copy (for measuring FUSE cost); a backing made\n"
    "                        one way cannot be mounted the other way\n"
    "  --revalidate-s N      check the KEK every N seconds (mount; default 60)\n"
    "  --grace-s N           tolerate an unreachable key provider N seconds past that\n"
    "                        (mount; default 300)\n"
    "  --anchor-dir DIR      freshness anchors of key tables (as cmk; default\n"
    "                        $CMK_ANCHOR_DIR, else ~/.cmk/anchors)\n"
    "  --log-file FILE       mount: append a timestamped line to FILE when the mount goes\n"
    "                        live, when the key is revoked (and why), and at unmount\n"
    "  -f                    mount: stay in the foreground\n"
    "  -o OPTS               mount: more FUSE mount options (allow_other and\n"
    "                        default_permissions are always given)\n"
    "  --key-file PATH       service-managed key file (default $CMK_KEY_FILE, else\n"
    "                        ~/.cmk/smk.key; init creates it when missing)\n"
    "  --vault-url URL       customer-managed key instead: the key vault (https://host:port)\n"
    "  --vault-insecure-http accept an http:// --vault-url anyway\n"
    "  --vault-key NAME      the RSA key in the vault (KEK)\n"
    "  --vault-ca FILE       PEM CA certificate to trust for the vault\n"
    "  --vault-token-file F  file holding the identity's bearer token (or $CMK_VAULT_TOKEN)\n"
    "\n"
    "Each file gets its own key, derived with HKDF-SHA256 from the master key and a\n"
    "random nonce in the file's 4096-byte header, so creating a file never calls the\n"
    "vault. File NAMES, sizes, modes, owners, times and the directory tree are NOT\n"
    "encrypted: they are visible in BACKING/files. XTS hides contents but does not\n"
    "detect tampering; GCM does (not the rollback of a unit to an older version of\n"
    "itself). After the KEK is deleted, disabled or no longer permitted, within\n"
    "--revalidate-s seconds every open, read, write and fsync fails with EIO and the\n"
    "keys are wiped; remount once the key is back.\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 key inaccessible, 4 integrity (corrupt or\n"
    "rolled-back key table)\n";

struct fsopts {
    struct cmk_keyopts k;
    const char *mode;
    const char *unit_size;
    const char *revalidate;
    const char *grace;
    const char *anchor_dir;
    const char *log_file;
    int passthrough;
    int foreground;
    int help;
    char fuse_opts[4096];
    const char *pos[3];
    int npos;
};

static int parse_opts(int argc, char **argv, struct fsopts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = 1;
        } else if (strcmp(a, "-f") == 0) {
            o->foreground = 1;
        } else if (strcmp(a, "--passthrough") == 0) {
            o->passthrough = 1;
        } else if (strcmp(a, "--vault-insecure-http") == 0) {
            o->k.insecure_http = 1;
        } else if (strcmp(a, "-o") == 0 || strncmp(a, "-o", 2) == 0) {
            const char *v = a[2] != '\0' ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (v == NULL) {
                return cmk_usage_error("option needs a value", a);
            }
            size_t used = strlen(o->fuse_opts);
            if (snprintf(o->fuse_opts + used, sizeof(o->fuse_opts) - used, ",%s", v) >=
                (int)(sizeof(o->fuse_opts) - used)) {
                return cmk_usage_error("-o options too long", v);
            }
        } else if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
            static const struct {
                const char *name;
                size_t field;
            } valued[] = {
                {"mode", offsetof(struct fsopts, mode)},
                {"unit-size", offsetof(struct fsopts, unit_size)},
                {"revalidate-s", offsetof(struct fsopts, revalidate)},
                {"grace-s", offsetof(struct fsopts, grace)},
                {"anchor-dir", offsetof(struct fsopts, anchor_dir)},
                {"log-file", offsetof(struct fsopts, log_file)},
            };
            const char **field = cmk_keyopts_field(&o->k, name, nlen);
            for (size_t k = 0; field == NULL && k < sizeof(valued) / sizeof(valued[0]); k++) {
                if (strlen(valued[k].name) == nlen && strncmp(valued[k].name, name, nlen) == 0) {
                    field = (const char **)((char *)o + valued[k].field);
                }
            }
            if (field == NULL) {
                return cmk_usage_error("unknown option", a);
            }
            const char *val = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (val == NULL) {
                return cmk_usage_error("option needs a value", a);
            }
            *field = val;
        } else if (o->npos < (int)(sizeof(o->pos) / sizeof(o->pos[0]))) {
            o->pos[o->npos++] = a;
        } else {
            return cmk_usage_error("too many arguments", a);
        }
    }
    return EXIT_OK;
}

/* A decimal in lo..hi, else -1. */
static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int path_in(char *out, const char *dir, const char *name)
{
    return snprintf(out, PATH_MAX, "%s/%s", dir, name) < PATH_MAX ? 0 : -1;
}

/* Which kind of backing |dir| is: 1 encrypted, 0 passthrough, -1 none (message printed). */
static int backing_kind(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    int enc = path_in(p, dir, "keyring") == 0 && stat(p, &st) == 0;
    int plain = path_in(p, dir, "passthrough") == 0 && stat(p, &st) == 0;
    int files = path_in(p, dir, "files") == 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    if (enc == plain || !files) {
        fprintf(stderr, "cmk-fs: %s is not a cmk-fs backing folder (run cmk-fs init %s)\n", dir,
                dir);
        return -1;
    }
    return enc;
}

/* BACKING/orphans made, and emptied of what a crash left (files unlinked while open). */
static int prepare_orphans(const char *dir)
{
    char p[PATH_MAX];
    if (path_in(p, dir, CMKFS_ORPHANS) != 0 || (mkdir(p, 0700) != 0 && errno != EEXIST)) {
        return -1;
    }
    DIR *d = opendir(p);
    if (d == NULL) {
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, CMKFS_HIDDEN, strlen(CMKFS_HIDDEN)) == 0) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
    return 0;
}

static void keyring_config(const struct fsopts *o, struct eng_keyring_config *cfg)
{
    eng_keyring_config_init(cfg);
    cfg->anchor_dir = o->anchor_dir;
}

static int cmd_init(const struct fsopts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("init needs BACKING", NULL);
    }
    const char *dir = o->pos[1];
    struct eng_keyring_config cfg;
    keyring_config(o, &cfg);
    if (o->mode != NULL && strcmp(o->mode, "xts") != 0 && strcmp(o->mode, "gcm") != 0) {
        return cmk_usage_error("unknown --mode (xts or gcm)", o->mode);
    }
    cfg.mode = o->mode != NULL && strcmp(o->mode, "gcm") == 0 ? ENG_MODE_GCM : ENG_MODE_XTS;
    if (o->unit_size != NULL && (parse_u32(o->unit_size, 512, 65536, &cfg.unit_size) != 0 ||
                                 (cfg.unit_size & (cfg.unit_size - 1)) != 0)) {
        return cmk_usage_error("bad --unit-size (a power of two, 512..65536)", o->unit_size);
    }
    if (o->passthrough && (o->mode != NULL || o->unit_size != NULL || o->k.key_file != NULL ||
                           o->k.vault_url != NULL)) {
        return cmk_usage_error("--passthrough takes no --mode, --unit-size or key options", NULL);
    }
    char files[PATH_MAX];
    char p[PATH_MAX];
    struct stat st;
    if (path_in(files, dir, "files") != 0 || path_in(p, dir, "keyring") != 0) {
        return cmk_usage_error("BACKING path too long", dir);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cmk-fs: init %s: %s\n", dir, strerror(errno));
        return EXIT_ERR;
    }
    if (stat(files, &st) == 0 || stat(p, &st) == 0) {
        fprintf(stderr, "cmk-fs: init %s: already a cmk-fs backing folder\n", dir);
        return EXIT_ERR;
    }
    if (o->passthrough) {
        int fd = path_in(p, dir, "passthrough") == 0
                     ? open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                     : -1;
        if (fd < 0) {
            fprintf(stderr, "cmk-fs: init %s: %s\n", p, strerror(errno));
            return EXIT_ERR;
        }
        static const char note[] = "cmk-fs plaintext (passthrough) backing: NOT encrypted\n";
        int ok = write(fd, note, sizeof(note) - 1) == (ssize_t)(sizeof(note) - 1);
        close(fd);
        if (!ok) {
            return EXIT_ERR;
        }
    } else {
        struct eng_kek_provider *kek = cmk_open_kek(&o->k, 1);
        if (kek == NULL) {
            return cmk_kek_exit_code();
        }
        struct eng_keyring *kr = eng_keyring_create(p, kek, &cfg);
        int code = eng_errno();
        eng_keyring_close(kr);
        eng_kek_provider_free(kek);
        if (kr == NULL) {
            return cmk_fail_with("init", code);
        }
    }
    if (mkdir(files, 0755) != 0 || chmod(files, 0755) != 0 || prepare_orphans(dir) != 0) {
        fprintf(stderr, "cmk-fs: init %s: %s\n", files, strerror(errno));
        return EXIT_ERR;
    }
    printf("cmk-fs: initialised %s (%s)\n", dir,
           o->passthrough ? "passthrough, NOT encrypted" : eng_mode_name(cfg.mode));
    return EXIT_OK;
}

/* Opens the key table of BACKING |dir|; |read_only|: shared lock (mount and status). */
static int open_keyring(const struct fsopts *o, const char *dir, int read_only,
                        struct eng_kek_provider **kek, struct eng_keyring **kr)
{
    char p[PATH_MAX];
    struct eng_keyring_config cfg;
    keyring_config(o, &cfg);
    if (o->revalidate != NULL && parse_u32(o->revalidate, 1, 86400, &cfg.revalidate_s) != 0) {
        return cmk_usage_error("bad --revalidate-s (seconds, 1..86400)", o->revalidate);
    }
    if (o->grace != NULL && parse_u32(o->grace, 0, 86400, &cfg.grace_s) != 0) {
        return cmk_usage_error("bad --grace-s (seconds, 0..86400)", o->grace);
    }
    cfg.flags = read_only ? ENG_STORE_READ_ONLY : 0;
    if (path_in(p, dir, "keyring") != 0) {
        return cmk_usage_error("BACKING path too long", dir);
    }
    *kek = cmk_open_kek(&o->k, 0);
    if (*kek == NULL) {
        return cmk_kek_exit_code();
    }
    *kr = eng_keyring_open(p, *kek, &cfg);
    if (*kr == NULL) {
        int code = eng_errno();
        eng_kek_provider_free(*kek);
        *kek = NULL;
        char what[PATH_MAX + 32];
        snprintf(what, sizeof(what), "key table %s", p);
        int rc = cmk_fail_with(what, code);
        if (code == ENG_ERR_STORE_BUSY) {
            fprintf(stderr, "cmk-fs: %s is mounted; unmount it first\n", dir);
        }
        return rc;
    }
    return EXIT_OK;
}

static int cmd_status(const struct fsopts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("status needs BACKING", NULL);
    }
    int kind = backing_kind(o->pos[1]);
    if (kind <= 0) {
        if (kind == 0) {
            printf("backing %s: passthrough (plaintext, NOT encrypted)\n", o->pos[1]);
        }
        return kind == 0 ? EXIT_OK : EXIT_ERR;
    }
    struct eng_kek_provider *kek = NULL;
    struct eng_keyring *kr = NULL;
    int rc = open_keyring(o, o->pos[1], 1, &kek, &kr);
    if (rc != EXIT_OK) {
        return rc;
    }
    struct eng_store_info in;
    struct eng_store_dek d;
    eng_keyring_info(kr, &in);
    eng_keyring_dek_info(kr, &d);
    char id[2 * ENG_KEYRING_ID_BYTES + 1];
    base_hex(id, in.store_id, ENG_KEYRING_ID_BYTES);
    printf(
        "backing %s: encrypted\nmode: %s\nunit size: %u\nid: %s\nkey table generation: "
        "%llu\nkek: %s %s version %s (%s)\naccessible: yes\nfile names: plaintext\n",
        o->pos[1], eng_mode_name(in.mode), in.unit_size, id, (unsigned long long)in.generation,
        d.kek.provider, d.kek.key_id, d.kek.version, d.kek.alg);
    eng_keyring_close(kr);
    eng_kek_provider_free(kek);
    return EXIT_OK;
}

static int cmd_rotate_kek(const struct fsopts *o)
{
    if (o->npos != 2) {
        return cmk_usage_error("rotate-kek needs BACKING", NULL);
    }
    if (backing_kind(o->pos[1]) != 1) {
        return EXIT_ERR;
    }
    struct eng_kek_provider *kek = NULL;
    struct eng_keyring *kr = NULL;
    int rc = open_keyring(o, o->pos[1], 0, &kek, &kr); /* exclusive: refused while mounted */
    if (rc != EXIT_OK) {
        return rc;
    }
    /* Service-managed key: a new key file version first (as cmk rotate-kek), then the rewrap. */
    char path[PATH_MAX];
    if (o->k.vault_url == NULL && (cmk_key_file_path(&o->k, path, sizeof(path), 0) != 0 ||
                                   eng_smk_rotate(path, NULL, 0) != 0)) {
        rc = cmk_fail_with("rotate-kek: new key file version", eng_errno());
    } else if (eng_keyring_rotate_kek(kr) != 0) {
        rc = cmk_fail_with("rotate-kek", eng_errno());
    }
    eng_keyring_close(kr);
    eng_kek_provider_free(kek);
    if (rc == EXIT_OK) {
        printf("cmk-fs: key table of %s rewrapped\n", o->pos[1]);
    }
    return rc;
}

/* --- mount ------------------------------------------------------------------ */

static pthread_mutex_t reval_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reval_cond;
static int reval_stop;
static uint32_t reval_interval_s;

static FILE *g_log; /* --log-file: key state changes, one timestamped line each */

/* One line to the --log-file: "2026-12-07T10:00:00.123Z cmk-fs[pid]: MESSAGE". */
__attribute__((format(printf, 1, 2))) static void log_line(const char *fmt, ...)
{
    if (g_log == NULL) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(g_log, "%s.%03ldZ cmk-fs[%ld]: %s\n", when, ts.tv_nsec / 1000000L, (long)getpid(), msg);
    fflush(g_log);
}

/* Checks the KEK every interval, off the I/O path; I/O reads only g_fs.revoked / last_ok_ns. */
static void *reval_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&reval_lock);
    while (!reval_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += reval_interval_s;
        while (!reval_stop && pthread_cond_timedwait(&reval_cond, &reval_lock, &ts) != ETIMEDOUT) {
        }
        if (reval_stop) {
            break;
        }
        pthread_mutex_unlock(&reval_lock);
        int already = atomic_load(&g_fs.revoked);
        int ok = !already && eng_keyring_revalidate(g_fs.kr) == 0;
        if (ok) {
            atomic_store(&g_fs.last_ok_ns, cmkfs_now_ns());
        } else {
            struct eng_store_info in;
            eng_keyring_info(g_fs.kr, &in);
            atomic_store(&g_fs.revoked, 1);
            cmkfs_drop_keys();
            if (already) {
                log_line(
                    "revoked: no good KEK check within --revalidate-s + --grace-s (the "
                    "key provider hung); every open, read, write and fsync now fails with "
                    "EIO; keys wiped");
            } else {
                log_line(
                    "revoked: KEK check failed with %s (%s); every open, read, write and "
                    "fsync now fails with EIO; keys wiped",
                    eng_error_name(in.cause), eng_strerror(in.cause));
            }
        }
        pthread_mutex_lock(&reval_lock);
        if (!ok) {
            break;
        }
    }
    pthread_mutex_unlock(&reval_lock);
    return NULL;
}

/* Writes the child's status to the parent waiting in cmd_mount, once. */
static void report(int fd, int rc)
{
    if (fd >= 0) {
        unsigned char b = (unsigned char)rc;
        ssize_t w = write(fd, &b, 1);
        (void)w;
        close(fd);
    }
}

static int mount_body(const struct fsopts *o, int kind, int status_fd)
{
    const char *dir = o->pos[1];
    const char *mnt = o->pos[2];
    struct eng_kek_provider *kek = NULL;
    int rc = EXIT_OK;
    char p[PATH_MAX];
    memset(&g_fs, 0, sizeof(g_fs));
    pthread_mutex_init(&g_fs.nodes_lock, NULL);
    g_fs.passthrough = kind == 0;
    g_fs.unit = 4096;
    g_fs.mode = ENG_MODE_XTS;
    int lock_fd = cmkfs_mount_lock(dir);
    if (lock_fd < 0) {
        report(status_fd, EXIT_ERR);
        return EXIT_ERR;
    }
    if (kind == 1) {
        rc = open_keyring(o, dir, 1, &kek, &g_fs.kr);
        if (rc != EXIT_OK) {
            report(status_fd, rc);
            return rc;
        }
        struct eng_store_info in;
        eng_keyring_info(g_fs.kr, &in);
        g_fs.unit = in.unit_size;
        g_fs.mode = in.mode;
        g_fs.rec = in.mode == ENG_MODE_GCM ? CMKFS_GCM_REC : 0;
        g_fs.gcm_limit = CMKFS_GCM_LIMIT;
        /* Test hook: a lower key limit, so tests reach a re-key (never a higher one). */
        uint32_t lim = 0;
        if (parse_u32(getenv("CMKFS_TEST_GCM_LIMIT"), 2 * CMKFS_BATCH, UINT32_MAX, &lim) == 0 &&
            lim < g_fs.gcm_limit) {
            g_fs.gcm_limit = lim;
        }
        memcpy(g_fs.fs_id, in.store_id, sizeof(g_fs.fs_id));
        g_fs.deadline_ns = ((uint64_t)in.revalidate_s + 2U) * 1000000000ULL;
        uint32_t grace = ENG_STORE_DEFAULT_GRACE_S;
        if (o->grace != NULL) {
            parse_u32(o->grace, 0, 86400, &grace);
        }
        g_fs.deadline_ns += (uint64_t)grace * 1000000000ULL;
        reval_interval_s = in.revalidate_s;
        atomic_store(&g_fs.last_ok_ns, cmkfs_now_ns());
    }
    if (prepare_orphans(dir) != 0) {
        fprintf(stderr, "cmk-fs: %s/%s: %s\n", dir, CMKFS_ORPHANS, strerror(errno));
    }
    g_fs.root_fd = path_in(p, dir, "files") == 0 ? open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    struct fuse *f = NULL;
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    char mopts[sizeof(o->fuse_opts) + PATH_MAX + 128];
    snprintf(mopts, sizeof(mopts), "allow_other,default_permissions,fsname=cmk-fs,subtype=%s%s",
             kind == 1 ? "cmk-fs" : "cmk-fs-passthrough", o->fuse_opts);
    struct fuse_operations ops;
    cmkfs_operations(&ops);
    if (g_fs.root_fd < 0) {
        fprintf(stderr, "cmk-fs: %s: %s\n", p, strerror(errno));
        rc = EXIT_ERR;
    } else if (fuse_opt_add_arg(&args, "cmk-fs") != 0 || fuse_opt_add_arg(&args, "-o") != 0 ||
               fuse_opt_add_arg(&args, mopts) != 0 ||
               (f = fuse_new(&args, &ops, sizeof(ops), NULL)) == NULL) {
        fprintf(stderr, "cmk-fs: bad FUSE options: %s\n", mopts);
        rc = EXIT_USAGE;
    } else if (fuse_set_signal_handlers(fuse_get_session(f)) != 0 || fuse_mount(f, mnt) != 0) {
        /* handlers first: a SIGTERM as soon as the mount is visible still unmounts cleanly */
        fprintf(stderr, "cmk-fs: cannot mount at %s\n", mnt);
        fuse_remove_signal_handlers(fuse_get_session(f));
        fuse_destroy(f);
        f = NULL;
        rc = EXIT_ERR;
    }
    pthread_t reval;
    int reval_started = 0;
    if (rc == EXIT_OK && g_fs.kr != NULL) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&reval_cond, &ca);
        reval_started = pthread_create(&reval, NULL, reval_main, NULL) == 0;
        if (!reval_started) {
            rc = EXIT_ERR;
        }
    }
    if (rc == EXIT_OK) {
        log_line("mounted %s at %s (%s, revalidate %u s)", dir, mnt,
                 kind == 1 ? eng_mode_name(g_fs.mode) : "passthrough", reval_interval_s);
        cmkfs_mount_record(lock_fd, mnt);
        report(status_fd, EXIT_OK);
        if (status_fd >= 0) { /* daemon: leave the caller's terminal and pipes */
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
                close(null);
            }
            setsid();
            if (chdir("/") != 0) {
                rc = EXIT_ERR;
            }
        }
        struct fuse_loop_config lc = {.clone_fd = 0, .max_idle_threads = 16};
        int lr = fuse_loop_mt(f, &lc);
        if (lr != 0 && lr != SIGTERM && lr != SIGINT && lr != SIGHUP) { /* a signal: clean exit */
            rc = EXIT_ERR;
        }
        fuse_unmount(f);
    } else {
        if (f != NULL) { /* mounted, but the revalidation thread did not start */
            fuse_unmount(f);
        }
        report(status_fd, rc);
    }
    if (reval_started) {
        pthread_mutex_lock(&reval_lock);
        reval_stop = 1;
        pthread_cond_signal(&reval_cond);
        pthread_mutex_unlock(&reval_lock);
        pthread_join(reval, NULL);
    }
    if (f != NULL) {
        fuse_remove_signal_handlers(fuse_get_session(f));
        fuse_destroy(f);
    }
    fuse_opt_free_args(&args);
    cmkfs_drop_keys();
    eng_keyring_close(g_fs.kr);
    eng_kek_provider_free(kek);
    if (g_fs.root_fd >= 0) {
        close(g_fs.root_fd);
    }
    cmkfs_mount_unlock(lock_fd);
    log_line("unmounted %s (exit %d)", mnt, rc);
    return rc;
}

static int cmd_mount(const struct fsopts *o)
{
    if (o->npos != 3) {
        return cmk_usage_error("mount needs BACKING and MOUNTPOINT", NULL);
    }
    if (o->mode != NULL || o->unit_size != NULL) {
        return cmk_usage_error(
            "--mode and --unit-size are for init (mount reads them from the key "
            "table)",
            NULL);
    }
    int kind = backing_kind(o->pos[1]);
    if (kind < 0) {
        return EXIT_USAGE;
    }
    if (kind == 1 && o->passthrough) {
        fprintf(stderr, "cmk-fs: %s was initialised encrypted; mount it without --passthrough\n",
                o->pos[1]);
        return EXIT_USAGE;
    }
    if (kind == 0 && !o->passthrough) {
        fprintf(stderr,
                "cmk-fs: %s is a plaintext (passthrough) backing; mount it with "
                "--passthrough, or init a new encrypted one\n",
                o->pos[1]);
        return EXIT_USAGE;
    }
    if (o->log_file != NULL) {
        int fd = open(o->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        g_log = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (g_log == NULL) {
            fprintf(stderr, "cmk-fs: --log-file %s: %s\n", o->log_file, strerror(errno));
            return EXIT_USAGE;
        }
    }
    if (o->foreground) {
        return mount_body(o, kind, -1);
    }
    /* The child mounts and serves; the parent returns its status once the mount is live. */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return EXIT_ERR;
    }
    pid_t pid = fork();
    if (pid < 0) {
        return EXIT_ERR;
    }
    if (pid == 0) {
        close(pfd[0]);
        _exit(mount_body(o, kind, pfd[1]));
    }
    close(pfd[1]);
    unsigned char b = EXIT_ERR;
    ssize_t r;
    do {
        r = read(pfd[0], &b, 1);
    } while (r < 0 && errno == EINTR);
    close(pfd[0]);
    if (r != 1) { /* the child died before it reported */
        int st = 0;
        waitpid(pid, &st, 0);
        return WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : EXIT_ERR;
    }
    if (b != EXIT_OK) {
        waitpid(pid, NULL, 0);
    }
    return b;
}

int main(int argc, char **argv)
{
    /* No core dump, no ptrace by the same user: the daemon holds the master DEK and tokens. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    cmk_prog = "cmk-fs";
    struct fsopts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (o.help || o.npos == 0) {
        fputs(usage_text, o.help ? stdout : stderr);
        return o.help ? EXIT_OK : EXIT_USAGE;
    }
    const char *cmd = o.pos[0];
    if (strcmp(cmd, "init") == 0) {
        return cmd_init(&o);
    }
    if (strcmp(cmd, "mount") == 0) {
        return cmd_mount(&o);
    }
    if (strcmp(cmd, "status") == 0) {
        return cmd_status(&o);
    }
    if (strcmp(cmd, "rotate-kek") == 0) {
        return cmd_rotate_kek(&o);
    }
    return cmk_usage_error("unknown command", cmd);
}
