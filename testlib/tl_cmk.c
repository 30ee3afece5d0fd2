/* tl_cmk.c - see tl_cmk.h. */
#include "tl_cmk.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

int tl_cmk_vrun_io(const char *compiled_default, const char *dir, const struct tl_cmk_io *io,
                   const char *fmt, va_list ap)
{
    char args[2048], cmd[4096], bin[1024];
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(args) ||
        tl_cmk_path(compiled_default, bin, sizeof(bin)) != 0) {
        return -1;
    }
    const char *pre = io != NULL && io->pre != NULL ? io->pre : "";
    const char *out = io != NULL && io->out != NULL ? io->out : ">stdout";
    const char *err = io != NULL && io->err != NULL ? io->err : "2>stderr";
    n = snprintf(cmd, sizeof(cmd), "cd %s && %s %s %s %s %s", dir, pre, bin, args, out, err);
    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        return -1;
    }
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tl_cmk_run_io(const char *compiled_default, const char *dir, const struct tl_cmk_io *io,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tl_cmk_vrun_io(compiled_default, dir, io, fmt, ap);
    va_end(ap);
    return rc;
}

int tl_cmk_vrun(const char *compiled_default, const char *dir, const char *fmt, va_list ap)
{
    return tl_cmk_vrun_io(compiled_default, dir, NULL, fmt, ap);
}

int tl_cmk_run(const char *compiled_default, const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tl_cmk_vrun(compiled_default, dir, fmt, ap);
    va_end(ap);
    return rc;
}

int tl_cmk_exit(const char *compiled_default, const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tl_cmk_vrun(compiled_default, dir, fmt, ap);
    va_end(ap);
    cr_assert_geq(rc, 0, "cmk did not run or did not exit normally (in %s)", dir);
    return rc;
}
