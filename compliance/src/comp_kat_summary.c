/*
 * comp_kat_summary.c - the names of the skip and refusal reasons, and one
 * run's counts in words (comp_kat_summary).
 */
#include <stdarg.h>
#include <stdio.h>

#include "comp_kat.h"

static const char *const skip_reasons[COMP_SKIP_COUNT] = {"key not 256 bits",
                                                          "GCM IV not 96 bits",
                                                          "GCM tag length not allowed",
                                                          "XTS data unit not whole bytes",
                                                          "XTS key halves equal",
                                                          "XTS key not 512 bits (not AES-256-XTS)",
                                                          "XTS tweak longer than 128 bits"};
static const char *const reject_names[COMP_REJECT_COUNT] = {"ENG_ERR_AUTH", "ENG_ERR_KEY_LEN",
                                                            "ENG_ERR_NONCE_LEN", "ENG_ERR_TAG_LEN"};

const char *comp_skip_reason(enum comp_skip s)
{
    return (s >= 0 && s < COMP_SKIP_COUNT) ? skip_reasons[s] : "unknown";
}

unsigned long comp_kat_key_ran(const struct comp_kat_result *r)
{
    if (r == NULL) {
        return 0;
    }
    unsigned long other_key =
        r->skipped_by[COMP_SKIP_KEY_SIZE] + r->skipped_by[COMP_SKIP_XTS_KEY_SIZE];
    unsigned long own_skipped = r->skipped > other_key ? r->skipped - other_key : 0;
    return r->key_cases > own_skipped ? r->key_cases - own_skipped : 0;
}

const char *comp_reject_name(enum comp_reject r)
{
    return (r >= 0 && r < COMP_REJECT_COUNT) ? reject_names[r] : "unknown";
}

struct sbuf {
    char *p;
    size_t cap;
    size_t len;
};

static void add(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct sbuf *s, const char *fmt, ...)
{
    if (s->len >= s->cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        s->len += (size_t)n;
    }
}

void comp_kat_summary(const struct comp_kat_result *r, char *out, size_t max_out_len)
{
    if (out == NULL || max_out_len == 0) {
        return;
    }
    out[0] = '\0';
    if (r == NULL) {
        return;
    }
    struct sbuf s = {out, max_out_len, 0};
    add(&s, "%lu passed", r->passed);
    unsigned long refused = 0;
    for (int i = 0; i < COMP_REJECT_COUNT; i++) {
        refused += r->rejected_by[i];
    }
    if (refused > 0) {
        add(&s, " (%lu refused as required:", refused);
        for (int i = 0; i < COMP_REJECT_COUNT; i++) {
            if (r->rejected_by[i] > 0) {
                add(&s, " %lu %s", r->rejected_by[i], reject_names[i]);
            }
        }
        add(&s, ")");
    }
    add(&s, ", %lu failed, %lu skipped", r->failed, r->skipped);
    if (r->skipped > 0) {
        const char *sep = " (";
        for (int i = 0; i < COMP_SKIP_COUNT; i++) {
            if (r->skipped_by[i] > 0) {
                add(&s, "%s%lu %s", sep, r->skipped_by[i], skip_reasons[i]);
                sep = ", ";
            }
        }
        add(&s, ")");
    }
    if (r->acceptable > 0) {
        add(&s, ", %lu acceptable (%lu of them refused)", r->acceptable, r->acceptable_rejected);
    }
    if (r->key_cases > 0) {
        add(&s, "; %lu of %lu AES-256 cases ran", comp_kat_key_ran(r), r->key_cases);
    }
    add(&s, "; %lu units in %lu batches", r->units, r->batches);
    if (r->failed > 0) {
        add(&s, "; first failure: %s", r->first_failure);
    }
}
