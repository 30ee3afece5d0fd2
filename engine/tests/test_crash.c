/*
 * test_crash.c - kill -9 at many points of writes, KEK rotation and DEK
 * rotation; then every acknowledged write must read back and the key table
 * must show each rotation either fully applied or not at all.
 *
 * A child process opens the store and runs a seeded mix of operations. It
 * announces each operation on a pipe before starting it (BEGIN) and
 * acknowledges it when the call has returned (ACK). The parent SIGKILLs
 * the child at a point chosen per round (after the k-th ACK, or a few
 * microseconds into a rotation or a write), drains the pipe, and checks the
 * store against its model of acknowledged writes. Units of a write that was
 * in flight may be torn; the parent rewrites them before the next round.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eng_store.h"
#include "store_helpers.h"
#include "vmt_client.h"

#define UNITS           96
#define UNIT            4096
#define EXTENT_UNITS    16
#define EXTENTS         (UNITS / EXTENT_UNITS)
#define ROUNDS          120
#define ROUNDS_VALGRIND 12

enum { OP_WRITE = 1, OP_REKEY = 2, OP_KEK = 3 };
enum { MSG_BEGIN = 1, MSG_ACK = 2 };

struct msg {
    uint32_t kind;
    uint32_t op;
    uint32_t seq;
    uint32_t extent;
    uint64_t unit;
    uint64_t count;
    char version[40];
};

static char dir[256], key_path[320], store_dir[320];

static void fill_unit(uint8_t *b, uint32_t seq, uint64_t unit)
{
    for (size_t i = 0; i < UNIT; i++) {
        b[i] = (uint8_t)(seq * 31u + unit * 7u + i);
    }
    memcpy(b, &seq, sizeof(seq));
    memcpy(b + 4, &unit, sizeof(unit));
}

static void send_msg(int fd, const struct msg *m)
{
    if (write(fd, m, sizeof(*m)) != (ssize_t)sizeof(*m)) {
        _exit(3);
    }
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* The child: runs operations until it is killed. Sequence numbers start at |seq0|. */
static void child(int fd, uint32_t seed, uint32_t seq0)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 0);
    struct eng_store *s = p != NULL ? eng_store_open(store_dir, p, NULL) : NULL;
    if (s == NULL) {
        _exit(2);
    }
    uint8_t *buf = malloc((size_t)8 * UNIT);
    for (uint32_t seq = seq0;; seq++) {
        struct msg m;
        memset(&m, 0, sizeof(m));
        m.seq = seq;
        uint32_t r = next_rand(&seed) % 100;
        m.op = r < 60 ? OP_WRITE : r < 85 ? OP_REKEY : OP_KEK;
        if (m.op == OP_WRITE) {
            m.count = 1 + next_rand(&seed) % 8;
            m.unit = next_rand(&seed) % (UNITS - m.count + 1);
            for (uint64_t i = 0; i < m.count; i++) {
                fill_unit(buf + i * UNIT, seq, m.unit + i);
            }
        } else if (m.op == OP_REKEY) {
            m.extent = next_rand(&seed) % EXTENTS;
        }
        m.kind = MSG_BEGIN;
        send_msg(fd, &m);
        int rc;
        if (m.op == OP_WRITE) {
            rc = eng_store_write(s, m.unit, (size_t)m.count, buf);
        } else if (m.op == OP_REKEY) {
            rc = eng_store_rekey_extent(s, m.extent);
        } else {
            rc = eng_smk_rotate(key_path, m.version, sizeof(m.version));
            if (rc == 0) {
                rc = eng_store_rotate_kek(s);
            }
        }
        if (rc != 0) {
            _exit(4);
        }
        m.kind = MSG_ACK;
        send_msg(fd, &m);
    }
}

struct model {
    uint32_t seq[UNITS];  /* last acknowledged write of each unit (0: the parent's own) */
    int uncertain[UNITS]; /* an unacknowledged write touched it */
    uint32_t retired;     /* acknowledged DEK rotations so far */
};

