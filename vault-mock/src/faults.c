/*
 * faults.c - throttling windows, fault rules and statistics.
 */
#include "faults.h"

#include <errno.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const tc_names[VMOCK_TC_COUNT] = {"rsa2048", "rsa3072", "rsa4096", "hsm2048",
                                                     "hsm3072", "hsm4096", "create"};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    if (*s == '-' || *s == '\0') {
        return -1;
    }
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0)) {
        return -1;
    }
    *out = v;
    return 0;
}

/*
 * Split |spec| ("a=1,b=2") and call |fn| for each setting. Returns 0, or
 * -1 at the first item without '=' or the first |fn| failure (|e| set).
 */
static int each_setting(const char *spec,
                        int (*fn)(void *ctx, const char *name, const char *value,
                                  struct base_err *e),
                        void *ctx, struct base_err *e)
{
    char *copy = strdup(spec);
    if (copy == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            BASE_FAIL(e, BASE_ERR_ARG, "\"%s\" is not NAME=VALUE", item);
            rc = -1;
            break;
        }
        *eq = '\0';
        rc = fn(ctx, item, eq + 1, e);
    }
    free(copy);
    return rc;
}

void vmock_throttle_init(struct vmock_throttle *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    t->window_ms = 10000;
    t->limit[VMOCK_TC_RSA2048] = 4000;
    t->limit[VMOCK_TC_RSA3072] = 1000;
    t->limit[VMOCK_TC_RSA4096] = 500;
    t->limit[VMOCK_TC_HSM2048] = 2000;
    t->limit[VMOCK_TC_HSM3072] = 500;
    t->limit[VMOCK_TC_HSM4096] = 250;
    t->limit[VMOCK_TC_CREATE] = 0;
    t->identity_pct = VMOCK_IDENTITY_PCT_DEFAULT;
}

