/*
 * faults.h - service-like throttling, fault injection and request
 * statistics.
 *
 * Throttling: per-vault limits per window (10 s like the service) for each
 * RSA size and protection (software or HSM) on crypto operations, plus an
 * optional limit on creates; answered with 429 Throttled and Retry-After.
 * Next to each vault-wide limit every identity has its own, a share of it
 * (identity_pct, default 50 %), counted in its own window, so that one
 * token holder cannot use up the vault's limit and starve the others.
 *
 * Faults: rules per operation (or "*" for all), from --fault flags or the
 * admin endpoint: added latency (fixed plus uniform jitter), a rate of
 * 5xx answers, a rate of forced 429s, a rate of dropped connections; and,
 * for tests of all-or-nothing changes, a failed state save (fail_save=1,
 * as if the disk were full) or a failed audit line for the change
 * (fail_audit=1) on every change of the rule's operation.
 */
#ifndef VMOCK_FAULTS_H
#define VMOCK_FAULTS_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base_err.h"
#include "ops.h"

enum vmock_tclass {
    VMOCK_TC_RSA2048 = 0,
    VMOCK_TC_RSA3072,
    VMOCK_TC_RSA4096,
    VMOCK_TC_HSM2048,
    VMOCK_TC_HSM3072,
    VMOCK_TC_HSM4096,
    VMOCK_TC_CREATE,
    VMOCK_TC_COUNT,
};

/* One identity's windows. */
struct vmock_tcount {
    uint64_t window_start_ms[VMOCK_TC_COUNT]; /* 0: no window open */
    unsigned count[VMOCK_TC_COUNT];
};

#define VMOCK_IDENTITY_PCT_DEFAULT 50

struct vmock_throttle {
    pthread_mutex_t mu;
    unsigned window_ms;
    unsigned limit[VMOCK_TC_COUNT];           /* 0 = unlimited */
    uint64_t window_start_ms[VMOCK_TC_COUNT]; /* 0: no window open */
    unsigned count[VMOCK_TC_COUNT];
    unsigned identity_pct;    /* an identity's share of each limit, 1..100 (100: none of its own) */
    struct vmock_tcount *ids; /* per identity (index in the policy), or NULL */
    size_t n_ids;
};

#define VMOCK_MAX_FAULTS 32

struct vmock_fault {
    int op; /* enum vmock_op, or -1 for every operation */
    unsigned latency_ms;
    unsigned jitter_ms;
    double error_rate;
    unsigned status; /* 500..599 for error_rate answers */
    double throttle_rate;
    double drop_rate;
    unsigned retry_after_s;
    unsigned fail_save;  /* 1: saving vault.json fails with ENOSPC */
    unsigned fail_audit; /* 1: the change's audit line cannot be written */
};

struct vmock_faults {
    pthread_mutex_t mu;
    struct vmock_fault rules[VMOCK_MAX_FAULTS];
    size_t n_rules;
};

enum vmock_fault_action {
    VMOCK_FAULT_NONE = 0,
    VMOCK_FAULT_ERROR,
    VMOCK_FAULT_THROTTLE,
    VMOCK_FAULT_DROP,
};

struct vmock_fault_decision {
    unsigned delay_us;
    enum vmock_fault_action action;
    unsigned status;
    unsigned retry_after_s;
    int fail_save;
    int fail_audit;
};

struct vmock_stats {
    _Atomic uint64_t requests[VMOCK_OP_COUNT];
    _Atomic uint64_t errors[VMOCK_OP_COUNT];
    _Atomic uint64_t throttled;
    _Atomic uint64_t faults_error;
    _Atomic uint64_t faults_throttle;
    _Atomic uint64_t faults_drop;
    _Atomic uint64_t faults_delayed;
    _Atomic uint64_t status_class[6]; /* index status / 100 */
    _Atomic uint64_t requests_cut;    /* ended by the request deadline */
    _Atomic uint64_t conns_open;      /* connections libmicrohttpd holds now */
    _Atomic uint64_t conns_peak;      /* the most it held at once */
    _Atomic uint64_t conns_evicted;   /* closed at the limit before their first request line */
    int64_t started;
};

