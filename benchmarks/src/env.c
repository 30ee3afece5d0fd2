/*
 * env.c - the environment record of a run: CPU, kernel, compiler,
 * libraries, load, scheduler, key-memory locking (bench.json "env").
 */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base_file.h"
#include "bench.h"
#include "eng_cpu.h"
#include "eng_secure.h"

static void copy_str(char *dst, size_t max, const char *src)
{
    snprintf(dst, max, "%s", src != NULL ? src : "");
}

/* The text of a small /proc file (NULL when unreadable); free it. */
static char *read_proc(const char *path)
{
    char *text = NULL;
    return base_file_read(path, 4 << 20, 0, &text, NULL, NULL) == 0 ? text : NULL;
}

void bench_loadavg(char *out, size_t out_len)
{
    out[0] = '\0';
    char *text = read_proc("/proc/loadavg");
    double a, b, c;
    if (text != NULL && sscanf(text, "%lf %lf %lf", &a, &b, &c) == 3) {
        snprintf(out, out_len, "%.2f %.2f %.2f", a, b, c);
    }
    free(text);
}

void bench_env_capture(struct bench_env *e, const char *profile, const char *commit)
{
    memset(e, 0, sizeof(*e));
    char *cpuinfo = read_proc("/proc/cpuinfo");
    for (char *line = cpuinfo; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v != NULL) {
                copy_str(e->cpu_model, sizeof(e->cpu_model), v + 2);
            }
            break;
        }
        line = next;
    }
    free(cpuinfo);
    eng_cpu_flags_string(e->cpu_flags, sizeof(e->cpu_flags));
    e->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(e->kernel, sizeof(e->kernel), "%s %s %s", u.sysname, u.release, u.machine);
    }
    copy_str(e->compiler, sizeof(e->compiler), "gcc " __VERSION__);
    copy_str(e->openssl, sizeof(e->openssl), eng_openssl_version());
    copy_str(e->ipsecmb, sizeof(e->ipsecmb), eng_ipsecmb_version());
    copy_str(e->commit, sizeof(e->commit), commit != NULL ? commit : "unknown");
    copy_str(e->profile, sizeof(e->profile), profile);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(e->started, sizeof(e->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
    e->tsc_hz = bench_tsc_hz();
    bench_loadavg(e->loadavg_start, sizeof(e->loadavg_start));
    e->sched_autogroup = -1;
    char *ag = read_proc("/proc/sys/kernel/sched_autogroup_enabled");
    if (ag != NULL && sscanf(ag, "%d", &e->sched_autogroup) != 1) {
        e->sched_autogroup = -1;
    }
    free(ag);
    struct eng_secure_stats ss;
    void *probe = eng_secure_alloc(32);
    eng_secure_stats(&ss);
    e->mlock_ok = probe != NULL && ss.lock_failures == 0 && ss.mlock_policy != 2;
    eng_secure_free(probe);
    copy_str(e->eng_arch_env, sizeof(e->eng_arch_env), getenv("ENG_ARCH"));
    copy_str(e->eng_backend_env, sizeof(e->eng_backend_env), getenv("ENG_BACKEND"));
}
