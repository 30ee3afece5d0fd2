/*
 * test_crash.c - the vault's state under kill -9 at random moments while a
 * client creates, rotates and deletes keys: after each restart on the same
 * state folder, every change the client saw acknowledged (HTTP 200) is
 * there: created and rotated versions exist, deleted keys are in the
 * deleted list. 40 kills at random points, seeded (VMOCK_CRASH_SEED).
 *
 * Each round waits for the client's first acknowledged change before it
 * draws the kill moment (0..1 s later), so every round proves at least one
 * change however slowly a loaded machine makes RSA keys; a fixed window
 * from the start left many rounds with nothing acknowledged.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmt.h"

#define KILLS 40
/* How long a round may wait for its first acknowledged change. */
#define FIRST_ACK_MS 60000
#define KILLS_VALGRIND 6

struct ack {
    char op;        /* 'c' create, 'r' rotate, 'd' delete */
    char name[24];
    char ver[33];
};

/* The client: create k<i>-<j>, rotate it, delete every third; one line per acknowledged change. */
static void client(struct vmt_server *s, int iter, int fd)
{
    const char *ko = vmt_token(s, "keyofficer");
    for (int j = 0;; j++) {
        struct ack a = {.op = 'c'};
        snprintf(a.name, sizeof(a.name), "k%d-%d", iter, j);
        if (vmt_create_key(s, a.name, 2048, NULL, a.ver) != 200) {
            _exit(0);
        }
        if (write(fd, &a, sizeof(a)) != sizeof(a)) {
            _exit(1);
        }
        char path[96];
        snprintf(path, sizeof(path), "/keys/%s/rotate?" VMT_API, a.name);
        struct vmt_resp r;
        if (vmt_call(s, "POST", path, ko, NULL, &r) != 200) {
            _exit(0);
        }
        a.op = 'r';
        const char *kid = vmt_str(&r, "key.kid");
        snprintf(a.ver, sizeof(a.ver), "%s", kid != NULL ? strrchr(kid, '/') + 1 : "");
        vmt_resp_free(&r);
        if (write(fd, &a, sizeof(a)) != sizeof(a)) {
            _exit(1);
        }
        if (j % 3 == 2) {
            snprintf(path, sizeof(path), "/keys/%s?" VMT_API, a.name);
            if (vmt_call(s, "DELETE", path, ko, NULL, &r) != 200) {
                _exit(0);
            }
            vmt_resp_free(&r);
            a.op = 'd';
            if (write(fd, &a, sizeof(a)) != sizeof(a)) {
                _exit(1);
            }
        }
    }
}

static struct ack acks[4096];
static size_t nacks;

