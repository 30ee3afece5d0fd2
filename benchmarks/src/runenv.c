/*
 * runenv.c - what a run sets up around its measurements: its private
 * temporary folder, its own vault-mock and the KEK providers on it, and
 * the CPU affinity of the work that must not stay on the bench's core.
 *
 * The vault-mock runs on this machine and competes with the bench for the
 * same cores: in the vault figures the server's RSA work and the client's
 * HTTPS work share them.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "vmt_client.h"

static char tmp_root[256];

const char *bench_tmpdir(void)
{
    if (tmp_root[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmp_root, sizeof(tmp_root), "%s/cmk-bench-XXXXXX",
                 base != NULL && base[0] != '\0' ? base : "/tmp");
        if (mkdtemp(tmp_root) == NULL) {
            tmp_root[0] = '\0';
            return NULL;
        }
        /* The stores' freshness anchors go with them, not to ~/.cmk/anchors (eng_store.h). */
        char anchors[300];
        snprintf(anchors, sizeof(anchors), "%s/anchors", tmp_root);
        setenv("CMK_ANCHOR_DIR", anchors, 1);
    }
    return tmp_root;
}

void bench_remove_tree(const char *path)
{
    if (path == NULL || path[0] == '\0' || strchr(path, '\'') != NULL) {
        return;
    }
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    int rc = system(cmd);
    (void)rc;
}

void bench_tmpdir_remove(void)
{
    if (tmp_root[0] != '\0') {
        bench_remove_tree(tmp_root);
        tmp_root[0] = '\0';
    }
}

static struct vmt_server vsrv;
static int vault_up;

int bench_vault_running(void)
{
    return vault_up;
}

int bench_vault_start(int with_4096, struct base_err *e)
{
    if (vault_up) {
        return 0;
    }
    memset(&vsrv, 0, sizeof(vsrv));
    vsrv.timeout_ms = 120000; /* RSA-4096 key generation on a busy machine */
    static const char *const args[] = {"--throttle", "off", NULL};
    if (access(vmt_bin(), X_OK) != 0) {
        return base_err_set_sys(e, BENCH_ERR_VAULT, errno, BASE_HERE,
                                "vault-mock program '%s' is not there or not executable (%s); "
                                "build it (make) or set VMOCK_BIN",
                                vmt_bin(), strerror(errno));
    }
    cpu_set_t saved;
    bench_affinity_widen(&saved); /* the vault runs on every core, not on the bench's */
    int started = vmt_start(&vsrv, args);
    bench_affinity_restore(&saved);
    if (started != 0) {
        return base_err_set(e, BENCH_ERR_VAULT, BASE_HERE,
                            "vault-mock '%s' did not start (no ready line)", vmt_bin());
    }
    vault_up = 1;
    static const int sizes[] = {2048, 3072, 4096};
    for (size_t i = 0; i < 3; i++) {
        if (sizes[i] == 4096 && !with_4096) {
            continue;
        }
        char name[32], ver[40];
        snprintf(name, sizeof(name), "bench-%d", sizes[i]);
        long st = vmt_create_key(&vsrv, name, sizes[i], NULL, ver);
        if (st != 200) {
            base_err_set(e, BENCH_ERR_VAULT, BASE_HERE,
                         "vault-mock: creating key %s (RSA-%d) answered HTTP %ld", name, sizes[i],
                         st);
            bench_vault_stop();
            return -1;
        }
    }
    return 0;
}

void bench_vault_stop(void)
{
    if (vault_up) {
        vmt_cleanup(&vsrv);
        vault_up = 0;
    }
}

struct eng_kek_provider *bench_vault_provider_named(const char *key, int max_retries)
{
    if (!vault_up) {
        return NULL;
    }
    struct eng_vault_config cfg = {.vault_url = vsrv.url,
                                   .key_name = key,
                                   .token = vmt_token(&vsrv, "dbservice"),
                                   .ca_file = vsrv.ca,
                                   .max_retries = max_retries};
    return eng_vault_open(&cfg);
}

long bench_vault_create_key(const char *name, int bits)
{
    char ver[40];
    return vault_up ? vmt_create_key(&vsrv, name, bits, NULL, ver) : 0;
}

struct eng_kek_provider *bench_vault_provider(int bits)
{
    char name[32];
    snprintf(name, sizeof(name), "bench-%d", bits);
    return bench_vault_provider_named(name, -1);
}

/* An admin or key-officer call; returns the HTTP status. */
long bench_vault_call(const char *who, const char *method, const char *path, const char *body)
{
    struct vmt_resp r;
    long st = vmt_call(&vsrv, method, path, vmt_token(&vsrv, who), body, &r);
    vmt_resp_free(&r);
    return st;
}

/* A provider of |keys| ("smk" on the run's key file, or "cmk" on RSA-|bits|). */
struct eng_kek_provider *bench_open_provider(const char *keys, int bits, struct base_err *e)
{
    struct eng_kek_provider *p;
    if (strcmp(keys, "smk") == 0) {
        const char *tmp = bench_tmpdir();
        char path[512];
        snprintf(path, sizeof(path), "%s/smk.key", tmp != NULL ? tmp : "/nonexistent");
        p = eng_smk_open(path, 1);
    } else {
        p = bench_vault_provider(bits);
        if (p == NULL && !vault_up) {
            base_err_set(e, BENCH_ERR_VAULT, BASE_HERE, "the vault is not running");
            return NULL;
        }
    }
    if (p == NULL) {
        base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "%s", eng_strerror(eng_errno()));
    }
    return p;
}

char *bench_new_store_dir(char *out, size_t max)
{
    static unsigned counter;
    const char *tmp = bench_tmpdir();
    if (tmp == NULL) {
        return NULL;
    }
    snprintf(out, max, "%s/store-%u", tmp, counter++);
    return out;
}

void bench_affinity_widen(cpu_set_t *saved)
{
    CPU_ZERO(saved);
    (void)sched_getaffinity(0, sizeof(*saved), saved);
    cpu_set_t all;
    CPU_ZERO(&all);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++) {
        CPU_SET((int)i, &all);
    }
    (void)sched_setaffinity(0, sizeof(all), &all);
}

void bench_affinity_restore(const cpu_set_t *saved)
{
    if (CPU_COUNT(saved) > 0) {
        (void)sched_setaffinity(0, sizeof(*saved), saved);
    }
}
