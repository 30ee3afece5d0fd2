/*
 * audit.c - JSON Lines audit log.
 */
#include "audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vmock_audit_open(struct vmock_audit *a, const char *path, int fsync_each, char *err,
                     size_t err_len)
{
    memset(a, 0, sizeof(*a));
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open audit log %s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) != 0) {
        snprintf(err, err_len, "cannot set mode 0600 on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    a->f = fdopen(fd, "a");
    if (a->f == NULL) {
        snprintf(err, err_len, "cannot open audit log %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    a->fsync_each = fsync_each;
    pthread_mutex_init(&a->mu, NULL);
    return 0;
}

static void add_str(cJSON *o, const char *name, const char *value)
{
    if (value != NULL) {
        cJSON_AddStringToObject(o, name, value);
    } else {
        cJSON_AddNullToObject(o, name);
    }
}

int vmock_audit_write(struct vmock_audit *a, const struct vmock_audit_rec *r)
{
    if (a->f == NULL) {
        return -1;
    }
    struct timespec ts;
    struct tm tm;
    char when[40];
    char frac[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(frac, sizeof(frac), ".%06ldZ", ts.tv_nsec / 1000);
    size_t wl = strlen(when);
    snprintf(when + wl, sizeof(when) - wl, "%s", frac);

    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return -1;
    }
    cJSON_AddStringToObject(o, "time", when);
    add_str(o, "request_id", r->request_id);
    add_str(o, "identity", r->identity);
    add_str(o, "operation", r->operation);
    add_str(o, "key", r->key);
    add_str(o, "version", r->version);
    add_str(o, "method", r->method);
    add_str(o, "path", r->path);
    add_str(o, "remote", r->remote);
    cJSON_AddNumberToObject(o, "status", r->status);
    add_str(o, "error", r->error);
    cJSON_AddNumberToObject(o, "latency_us", (double)r->latency_us);
    if (r->warning != NULL) {
        add_str(o, "warning", r->warning);
    }
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line == NULL) {
        return -1;
    }
    pthread_mutex_lock(&a->mu);
    int ok = fputs(line, a->f) >= 0 && fputc('\n', a->f) != EOF && fflush(a->f) == 0;
    if (ok && a->fsync_each) {
        ok = fsync(fileno(a->f)) == 0;
    }
    if (ok) {
        a->lines++;
    }
    pthread_mutex_unlock(&a->mu);
    free(line);
    return ok ? 0 : -1;
}

void vmock_audit_close(struct vmock_audit *a)
{
    if (a->f != NULL) {
        fflush(a->f);
        fclose(a->f);
        a->f = NULL;
        pthread_mutex_destroy(&a->mu);
    }
}
