/*
 * comp_kat_check.c - what the set runner (comp_kat_rsp.c) and the Wycheproof
 * runner (comp_kat_wp.c) share: starting a run on one engine path, noting its
 * first failure, and checking that the engine refuses a GCM unit or zeroes an
 * output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_internal.h"

const uint8_t ck_empty[1];

void ck_note(struct comp_kat_result *out, unsigned long at, const char *fmt, ...)
{
    if (out->first_failure[0] != '\0') {
        return;
    }
    out->first_failure_at = at;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->first_failure, sizeof(out->first_failure), fmt, ap);
    va_end(ap);
    if (n <= 0) {
        snprintf(out->first_failure, sizeof(out->first_failure), "failure");
    }
}

int ck_tag_len_ok(size_t t)
{
    return t == 4 || t == 8 || (t >= 12 && t <= 16);
}

int ck_gcm_refuses(const struct eng_cipher *c, const uint8_t *in, size_t len, const uint8_t *iv,
                   size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *tag,
                   size_t tag_len, int want, char *why, size_t why_len)
{
    uint8_t *out = malloc(len + 1);
    if (out == NULL) {
        return -1;
    }
    uint8_t t[ENG_GCM_TAG_BYTES] = {0};
    if (tag_len > 0) {
        memcpy(t, tag, tag_len < sizeof(t) ? tag_len : sizeof(t));
    }
    struct eng_unit u = {
        .in = len ? in : ck_empty,
        .out = out,
        .len = len,
        .iv = iv_len ? iv : ck_empty,
        .iv_len = iv_len,
        .aad = aad_len ? aad : NULL,
        .aad_len = aad_len,
        .tag = t,
        .tag_len = (uint32_t)tag_len,
    };
    eng_clear_error();
    int rc = eng_cipher_batch(c, ENG_DECRYPT, &u, 1);
    free(out);
    if (rc == -1 && eng_errno() == want && u.status == want) {
        return 1;
    }
    snprintf(why, why_len, "expected %s, the engine returned %d (%s)", eng_error_name(want), rc,
             eng_error_name(rc == 0 ? ENG_OK : eng_errno()));
    return 0;
}

int ck_all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

int ck_start_run(struct run *r, enum eng_mode mode, enum eng_backend b, enum eng_arch a,
                 struct comp_kat_result *out)
{
    memset(out, 0, sizeof(*out));
    r->mode = mode;
    r->b = b;
    r->a = a;
    r->out = out;
    if (b == ENG_BACKEND_AUTO || a == ENG_ARCH_AUTO || !eng_backend_supports(b, mode, a)) {
        ck_note(out, 0, "back end %s does not run %s at %s", eng_backend_name(b),
                eng_mode_name(mode), eng_arch_name(a));
        return -1;
    }
    return 0;
}
