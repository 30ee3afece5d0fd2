/*
 * kind_ceiling.c - the AES ceiling cells: plain AES-256 over 8 streams at
 * every vector width this CPU has within ENG_ARCH (the kernels are in
 * ceiling.c), in the XTS groups beside the cipher cells they bound.
 */
#include <cjson/cJSON.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct ceiling_state {
    struct bench_units u;                /* first (bench_cipher_state_new) */
    uint8_t (*rk[BENCH_KEY_COPIES])[64]; /* 15 random round keys, broadcast */
};

static void ceiling_plan(struct bench_plan *pl, const struct bench_cell *base)
{
    /* the AES ceiling at every width this CPU has (XTS groups: the native bars) */
    static const int widths[] = {128, 256, 512};
    for (size_t w = 0; base->mode == ENG_MODE_XTS && w < 3; w++) {
        if (bench_ceiling_supported(widths[w])) {
            struct bench_cell c = *base;
            c.width_bits = widths[w];
            bench_plan_add(pl, &bench_kind_ceiling, c);
        }
    }
}

static void ceiling_describe(const struct bench_cell *c, char *out, size_t max)
{
    snprintf(out, max, "ceiling aes256 %s 8 streams", bench_ceiling_width_name(c->width_bits));
}

static int ceiling_prepare(struct bench_cell *c, int t, struct base_err *e)
{
    struct ceiling_state *s = bench_cipher_state_new(c, t, sizeof(*s), e);
    if (s == NULL) {
        return -1;
    }
    c->ran_backend = c->backend;
    c->ran_arch = ENG_ARCH_AUTO;
    if (!bench_ceiling_supported(c->width_bits) ||
        (c->batch * c->unit_bytes) % bench_ceiling_chunk(c->width_bits) != 0) {
        return base_err_set(e, BENCH_ERR_CPU, BASE_HERE,
                            "the CPU lacks this width, or the batch is not a whole number of its "
                            "steps");
    }
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        s->rk[k] = bench_key_place(15 * 64);
        uint8_t rk[15][16];
        if (s->rk[k] == NULL || RAND_bytes(&rk[0][0], sizeof(rk)) != 1) {
            return base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "random generator failed");
        }
        for (int r = 0; r < 15; r++) {
            for (int l = 0; l < 4; l++) {
                memcpy(&s->rk[k][r][16 * l], rk[r], 16);
            }
        }
    }
    return 0;
}

static int ceiling_run(struct bench_cell *c, int t)
{
    struct ceiling_state *s = c->state[t];
    return bench_ceiling_run(c->width_bits, c->dir == ENG_DECRYPT,
                             (const uint8_t(*)[64])s->rk[bench_key_copy(c)], s->u.in, s->u.out,
                             c->batch * c->unit_bytes);
}

static void ceiling_release(struct bench_cell *c, int t)
{
    struct ceiling_state *s = c->state[t];
    for (size_t k = 0; k < BENCH_KEY_COPIES; k++) {
        bench_key_unplace(s->rk[k]);
    }
    bench_cipher_state_free(s);
}

/* JSON: backend "ceiling" at arch "xmm" | "ymm" | "zmm". */
static const char *ceiling_json_kind(const struct bench_cell *c)
{
    (void)c;
    return "ceiling";
}

static const char *ceiling_json_arch(const struct bench_cell *c)
{
    return bench_ceiling_width_name(c->width_bits);
}

static void ceiling_write_json(cJSON *r, const struct bench_cell *c)
{
    cJSON_AddNumberToObject(r, "width_bits", c->width_bits);
    cJSON_AddNumberToObject(r, "streams", BENCH_CEILING_STREAMS);
    cJSON_AddBoolToObject(r, "widest", c->width_bits == bench_ceiling_widest());
}

const struct bench_kind_ops bench_kind_ceiling = {
    .id = BENCH_KIND_CEILING,
    .name = "ceiling",
    .plan = ceiling_plan,
    .describe = ceiling_describe,
    .prepare = ceiling_prepare,
    .run = ceiling_run,
    .release = ceiling_release,
    .json_kind = ceiling_json_kind,
    .json_backend = ceiling_json_kind,
    .json_arch = ceiling_json_arch,
    .write_json = ceiling_write_json,
};