static void check_store(struct eng_store *s, struct model *md, const struct msg *inflight,
                        const struct msg *last_ack)
{
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.mac_verified, 1);
    /* DEK rotation: the in-flight one is either committed (one more retired record) or not. */
    uint32_t retired = info.num_records - EXTENTS;
    int rekey_in_flight = inflight != NULL && inflight->op == OP_REKEY;
    cr_assert(retired == md->retired || (rekey_in_flight && retired == md->retired + 1),
              "retired %u, acknowledged %u", retired, md->retired);
    md->retired = retired;
    /* KEK rotation: after an acknowledged one, every record is under a single version. */
    if (last_ack != NULL && last_ack->op == OP_KEK) {
        struct eng_store_dek d0, d;
        cr_assert_eq(eng_store_dek_info(s, 0, &d0), 0);
        for (uint32_t i = 1; i < info.num_records; i++) {
            cr_assert_eq(eng_store_dek_info(s, i, &d), 0);
            cr_assert_str_eq(d.kek.version, d0.kek.version, "record %u half rotated", i);
        }
        if (inflight == NULL || inflight->op != OP_KEK) {
            cr_assert_str_eq(d0.kek.version, last_ack->version);
        }
    }
    uint8_t *got = malloc(UNIT), *want = malloc(UNIT);
    for (uint64_t u = 0; u < UNITS; u++) {
        if (md->uncertain[u]) {
            continue;
        }
        cr_assert_eq(eng_store_read(s, u, 1, got), 0, "unit %lu: %s", (unsigned long)u,
                     eng_error_name(eng_errno()));
        fill_unit(want, md->seq[u], u);
        cr_assert_eq(memcmp(got, want, UNIT), 0, "unit %lu lost its acknowledged write",
                     (unsigned long)u);
    }
    /* Torn units: give them known content again for the next round. */
    for (uint64_t u = 0; u < UNITS; u++) {
        if (md->uncertain[u]) {
            fill_unit(want, 0, u);
            cr_assert_eq(eng_store_write(s, u, 1, want), 0);
            md->seq[u] = 0;
            md->uncertain[u] = 0;
        }
    }
    free(got);
    free(want);
}

static void crash_rounds(enum eng_mode mode)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
    tl_path(store_dir, sizeof(store_dir), dir, "store");
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    struct eng_store_config cfg = tl_store_config(mode, UNIT, UNITS, EXTENT_UNITS);
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    static struct model md;
    memset(&md, 0, sizeof(md));
    uint8_t *b = malloc(UNIT);
    for (uint64_t u = 0; u < UNITS; u++) {
        fill_unit(b, 0, u);
        cr_assert_eq(eng_store_write(s, u, 1, b), 0);
    }
    free(b);
    eng_store_close(s);
    uint32_t seq = 1;
    int kills = 0, mid_rotation = 0;
    const int rounds = vmt_scaled(ROUNDS, ROUNDS_VALGRIND);
    for (int round = 0; round < rounds; round++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(pfd[0]);
            child(pfd[1], 0x9e3779b9u * (uint32_t)(round + 1) + (uint32_t)mode, seq);
        }
        close(pfd[1]);
        int strategy = round % 3;
        int k = 1 + (round * 7) % 13;
        unsigned delay = (unsigned)(round * 389) % 3000;
        int acks = 0, begins = 0, killed = 0;
        struct msg m, inflight, last_ack;
        int have_inflight = 0, have_ack = 0;
        while (read(pfd[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
            if (m.kind == MSG_BEGIN) {
                inflight = m;
                have_inflight = 1;
                begins++;
                if (m.op == OP_WRITE) {
                    for (uint64_t i = 0; i < m.count; i++) {
                        md.uncertain[m.unit + i] = 1;
                    }
                }
            } else {
                cr_assert(have_inflight && inflight.seq == m.seq);
                have_inflight = 0;
                last_ack = m;
                have_ack = 1;
                acks++;
                if (m.op == OP_WRITE) {
                    for (uint64_t i = 0; i < m.count; i++) {
                        md.seq[m.unit + i] = m.seq;
                        md.uncertain[m.unit + i] = 0;
                    }
                } else if (m.op == OP_REKEY) {
                    md.retired++;
                }
            }
            seq = m.seq + 1;
            if (killed) {
                continue; /* drain what the child wrote before it died */
            }
            int now = (strategy == 0 && m.kind == MSG_ACK && acks >= k) ||
                      (strategy == 1 && m.kind == MSG_BEGIN && m.op != OP_WRITE && begins > 1) ||
                      (strategy == 2 && m.kind == MSG_BEGIN && begins >= k) || acks >= 60;
            if (now) {
                if (strategy != 0 && delay > 0) {
                    usleep(delay);
                }
                mid_rotation += have_inflight && inflight.op != OP_WRITE;
                kill(pid, SIGKILL);
                killed = 1;
            }
        }
        close(pfd[0]);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %d: child ended on its own (status %d)", round, status);
        kills++;
        s = eng_store_open(store_dir, p, NULL);
        cr_assert_not_null(s, "round %d: reopen: %s", round, eng_error_name(eng_errno()));
        check_store(s, &md, have_inflight ? &inflight : NULL, have_ack ? &last_ack : NULL);
        eng_store_close(s);
    }
    cr_assert_geq(kills, vmt_scaled(100, 10));
    cr_assert_geq(mid_rotation, vmt_scaled(20, 2), "only %d kills landed during a rotation",
                  mid_rotation);
    eng_kek_provider_free(p);
    tl_rmtree(dir);
}

Test(crash, kill9_during_writes_and_rotations_xts, .timeout = 600)
{
    crash_rounds(ENG_MODE_XTS);
}

Test(crash, kill9_during_writes_and_rotations_gcm, .timeout = 600)
{
    crash_rounds(ENG_MODE_GCM);
}
