/* store_helpers.c - see store_helpers.h. */
#include <fcntl.h>
#include <ftw.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base_codec.h"
#include "error_internal.h"
#include "store_helpers.h"

void tl_tmpdir(char *out, size_t max_out_len)
{
    char tmpl[] = "/tmp/cmk-test-XXXXXX";
    if (mkdtemp(tmpl) == NULL || (size_t)snprintf(out, max_out_len, "%s", tmpl) >= max_out_len) {
        abort();
    }
}

int tl_cmk_path(const char *compiled_default, char *out, size_t max_out_len)
{
    const char *bin = getenv("CMK_BIN") != NULL ? getenv("CMK_BIN") : compiled_default;
    char cwd[512];
    if (bin[0] == '/') {
        return (size_t)snprintf(out, max_out_len, "%s", bin) < max_out_len ? 0 : -1;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return -1;
    }
    return (size_t)snprintf(out, max_out_len, "%s/%s", cwd, bin) < max_out_len ? 0 : -1;
}

int tl_cmk_run(const char *compiled_default, const char *dir, const char *fmt, ...)
{
    char args[2048], cmd[4096], bin[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(args) ||
        tl_cmk_path(compiled_default, bin, sizeof(bin)) != 0) {
        return -1;
    }
    n = snprintf(cmd, sizeof(cmd), "cd %s && %s %s >stdout 2>stderr", dir, bin, args);
    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        return -1;
    }
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tl_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tl_path(char *out, size_t max_out_len, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, max_out_len, "%s/%s", dir, name) >= max_out_len) {
        abort();
    }
}

uint8_t *tl_read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096;
    size_t len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *out_len = len;
    return buf;
}

int tl_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    int ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int tl_flip_bit(const char *path, uint64_t off, int bit)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        return -1;
    }
    uint8_t b;
    int ok = pread(fd, &b, 1, (off_t)off) == 1;
    b ^= (uint8_t)(1u << bit);
    ok = ok && pwrite(fd, &b, 1, (off_t)off) == 1;
    close(fd);
    return ok ? 0 : -1;
}

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

/* The hex value that ends the line at |s|, into |out|: its length, 0 if it is not hex or too long. */
static size_t unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    return base_hex_decode(s, strcspn(s, "\r\n"), out, max, &n, NULL, NULL) == 0 ? n : 0;
}

int tl_kw_vectors(const char *path, struct tl_kw_vector *out, int max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[2048];
    int n = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "COUNT = ", 8) == 0) {
            if (n + 1 >= max) {
                break;
            }
            n++;
            memset(&out[n], 0, sizeof(out[n]));
        } else if (n < 0) {
            continue;
        } else if (strncmp(line, "K = ", 4) == 0) {
            unhex(line + 4, out[n].k, sizeof(out[n].k));
        } else if (strncmp(line, "P = ", 4) == 0) {
            out[n].p_len = unhex(line + 4, out[n].p, sizeof(out[n].p));
        } else if (strncmp(line, "C = ", 4) == 0) {
            out[n].c_len = unhex(line + 4, out[n].c, sizeof(out[n].c));
        } else if (strncmp(line, "FAIL", 4) == 0) {
            out[n].fail = 1;
        }
    }
    fclose(f);
    return n + 1;
}