/* vmock_throttle_init sets the service's defaults (software 4000/1000/500, HSM 2000/500/250 per 10
 * s; creates unlimited; each identity up to 50 % of each). */
void vmock_throttle_init(struct vmock_throttle *t);
/*
 * vmock_throttle_identities makes room for the own windows of |n|
 * identities (indexes 0..n-1 of vmock_throttle_take_for). Returns 0 or -1
 * when out of memory.
 */
int vmock_throttle_identities(struct vmock_throttle *t, size_t n);
/* vmock_throttle_free frees the identities' windows. */
void vmock_throttle_free(struct vmock_throttle *t);
/*
 * vmock_throttle_parse applies |spec| ("off", or comma-separated
 * rsa2048=N, rsa3072=N, rsa4096=N, hsm2048=N, hsm3072=N, hsm4096=N,
 * create=N, window_ms=N; 0 = unlimited; identity_pct=P, 1..100, an
 * identity's share of each limit, 100 = no limit of its own). Returns 0,
 * or -1 with |e|.
 */
int vmock_throttle_parse(struct vmock_throttle *t, const char *spec, struct base_err *e);
/* vmock_throttle_class returns the class of a key of |bits|, HSM or not; -1 for other sizes. */
int vmock_throttle_class(int bits, int hsm);
/*
 * vmock_throttle_take counts one operation of class |tc| against the current
 * window. Returns 0 when allowed, 1 when over the limit (not counted) with
 * the seconds until the window ends in |*retry_after_s|.
 */
int vmock_throttle_take(struct vmock_throttle *t, int tc, unsigned *retry_after_s);
/*
 * vmock_throttle_take_for is vmock_throttle_take for identity |id| (its
 * index in the policy; -1 or unknown: the vault-wide limit only): the
 * operation must fit both the vault's limit and the identity's share, and
 * is counted in both only when it does.
 */
int vmock_throttle_take_for(struct vmock_throttle *t, int tc, long id, unsigned *retry_after_s);
/* vmock_throttle_json describes the limits (caller owns the object). */
cJSON *vmock_throttle_json(struct vmock_throttle *t);

/* vmock_faults_init starts with no rules. */
void vmock_faults_init(struct vmock_faults *f);
/*
 * vmock_fault_parse reads one rule from |spec|: comma-separated op=NAME|*,
 * latency_ms, jitter_ms, error_rate, status, throttle_rate, drop_rate,
 * retry_after, fail_save (0|1), fail_audit (0|1). Returns 0, or -1 with |e|.
 */
int vmock_fault_parse(struct vmock_fault *rule, const char *spec, struct base_err *e);
/* vmock_fault_from_json reads one rule from a JSON object with the same member names. */
int vmock_fault_from_json(struct vmock_fault *rule, const cJSON *o, struct base_err *e);
/* vmock_faults_add appends a rule (a later rule for the same op wins). Returns 0 or -1 when full.
 */
int vmock_faults_add(struct vmock_faults *f, const struct vmock_fault *rule);
/* vmock_faults_set replaces all rules with |n| rules. Returns 0 or -1 when too many. */
int vmock_faults_set(struct vmock_faults *f, const struct vmock_fault *rules, size_t n);
/* vmock_faults_json lists the rules (caller owns the array). */
cJSON *vmock_faults_json(struct vmock_faults *f);
/*
 * vmock_faults_decide draws the fate of one request of |op| from the rule
 * that applies (the op's own, else "*"). Thread-safe.
 */
void vmock_faults_decide(struct vmock_faults *f, enum vmock_op op, struct vmock_fault_decision *d);

/* vmock_stats_json renders the counters (caller owns the object). */
cJSON *vmock_stats_json(struct vmock_stats *s, int64_t now);

#endif /* VMOCK_FAULTS_H */