int vmock_throttle_identities(struct vmock_throttle *t, size_t n)
{
    struct vmock_tcount *ids = n > 0 ? calloc(n, sizeof(*ids)) : NULL;
    if (n > 0 && ids == NULL) {
        return -1;
    }
    pthread_mutex_lock(&t->mu);
    free(t->ids);
    t->ids = ids;
    t->n_ids = n;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void vmock_throttle_free(struct vmock_throttle *t)
{
    free(t->ids);
    t->ids = NULL;
    t->n_ids = 0;
}

static int throttle_set(void *ctx, const char *name, const char *value, struct base_err *e)
{
    struct vmock_throttle *t = ctx;
    unsigned v = 0;
    if (parse_uint(value, 100000000ul, &v) != 0) {
        BASE_FAIL(e, BASE_ERR_ARG, "throttle: \"%s\" is not a count for %s", value, name);
        return -1;
    }
    if (strcmp(name, "window_ms") == 0 && v > 0) {
        t->window_ms = v;
        return 0;
    }
    if (strcmp(name, "identity_pct") == 0) {
        if (v < 1 || v > 100) {
            BASE_FAIL(e, BASE_ERR_ARG, "throttle: identity_pct wants 1..100 (got %u)", v);
            return -1;
        }
        t->identity_pct = v;
        return 0;
    }
    for (int i = 0; i < VMOCK_TC_COUNT; i++) {
        if (strcmp(name, tc_names[i]) == 0) {
            t->limit[i] = v;
            return 0;
        }
    }
    BASE_FAIL(e, BASE_ERR_ARG, "throttle: unknown or invalid setting \"%s\"", name);
    return -1;
}

int vmock_throttle_parse(struct vmock_throttle *t, const char *spec, struct base_err *e)
{
    if (strcmp(spec, "off") == 0) {
        for (int i = 0; i < VMOCK_TC_COUNT; i++) {
            t->limit[i] = 0;
        }
        return 0;
    }
    return each_setting(spec, throttle_set, t, e);
}

int vmock_throttle_class(int bits, int hsm)
{
    int base = hsm ? VMOCK_TC_HSM2048 : VMOCK_TC_RSA2048;
    switch (bits) {
        case 2048:
            return base;
        case 3072:
            return base + 1;
        case 4096:
            return base + 2;
        default:
            return -1;
    }
}

/*
 * One window (start, count) against |limit| at |now|: a window opens with
 * the first counted operation and lasts window_ms. Returns 1 when full,
 * raising |*retry_ms| to the time until it ends.
 */
static int window_full(uint64_t *start, unsigned *count, unsigned limit, unsigned window_ms,
                       uint64_t now, uint64_t *retry_ms)
{
    if (*start == 0 || now - *start >= window_ms) {
        *start = now;
        *count = 0;
    }
    if (*count < limit) {
        return 0;
    }
    uint64_t left = *start + window_ms - now;
    if (left > *retry_ms) {
        *retry_ms = left;
    }
    return 1;
}

int vmock_throttle_take_for(struct vmock_throttle *t, int tc, long id, unsigned *retry_after_s)
{
    *retry_after_s = 0;
    if (tc < 0 || tc >= VMOCK_TC_COUNT) {
        return 0;
    }
    pthread_mutex_lock(&t->mu);
    if (t->limit[tc] == 0) {
        pthread_mutex_unlock(&t->mu);
        return 0;
    }
    uint64_t now = now_ms();
    uint64_t retry_ms = 0;
    int over = window_full(&t->window_start_ms[tc], &t->count[tc], t->limit[tc], t->window_ms, now,
                           &retry_ms);
    struct vmock_tcount *own = NULL;
    if (id >= 0 && (size_t)id < t->n_ids && t->identity_pct < 100) {
        own = &t->ids[id];
        /* the identity's share, rounded up: at least one operation per window */
        unsigned share = (unsigned)(((uint64_t)t->limit[tc] * t->identity_pct + 99) / 100);
        over |= window_full(&own->window_start_ms[tc], &own->count[tc], share, t->window_ms, now,
                            &retry_ms);
    }
    if (!over) {
        t->count[tc]++;
        if (own != NULL) {
            own->count[tc]++;
        }
    } else {
        *retry_after_s = (unsigned)((retry_ms + 999) / 1000);
        if (*retry_after_s == 0) {
            *retry_after_s = 1;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return over;
}

int vmock_throttle_take(struct vmock_throttle *t, int tc, unsigned *retry_after_s)
{
    return vmock_throttle_take_for(t, tc, -1, retry_after_s);
}

cJSON *vmock_throttle_json(struct vmock_throttle *t)
{
    cJSON *o = cJSON_CreateObject();
    pthread_mutex_lock(&t->mu);
    cJSON_AddNumberToObject(o, "window_ms", t->window_ms);
    for (int i = 0; i < VMOCK_TC_COUNT; i++) {
        cJSON_AddNumberToObject(o, tc_names[i], t->limit[i]);
    }
    cJSON_AddNumberToObject(o, "identity_pct", t->identity_pct);
    pthread_mutex_unlock(&t->mu);
    return o;
}

void vmock_faults_init(struct vmock_faults *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
}

static void rule_defaults(struct vmock_fault *r)
{
    memset(r, 0, sizeof(*r));
    r->op = -1;
    r->status = 503;
    r->retry_after_s = 1;
}

static int rule_check(const struct vmock_fault *r, struct base_err *e)
{
    if (r->status < 500 || r->status > 599) {
        BASE_FAIL(e, BASE_ERR_ARG, "fault: status must be 500..599");
        return -1;
    }
    if (r->error_rate + r->throttle_rate + r->drop_rate > 1.0 + 1e-9) {
        BASE_FAIL(e, BASE_ERR_ARG,
                  "fault: error_rate + throttle_rate + drop_rate must not exceed 1");
        return -1;
    }
    return 0;
}

/* Apply one NAME=VALUE setting to |r|. */
static int rule_set(void *ctx, const char *name, const char *value, struct base_err *e)
{
    struct vmock_fault *r = ctx;
    int rc = 0;
    if (strcmp(name, "op") == 0) {
        if (strcmp(value, "*") == 0 || strcmp(value, "all") == 0) {
            r->op = -1;
        } else {
            r->op = vmock_op_parse(value);
            rc = r->op < 0 || r->op == VMOCK_OP_ADMIN || r->op == VMOCK_OP_UNKNOWN ? -1 : 0;
        }
    } else if (strcmp(name, "latency_ms") == 0) {
        rc = parse_uint(value, 60000, &r->latency_ms);
    } else if (strcmp(name, "jitter_ms") == 0) {
        rc = parse_uint(value, 60000, &r->jitter_ms);
    } else if (strcmp(name, "status") == 0) {
        rc = parse_uint(value, 999, &r->status);
    } else if (strcmp(name, "retry_after") == 0) {
        rc = parse_uint(value, 3600, &r->retry_after_s);
    } else if (strcmp(name, "error_rate") == 0) {
        rc = parse_rate(value, &r->error_rate);
    } else if (strcmp(name, "throttle_rate") == 0) {
        rc = parse_rate(value, &r->throttle_rate);
    } else if (strcmp(name, "drop_rate") == 0) {
        rc = parse_rate(value, &r->drop_rate);
    } else if (strcmp(name, "fail_save") == 0) {
        rc = parse_uint(value, 1, &r->fail_save);
    } else if (strcmp(name, "fail_audit") == 0) {
        rc = parse_uint(value, 1, &r->fail_audit);
    } else {
        BASE_FAIL(e, BASE_ERR_ARG, "fault: unknown setting \"%s\"", name);
        return -1;
    }
    if (rc != 0) {
        BASE_FAIL(e, BASE_ERR_ARG, "fault: invalid value \"%s\" for %s", value, name);
    }
    return rc;
}

int vmock_fault_parse(struct vmock_fault *rule, const char *spec, struct base_err *e)
{
    rule_defaults(rule);
    if (each_setting(spec, rule_set, rule, e) != 0) {
        return -1;
    }
    return rule_check(rule, e);
}

int vmock_fault_from_json(struct vmock_fault *rule, const cJSON *o, struct base_err *e)
{
    rule_defaults(rule);
    if (!cJSON_IsObject(o)) {
        BASE_FAIL(e, BASE_ERR_ARG, "fault: each rule must be an object");
        return -1;
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, o)
    {
        char value[64];
        if (cJSON_IsString(it)) {
            snprintf(value, sizeof(value), "%s", it->valuestring);
        } else if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) {
            snprintf(value, sizeof(value), "%.17g", it->valuedouble);
        } else {
            BASE_FAIL(e, BASE_ERR_ARG, "fault: %s must be a string or a number", it->string);
            return -1;
        }
        if (rule_set(rule, it->string, value, e) != 0) {
            return -1;
        }
    }
    return rule_check(rule, e);
}

int vmock_faults_add(struct vmock_faults *f, const struct vmock_fault *rule)
{
    pthread_mutex_lock(&f->mu);
    int rc = -1;
    if (f->n_rules < VMOCK_MAX_FAULTS) {
        f->rules[f->n_rules++] = *rule;
        rc = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int vmock_faults_set(struct vmock_faults *f, const struct vmock_fault *rules, size_t n)
{
    if (n > VMOCK_MAX_FAULTS) {
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    if (n > 0) {
        memcpy(f->rules, rules, n * sizeof(*rules));
    }
    f->n_rules = n;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

cJSON *vmock_faults_json(struct vmock_faults *f)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; arr != NULL && i < f->n_rules; i++) {
        const struct vmock_fault *r = &f->rules[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "op", r->op < 0 ? "*" : vmock_op_name((enum vmock_op)r->op));
        cJSON_AddNumberToObject(o, "latency_ms", r->latency_ms);
        cJSON_AddNumberToObject(o, "jitter_ms", r->jitter_ms);
        cJSON_AddNumberToObject(o, "error_rate", r->error_rate);
        cJSON_AddNumberToObject(o, "status", r->status);
        cJSON_AddNumberToObject(o, "throttle_rate", r->throttle_rate);
        cJSON_AddNumberToObject(o, "drop_rate", r->drop_rate);
        cJSON_AddNumberToObject(o, "retry_after", r->retry_after_s);
        cJSON_AddNumberToObject(o, "fail_save", r->fail_save);
        cJSON_AddNumberToObject(o, "fail_audit", r->fail_audit);
    }
    pthread_mutex_unlock(&f->mu);
    return arr;
}

/* Per-thread xorshift64* seeded from the OpenSSL generator: fast draws for fault rates. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t s;
    while (s == 0) {
        if (RAND_bytes((unsigned char *)&s, sizeof(s)) != 1) {
            s = (uint64_t)time(NULL) | 1u;
        }
    }
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
}

static double uniform(void)
{
    return (double)(next_random() >> 11) / 9007199254740992.0;
}

void vmock_faults_decide(struct vmock_faults *f, enum vmock_op op, struct vmock_fault_decision *d)
{
    memset(d, 0, sizeof(*d));
    struct vmock_fault rule;
    memset(&rule, 0, sizeof(rule));
    int found = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_rules; i++) {
        const struct vmock_fault *r = &f->rules[i];
        if (r->op == (int)op || (r->op < 0 && (found == 0 || rule.op < 0))) {
            rule = *r;
            found = 1;
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (!found) {
        return;
    }
    uint64_t delay = (uint64_t)rule.latency_ms * 1000u;
    if (rule.jitter_ms > 0) {
        delay += next_random() % ((uint64_t)rule.jitter_ms * 1000u + 1u);
    }
    d->delay_us = (unsigned)delay;
    d->retry_after_s = rule.retry_after_s;
    d->fail_save = rule.fail_save != 0;
    d->fail_audit = rule.fail_audit != 0;
    double u = uniform();
    if (u < rule.drop_rate) {
        d->action = VMOCK_FAULT_DROP;
    } else if (u < rule.drop_rate + rule.error_rate) {
        d->action = VMOCK_FAULT_ERROR;
        d->status = rule.status;
    } else if (u < rule.drop_rate + rule.error_rate + rule.throttle_rate) {
        d->action = VMOCK_FAULT_THROTTLE;
    }
}

cJSON *vmock_stats_json(struct vmock_stats *s, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ops = cJSON_AddObjectToObject(o, "operations");
    uint64_t total = 0;
    for (int i = 0; ops != NULL && i < VMOCK_OP_COUNT; i++) {
        uint64_t n = atomic_load(&s->requests[i]);
        total += n;
        if (n == 0) {
            continue;
        }
        cJSON *e = cJSON_AddObjectToObject(ops, vmock_op_name((enum vmock_op)i));
        cJSON_AddNumberToObject(e, "requests", (double)n);
        cJSON_AddNumberToObject(e, "errors", (double)atomic_load(&s->errors[i]));
    }
    cJSON_AddNumberToObject(o, "requests", (double)total);
    cJSON *st = cJSON_AddObjectToObject(o, "status");
    for (int i = 1; st != NULL && i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "%dxx", i);
        cJSON_AddNumberToObject(st, name, (double)atomic_load(&s->status_class[i]));
    }
    cJSON_AddNumberToObject(o, "throttled", (double)atomic_load(&s->throttled));
    cJSON_AddNumberToObject(o, "request_timeouts", (double)atomic_load(&s->requests_cut));
    cJSON *co = cJSON_AddObjectToObject(o, "connections");
    cJSON_AddNumberToObject(co, "open", (double)atomic_load(&s->conns_open));
    cJSON_AddNumberToObject(co, "peak", (double)atomic_load(&s->conns_peak));
    cJSON_AddNumberToObject(co, "evicted", (double)atomic_load(&s->conns_evicted));
    cJSON *fa = cJSON_AddObjectToObject(o, "faults");
    cJSON_AddNumberToObject(fa, "errors", (double)atomic_load(&s->faults_error));
    cJSON_AddNumberToObject(fa, "throttles", (double)atomic_load(&s->faults_throttle));
    cJSON_AddNumberToObject(fa, "drops", (double)atomic_load(&s->faults_drop));
    cJSON_AddNumberToObject(fa, "delayed", (double)atomic_load(&s->faults_delayed));
    cJSON_AddNumberToObject(o, "uptime_s", (double)(now - s->started));
    return o;
}
