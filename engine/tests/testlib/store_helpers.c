/* store_helpers.c - see store_helpers.h. */
#include "store_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error_internal.h"

int tl_write_key_file(const char *path, const uint8_t kek[32])
{
    /* "CMKSMK01" | key id 16 | u32 n | {id 16 | enabled | u64 created | key 32} | SHA-256 */
    uint8_t buf[8 + 16 + 4 + 16 + 1 + 8 + 32 + 32];
    size_t o = 0;
    memcpy(buf, "CMKSMK01", 8);
    o += 8;
    memset(buf + o, 0x11, 16);
    o += 16;
    const uint8_t one[4] = {0, 0, 0, 1};
    memcpy(buf + o, one, 4);
    o += 4;
    memset(buf + o, 0x22, 16);
    o += 16;
    buf[o++] = 1;
    memset(buf + o, 0, 8);
    o += 8;
    memcpy(buf + o, kek, 32);
    o += 32;
    SHA256(buf, o, buf + o);
    o += 32;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return -1;
    }
    int ok = write(fd, buf, o) == (ssize_t)o;
    close(fd);
    return ok ? 0 : -1;
}

static int sw_get(void *state, const char *version, struct eng_kek_ref *out)
{
    struct tl_switch *sw = state;
    sw->gets++;
    if (sw->fail_code != 0) {
        /* what a provider must do: record why it failed */
        eng_set_error_at(sw->fail_code, "tl_switch");
        return -1;
    }
    return sw->inner->get(sw->inner->state, version, out);
}

static int sw_wrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                   size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    struct tl_switch *sw = state;
    if (sw->fail_all) {
        eng_set_error_at(sw->fail_code, "tl_switch");
        return -1;
    }
    return sw->inner->wrap(sw->inner->state, kek, out, out_len, max_out_len, dek, dek_len);
}

static int sw_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                     size_t max_out_len, const uint8_t *in, size_t in_len)
{
    struct tl_switch *sw = state;
    if (sw->fail_all) {
        eng_set_error_at(sw->fail_code, "tl_switch");
        return -1;
    }
    return sw->inner->unwrap(sw->inner->state, kek, out, out_len, max_out_len, in, in_len);
}

static int sw_describe(void *state, const char *version, struct eng_kek_ref *out)
{
    struct tl_switch *sw = state;
    return sw->inner->describe(sw->inner->state, version, out);
}

static void sw_free(void *state)
{
    struct tl_switch *sw = state;
    eng_kek_provider_free(sw->inner);
    sw->inner = NULL;
}

struct eng_kek_provider *tl_switch_provider(struct tl_switch *sw, struct eng_kek_provider *inner)
{
    struct eng_kek_provider *p = calloc(1, sizeof(*p));
    if (p == NULL || inner == NULL) {
        free(p);
        return NULL;
    }
    memset(sw, 0, sizeof(*sw));
    sw->inner = inner;
    p->name = inner->name;
    p->state = sw;
    p->get = sw_get;
    p->wrap = sw_wrap;
    p->unwrap = sw_unwrap;
    p->describe = sw_describe;
    p->free = sw_free;
    return p;
}

struct eng_store_config tl_store_config(enum eng_mode mode, uint32_t unit_size, uint64_t num_units,
                                        uint32_t extent_units)
{
    struct eng_store_config c;
    eng_store_config_init(&c);
    c.mode = mode;
    c.unit_size = unit_size;
    c.num_units = num_units;
    c.extent_units = extent_units;
    return c;
}

uint8_t *tl_random_buf(size_t len)
{
    uint8_t *b = malloc(len > 0 ? len : 1);
    cr_assert_not_null(b);
    cr_assert_eq(RAND_bytes(b, (int)len), 1);
    return b;
}