static int deleted(const struct ack *ac, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (ac[i].op == 'd' && strcmp(ac[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

struct check {
    size_t checked;         /* acknowledged changes looked up */
    size_t unacked_deletes; /* found in a key whose delete was applied but not acknowledged */
    size_t lost;            /* acknowledged changes not there */
    char first_loss[256];
};

static void loss(struct check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void loss(struct check *k, const char *fmt, ...)
{
    if (k->lost++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->first_loss, sizeof(k->first_loss), fmt, ap);
        va_end(ap);
    }
}

/*
 * Looks up every acknowledged change: created and rotated versions under
 * /keys, deleted keys under /deletedkeys. A version whose key is not found
 * may have been deleted by a change the client never saw acknowledged (the
 * server applied it, the kill took the answer): an unacknowledged change
 * may or may not have happened, so the version must then be in the deleted
 * key, and an acknowledged rotation must be its current version (the client
 * changes a key only by deleting it after its rotation).
 */
static void check_acks(struct vmt_server *s, const struct ack *ac, size_t n, struct check *k)
{
    const char *ko = vmt_token(s, "keyofficer");
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        char path[128];
        struct vmt_resp r;
        if (ac[i].op == 'd' || deleted(ac, n, ac[i].name)) {
            snprintf(path, sizeof(path), "/deletedkeys/%s?" VMT_API, ac[i].name);
        } else {
            snprintf(path, sizeof(path), "/keys/%s/%s?" VMT_API, ac[i].name, ac[i].ver);
        }
        long code = vmt_call(s, "GET", path, ko, NULL, &r);
        vmt_resp_free(&r);
        k->checked++;
        if (code == 404 && ac[i].op != 'd') {
            snprintf(path, sizeof(path), "/deletedkeys/%s?" VMT_API, ac[i].name);
            code = vmt_call(s, "GET", path, ko, NULL, &r);
            const char *kid = vmt_str(&r, "key.kid");
            const char *cur = kid != NULL && strrchr(kid, '/') != NULL ? strrchr(kid, '/') + 1 : "";
            if (code == 200 && ac[i].op == 'r' && strcmp(cur, ac[i].ver) != 0) {
                loss(k, "deleted key %s holds %s, not the acknowledged rotation %s", ac[i].name, cur,
                     ac[i].ver);
                vmt_resp_free(&r);
                continue;
            }
            vmt_resp_free(&r);
            k->unacked_deletes += code == 200;
        }
        if (code != 200) {
            loss(k, "acknowledged %c of %s (%s) lost: GET %s -> %ld", ac[i].op, ac[i].name,
                 ac[i].ver, path, code);
        }
    }
}

Test(crash, kill9_at_random_points_keeps_every_acknowledged_change, .timeout = 300)
{
    const char *seed = getenv("VMOCK_CRASH_SEED");
    srand(seed != NULL ? (unsigned)strtoul(seed, NULL, 10) : 4242u);
    struct vmt_server s;
    memset(&s, 0, sizeof(s));
    cr_assert_eq(vmt_start(&s, NULL), 0);
    s.fresh = 1;
    const int kills_wanted = vmt_scaled(KILLS, KILLS_VALGRIND);
    for (int iter = 0; iter < kills_wanted; iter++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t c = fork();
        cr_assert_geq(c, 0);
        if (c == 0) {
            close(p[0]);
            client(&s, iter, p[1]);
            _exit(0);
        }
        close(p[1]);
        struct ack a;
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        cr_assert_eq(poll(&pf, 1, FIRST_ACK_MS), 1, "round %d: no change acknowledged in %d s",
                     iter, FIRST_ACK_MS / 1000);
        cr_assert_eq(read(p[0], &a, sizeof(a)), (ssize_t)sizeof(a));
        acks[nacks++] = a;
        long ms = rand() % 1000; /* 0..1 s after the first acknowledgement */
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        vmt_kill9(&s); /* the server dies mid-request, mid-write, or idle */
        int st;
        waitpid(c, &st, 0);
        while (read(p[0], &a, sizeof(a)) == sizeof(a) && nacks < sizeof(acks) / sizeof(acks[0])) {
            acks[nacks++] = a;
        }
        close(p[0]);
        cr_assert_eq(vmt_start(&s, NULL), 0, "restart %d on the same state failed", iter);
    }
    /* every acknowledged change survived */
    struct check k;
    check_acks(&s, acks, nacks, &k);
    cr_assert_eq(k.lost, 0, "%zu of %zu acknowledged changes lost; first: %s", k.lost, k.checked,
                 k.first_loss);
    fprintf(stderr,
            "vault crash test: %d kill -9 at random points, %zu acknowledged changes, all present "
            "(%zu in keys whose delete was applied but not acknowledged)\n",
            kills_wanted, k.checked, k.unacked_deletes);
    cr_assert_geq(nacks, (size_t)kills_wanted, "every round acknowledged at least one change");
    vmt_cleanup(&s);
}

/*
 * The check's unacknowledged-delete path, forced: the answers to the deletes
 * below are "lost" (not recorded as acknowledged), as a kill would lose them.
 */
Test(crash, a_delete_without_acknowledgement_keeps_the_acknowledged_versions, .timeout = 120)
{
    struct vmt_server s;
    memset(&s, 0, sizeof(s));
    cr_assert_eq(vmt_start(&s, NULL), 0);
    const char *ko = vmt_token(&s, "keyofficer");
    struct ack ac[8];
    size_t n = 0;
    struct vmt_resp r;
    /* u1: created and rotated (both acknowledged), then deleted without acknowledgement */
    ac[n] = (struct ack){.op = 'c', .name = "u1"};
    cr_assert_eq(vmt_create_key(&s, "u1", 2048, NULL, ac[n].ver), 200);
    n++;
    cr_assert_eq(vmt_call(&s, "POST", "/keys/u1/rotate?" VMT_API, ko, NULL, &r), 200);
    ac[n] = (struct ack){.op = 'r', .name = "u1"};
    snprintf(ac[n].ver, sizeof(ac[n].ver), "%s", strrchr(vmt_str(&r, "key.kid"), '/') + 1);
    vmt_resp_free(&r);
    n++;
    cr_assert_eq(vmt_call(&s, "DELETE", "/keys/u1?" VMT_API, ko, NULL, &r), 200);
    vmt_resp_free(&r);
    /* u2: created (acknowledged), deleted without acknowledgement */
    ac[n] = (struct ack){.op = 'c', .name = "u2"};
    cr_assert_eq(vmt_create_key(&s, "u2", 2048, NULL, ac[n].ver), 200);
    n++;
    cr_assert_eq(vmt_call(&s, "DELETE", "/keys/u2?" VMT_API, ko, NULL, &r), 200);
    vmt_resp_free(&r);
    struct check k;
    check_acks(&s, ac, n, &k);
    cr_assert_eq(k.lost, 0, "%s", k.first_loss);
    cr_assert_eq(k.checked, 3);
    cr_assert_eq(k.unacked_deletes, 3, "all three versions found in deleted keys");

    /* negative: a create that never happened, and a rotation that is not the deleted key's current */
    ac[n] = (struct ack){.op = 'c', .name = "never", .ver = "00000000000000000000000000000000"};
    n++;
    check_acks(&s, ac, n, &k);
    cr_assert_eq(k.lost, 1);
    cr_assert_str_eq(k.first_loss, "acknowledged c of never (00000000000000000000000000000000) lost: "
                                   "GET /deletedkeys/never?" VMT_API " -> 404");
    ac[n - 1] = (struct ack){.op = 'r', .name = "u2"};
    snprintf(ac[n - 1].ver, sizeof(ac[n - 1].ver), "%s", ac[0].ver); /* u1's first version */
    check_acks(&s, ac, n, &k);
    cr_assert_eq(k.lost, 1);
    cr_assert(strstr(k.first_loss, "deleted key u2 holds ") == k.first_loss, "%s", k.first_loss);
    cr_assert(strstr(k.first_loss, ", not the acknowledged rotation ") != NULL, "%s", k.first_loss);
    vmt_cleanup(&s);
}
