/*
 * tl_cmk.h - run the built cmk program from a test (tests only): one
 * runner for every test that drives the command line.
 */
#ifndef TL_CMK_H
#define TL_CMK_H

#include <stdarg.h>
#include <stddef.h>

/*
 * tl_cmk_path writes the absolute path of the cmk program under test:
 * $CMK_BIN, else |compiled_default| (relative paths taken from the current
 * folder). Returns 0, or -1 when it does not fit.
 */
int tl_cmk_path(const char *compiled_default, char *out, size_t max_out_len);
/*
 * tl_cmk_run runs the cmk program under test (see tl_cmk_path) in folder
 * |dir| with the printf-style arguments, its output in |dir|/stdout and
 * |dir|/stderr. Returns its exit code, or -1 if the command did not fit,
 * could not start, or cmk did not exit normally.
 */
int tl_cmk_run(const char *compiled_default, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Where a run's output goes, and what comes before cmk on the shell line. */
struct tl_cmk_io {
    const char *pre; /* shell words before cmk ("timeout 100", "cat in |"); NULL: none */
    const char *out; /* stdout redirection ("1<>file", ">log/01.out"); NULL: ">stdout" */
    const char *err; /* stderr redirection ("2>log/01.err"); NULL: "2>stderr" */
};
/*
 * tl_cmk_run_io is tl_cmk_run with |io| (NULL: as tl_cmk_run): the shell
 * line is "cd DIR && PRE CMK ARGS OUT ERR". Returns as tl_cmk_run.
 */
int tl_cmk_run_io(const char *compiled_default, const char *dir, const struct tl_cmk_io *io,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* tl_cmk_vrun_io is tl_cmk_run_io with a va_list. */
int tl_cmk_vrun_io(const char *compiled_default, const char *dir, const struct tl_cmk_io *io,
                   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
/* tl_cmk_vrun is tl_cmk_run with a va_list. */
int tl_cmk_vrun(const char *compiled_default, const char *dir, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/*
 * tl_cmk_exit is tl_cmk_run that fails the calling Criterion test when cmk
 * did not run or did not exit normally; else returns its exit code (>= 0).
 */
int tl_cmk_exit(const char *compiled_default, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* TL_CMK_H */
