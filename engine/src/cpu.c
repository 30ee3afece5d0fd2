/*
 * cpu.c - CPUID/XGETBV feature detection, the ENG_ARCH cap and the arch
 * names (eng_arch_name, eng_arch_from_name, declared in eng_cipher.h).
 *
 * A feature counts only when the CPU has it and the OS saves the register
 * state it needs (XCR0), as valgrind and some hypervisors hide AVX-512.
 */
#include <cpuid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eng_cpu.h"
#include "error_internal.h"

static const char *const arch_names[ENG_ARCH_COUNT] = {"auto", "noaesni",   "sse",   "avx",
                                                       "avx2", "vaes-avx2", "avx512"};

static struct eng_cpu_features feat;
static pthread_once_t feat_once = PTHREAD_ONCE_INIT;

const char *eng_arch_name(enum eng_arch a)
{
    return (a >= 0 && a < ENG_ARCH_COUNT) ? arch_names[a] : "unknown";
}

int eng_arch_from_name(const char *name, enum eng_arch *out)
{
    ENG_ENSURE_REF(out);
    for (int i = 0; name != NULL && i < ENG_ARCH_COUNT; i++) {
        if (strcasecmp(name, arch_names[i]) == 0) {
            *out = (enum eng_arch)i;
            return 0;
        }
    }
    ENG_BAIL(ENG_ERR_ARCH);
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) {
        return;
    }
    feat.aesni = (c >> 25) & 1;
    feat.pclmul = (c >> 1) & 1;
    feat.sse41 = (c >> 19) & 1;
    int osxsave = (c >> 27) & 1;
    int cpu_avx = (c >> 28) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int os_ymm = (xcr0 & 0x6) == 0x6;
    int os_zmm = (xcr0 & 0xe6) == 0xe6;
    feat.avx = cpu_avx && os_ymm;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        feat.avx2 = feat.avx && ((b >> 5) & 1);
        feat.avx512f = os_zmm && ((b >> 16) & 1);
        feat.avx512bw = os_zmm && ((b >> 30) & 1);
        feat.avx512vl = os_zmm && ((b >> 31) & 1);
        feat.vaes = feat.avx && ((c >> 9) & 1);
        feat.vpclmulqdq = feat.avx && ((c >> 10) & 1);
    }
}

const struct eng_cpu_features *eng_cpu_features(void)
{
    pthread_once(&feat_once, detect);
    return &feat;
}

enum eng_arch eng_cpu_arch_of(const struct eng_cpu_features *f)
{
    if (f == NULL) {
        return ENG_ARCH_NOAESNI;
    }
    if (!(f->aesni && f->pclmul && f->sse41)) {
        return ENG_ARCH_NOAESNI;
    }
    if (!f->avx) {
        return ENG_ARCH_SSE;
    }
    if (!f->avx2) {
        return ENG_ARCH_AVX;
    }
    if (f->avx512f && f->avx512bw && f->avx512vl && f->vaes && f->vpclmulqdq) {
        return ENG_ARCH_AVX512;
    }
    if (f->vaes && f->vpclmulqdq) {
        return ENG_ARCH_VAES_AVX2;
    }
    return ENG_ARCH_AVX2;
}

enum eng_arch eng_cpu_best_arch(void)
{
    return eng_cpu_arch_of(eng_cpu_features());
}

int eng_arch_effective(enum eng_arch requested, enum eng_arch *out)
{
    ENG_ENSURE_REF(out);
    ENG_ENSURE(requested >= ENG_ARCH_AUTO && requested < ENG_ARCH_COUNT, ENG_ERR_ARCH);
    enum eng_arch best = eng_cpu_best_arch();
    enum eng_arch cap = best;
    const char *env = getenv("ENG_ARCH");
    if (env != NULL && *env != '\0') {
        enum eng_arch e;
        if (eng_arch_from_name(env, &e) != 0) {
            ENG_BAIL(ENG_ERR_ENV);
        }
        if (e != ENG_ARCH_AUTO && e < cap) {
            cap = e;
        }
    }
    if (requested == ENG_ARCH_AUTO) {
        *out = cap;
        return 0;
    }
    ENG_ENSURE(requested <= best, ENG_ERR_CPU);
    *out = requested;
    return 0;
}

void eng_cpu_flags_string(char *out, size_t max_out_len)
{
    if (out == NULL || max_out_len == 0) {
        return;
    }
    const struct eng_cpu_features *f = eng_cpu_features();
    snprintf(out, max_out_len, "%s%s%s%s%s%s%s%s%s%s", f->aesni ? "aesni " : "",
             f->pclmul ? "pclmulqdq " : "", f->sse41 ? "sse4.1 " : "", f->avx ? "avx " : "",
             f->avx2 ? "avx2 " : "", f->avx512f ? "avx512f " : "", f->avx512bw ? "avx512bw " : "",
             f->avx512vl ? "avx512vl " : "", f->vaes ? "vaes " : "",
             f->vpclmulqdq ? "vpclmulqdq" : "");
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == ' ') {
        out[--n] = '\0';
    }
}
