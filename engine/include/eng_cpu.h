/*
 * eng_cpu.h - CPU feature detection (CPUID + XGETBV) and the arch cap.
 *
 * Paths are chosen at run time from what the CPU and OS support, never from
 * compile flags. ENG_ARCH=noaesni|sse|avx|avx2|vaes-avx2|avx512 caps the
 * path that ENG_ARCH_AUTO resolves to (for valgrind, which cannot run
 * AVX-512 or VAES, and to run a whole program on a narrower path: on an
 * AVX-512 CPU, ENG_ARCH=vaes-avx2 runs the ymm VAES code of a Zen 3 class
 * CPU). The best path is avx512 with AVX-512F/BW/VL + VAES + VPCLMULQDQ,
 * else vaes-avx2 with AVX2 + VAES + VPCLMULQDQ, else avx2, avx, sse. An
 * explicit arch passed to eng_cipher_new is taken as asked, within what the
 * CPU supports: that is how tests exercise every path on one machine.
 */
#ifndef ENG_CPU_H
#define ENG_CPU_H

#include "eng_cipher.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eng_cpu_features {
    unsigned aesni : 1, pclmul : 1, sse41 : 1, avx : 1, avx2 : 1, avx512f : 1, avx512bw : 1,
        avx512vl : 1, vaes : 1, vpclmulqdq : 1;
};

/* eng_cpu_features returns the detected features (OS support checked). Never NULL. */
ENG_API const struct eng_cpu_features *eng_cpu_features(void);

/*
 * eng_cpu_arch_of returns the widest path a CPU with features |f| supports:
 * avx512 needs AVX-512F/BW/VL + VAES + VPCLMULQDQ, vaes-avx2 AVX2 + VAES +
 * VPCLMULQDQ, avx2 AVX2, avx AVX, sse AES-NI + PCLMULQDQ + SSE4.1; else
 * noaesni (also for NULL).
 */
ENG_API enum eng_arch eng_cpu_arch_of(const struct eng_cpu_features *f);

/* eng_cpu_best_arch returns the widest path this CPU supports, ignoring ENG_ARCH. */
ENG_API enum eng_arch eng_cpu_best_arch(void);

/*
 * eng_arch_effective resolves |requested| (AUTO allowed) against ENG_ARCH and
 * the CPU: 0 and *out on success; -1 with ENG_ERR_ENV (bad ENG_ARCH) or
 * ENG_ERR_CPU (requested path wider than the CPU).
 */
ENG_API int eng_arch_effective(enum eng_arch requested, enum eng_arch *out);

/* eng_cpu_flags_string writes e.g. "aesni pclmul avx avx2 avx512f vaes vpclmulqdq" to |out|. */
ENG_API void eng_cpu_flags_string(char *out, size_t max_out_len);

#ifdef __cplusplus
}
#endif
#endif /* ENG_CPU_H */
