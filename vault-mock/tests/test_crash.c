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
#define FIRST_ACK_MS   60000
#define KILLS_VALGRIND 6

struct ack {
    char op; /* 'c' create, 'r' rotate, 'd' delete */
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

static int acked(const struct ack *ac, size_t n, char op, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (ac[i].op == op && strcmp(ac[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

struct check {
    size_t checked;         /* acknowledged changes looked up */
    size_t unacked_deletes; /* keys found deleted by a delete that was not acknowledged */
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

/* One call as keyofficer; the answer's status. */
static long call(struct vmt_server *s, const char *method, const char *path)
{
    struct vmt_resp r;
    long code = vmt_call(s, method, path, vmt_token(s, "keyofficer"), NULL, &r);
    vmt_resp_free(&r);
    return code;
}

/*
 * Looks up every acknowledged change. A delete: the key is in /deletedkeys.
 * A created or rotated version: it is under /keys. When its key is not, the
 * key must be in /deletedkeys (a delete the client never saw acknowledged may
 * have been applied: an unacknowledged change may or may not have happened);
 * the check then recovers the key and reads the version from it, so every
 * acknowledged version is read back, deleted key or not. Changes the state
 * (recoveries): run it last.
 */
static void check_acks(struct vmt_server *s, const struct ack *ac, size_t n, struct check *k)
{
    char path[160];
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < n; i++) { /* deletes first, before any recovery */
        if (ac[i].op != 'd') {
            continue;
        }
        k->checked++;
        snprintf(path, sizeof(path), "/deletedkeys/%s?" VMT_API, ac[i].name);
        long code = call(s, "GET", path);
        if (code != 200) {
            loss(k, "acknowledged d of %s lost: GET %s -> %ld", ac[i].name, path, code);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ac[i].op == 'd') {
            continue;
        }
        k->checked++;
        snprintf(path, sizeof(path), "/keys/%s/%s?" VMT_API, ac[i].name, ac[i].ver);
        long code = call(s, "GET", path);
        if (code == 404) {
            /* not under /keys: deleted (acknowledged or not); recover it to read the version */
            char p2[160];
            snprintf(p2, sizeof(p2), "/deletedkeys/%s?" VMT_API, ac[i].name);
            if (call(s, "GET", p2) == 200) {
                k->unacked_deletes += !acked(ac, n, 'd', ac[i].name);
                snprintf(p2, sizeof(p2), "/deletedkeys/%s/recover?" VMT_API, ac[i].name);
                long dc = call(s, "POST", p2);
                if (dc != 200) {
                    loss(k, "recovering %s to read its acknowledged %c (%s): POST %s -> %ld",
                         ac[i].name, ac[i].op, ac[i].ver, p2, dc);
                    continue;
                }
                code = call(s, "GET", path);
            }
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
            "vault crash test: %d kill -9 at random points, %zu acknowledged changes, all present, "
            "every version read back (%zu keys deleted by a delete that was not acknowledged)\n",
            kills_wanted, k.checked, k.unacked_deletes);
    cr_assert_geq(nacks, (size_t)kills_wanted, "every round acknowledged at least one change");
    vmt_cleanup(&s);
}

/*
 * The check's unacknowledged-delete path, forced: the answers to the deletes
 * below are "lost" (not recorded as acknowledged), as a kill would lose them;
 * then each kind of loss the check must report.
 */
Test(crash, a_delete_without_acknowledgement_keeps_the_acknowledged_versions, .timeout = 120)
{
    struct vmt_server s;
    memset(&s, 0, sizeof(s));
    cr_assert_eq(vmt_start(&s, NULL), 0);
    struct ack ac[8];
    size_t n = 0;
    struct vmt_resp r;
    /* u1: created and rotated (both acknowledged), then deleted without acknowledgement */
    ac[n] = (struct ack){.op = 'c', .name = "u1"};
    cr_assert_eq(vmt_create_key(&s, "u1", 2048, NULL, ac[n].ver), 200);
    n++;
    cr_assert_eq(
        vmt_call(&s, "POST", "/keys/u1/rotate?" VMT_API, vmt_token(&s, "keyofficer"), NULL, &r),
        200);
    ac[n] = (struct ack){.op = 'r', .name = "u1"};
    snprintf(ac[n].ver, sizeof(ac[n].ver), "%s", strrchr(vmt_str(&r, "key.kid"), '/') + 1);
    vmt_resp_free(&r);
    n++;
    cr_assert_eq(call(&s, "DELETE", "/keys/u1?" VMT_API), 200);
    /* u2: created (acknowledged), deleted without acknowledgement */
    ac[n] = (struct ack){.op = 'c', .name = "u2"};
    cr_assert_eq(vmt_create_key(&s, "u2", 2048, NULL, ac[n].ver), 200);
    n++;
    cr_assert_eq(call(&s, "DELETE", "/keys/u2?" VMT_API), 200);
    /* u3: created and deleted, both acknowledged; u4: created, never deleted */
    ac[n] = (struct ack){.op = 'c', .name = "u3"};
    cr_assert_eq(vmt_create_key(&s, "u3", 2048, NULL, ac[n].ver), 200);
    n++;
    cr_assert_eq(call(&s, "DELETE", "/keys/u3?" VMT_API), 200);
    ac[n++] = (struct ack){.op = 'd', .name = "u3"};
    ac[n] = (struct ack){.op = 'c', .name = "u4"};
    cr_assert_eq(vmt_create_key(&s, "u4", 2048, NULL, ac[n].ver), 200);
    n++;
    struct check k;
    check_acks(&s, ac, n, &k);
    cr_assert_eq(k.lost, 0, "%s", k.first_loss);
    cr_assert_eq(k.checked, 6);
    cr_assert_eq(k.unacked_deletes, 2, "u1 and u2 found deleted without an acknowledged delete");
    /* every key is readable again now (the check recovered u1, u2 and u3) */
    cr_assert_eq(call(&s, "GET", "/keys/u1?" VMT_API), 200);
    cr_assert_eq(call(&s, "GET", "/keys/u3?" VMT_API), 200);

    /* losses: a version that never existed in a deleted key, a create that never happened, an
     * acknowledged delete that is not there (u4 was never deleted) */
    cr_assert_eq(call(&s, "DELETE", "/keys/u2?" VMT_API), 200);
    struct ack bad[3] = {{.op = 'c', .name = "u2", .ver = "ffffffffffffffffffffffffffffffff"},
                         {.op = 'c', .name = "never", .ver = "00000000000000000000000000000000"},
                         {.op = 'd', .name = "u4"}};
    for (size_t i = 0; i < 3; i++) {
        check_acks(&s, &bad[i], 1, &k);
        cr_assert_eq(k.lost, 1, "case %zu", i);
    }
    check_acks(&s, bad, 3, &k);
    cr_assert_eq(k.lost, 3);
    cr_assert_str_eq(k.first_loss,
                     "acknowledged d of u4 lost: GET /deletedkeys/u4?" VMT_API " -> 404");
    check_acks(&s, &bad[0], 1, &k);
    cr_assert_str_eq(k.first_loss,
                     "acknowledged c of u2 (ffffffffffffffffffffffffffffffff) lost: GET "
                     "/keys/u2/ffffffffffffffffffffffffffffffff?" VMT_API " -> 404");
    check_acks(&s, &bad[1], 1, &k);
    cr_assert_str_eq(k.first_loss,
                     "acknowledged c of never (00000000000000000000000000000000) lost: "
                     "GET /keys/never/00000000000000000000000000000000?" VMT_API " -> 404");
    vmt_cleanup(&s);
}
