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

#include "base_buf.h"
#include "persist.h"

int vmock_audit_open(struct vmock_audit *a, const char *path, int fsync_each, uint64_t max_bytes,
                     struct base_err *e)
{
    memset(a, 0, sizeof(*a));
    int fd = vmock_file_open(path, O_WRONLY | O_APPEND | O_CREAT, 1, e);
    if (fd < 0) {
        return base_err_prefix(e, "audit log");
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot stat audit log %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (max_bytes > 0 && (uint64_t)st.st_size >= max_bytes) {
        BASE_FAIL(e, BASE_ERR_IO,
                  "audit log %s already holds %lld bytes, the --audit-max-bytes limit is %llu; "
                  "move it away (archive it) or raise the limit",
                  path, (long long)st.st_size, (unsigned long long)max_bytes);
        close(fd);
        return -1;
    }
    a->opened = 1;
    a->fd = fd;
    a->size = (uint64_t)st.st_size;
    a->max_bytes = max_bytes;
    a->fsync_each = fsync_each;
    snprintf(a->path, sizeof(a->path), "%s", path);
    pthread_mutex_init(&a->mu, NULL);
    return 0;
}

/* Adds |value| as |name|, cut to VMOCK_AUDIT_FIELD_MAX bytes with a marker. */
static void add_str(cJSON *o, const char *name, const char *value)
{
    if (value == NULL) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    size_t len = strlen(value);
    if (len <= VMOCK_AUDIT_FIELD_MAX) {
        cJSON_AddStringToObject(o, name, value);
        return;
    }
    char buf[VMOCK_AUDIT_FIELD_MAX + 64];
    size_t keep = VMOCK_AUDIT_FIELD_MAX;
    /* Never cut a UTF-8 sequence in two. */
    while (keep > 0 && ((unsigned char)value[keep] & 0xC0) == 0x80) {
        keep--;
    }
    memcpy(buf, value, keep);
    snprintf(buf + keep, sizeof(buf) - keep, VMOCK_AUDIT_CUT_MARK "%zu bytes]", len);
    cJSON_AddStringToObject(o, name, buf);
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vmock_audit_write(struct vmock_audit *a, const struct vmock_audit_rec *r)
{
    if (!a->opened) {
        return VMOCK_AUDIT_UNWRITABLE;
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
        return VMOCK_AUDIT_UNWRITABLE;
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
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct base_buf lb;
    base_buf_init(&lb, SIZE_MAX, 0);
    int ok = text != NULL && base_buf_append_str(&lb, text, NULL) == 0 &&
             base_buf_append_str(&lb, "\n", NULL) == 0;
    free(text);
    if (!ok) {
        base_buf_free(&lb);
        return VMOCK_AUDIT_UNWRITABLE;
    }
    const char *line = base_buf_str(&lb);
    size_t len = lb.len;
    pthread_mutex_lock(&a->mu);
    enum vmock_audit_failure fail = VMOCK_AUDIT_OK;
    if (r->identity == NULL && a->max_bytes > 0 && a->size + len > a->max_bytes / 2) {
        /* The reserve: an unauthenticated client must not fill the log for everyone. */
        a->unauth_unlogged++;
        if (!a->unauth_reported) {
            a->unauth_reported = 1;
            fprintf(stderr,
                    "vault-mock: audit log %s holds half of its --audit-max-bytes limit of %llu "
                    "bytes; unauthenticated requests are now counted in /admin/stats "
                    "(audit.unauthenticated_not_logged), not logged one by one\n",
                    a->path, (unsigned long long)a->max_bytes);
        }
    } else if (a->max_bytes > 0 && a->size + len > a->max_bytes) {
        fail = VMOCK_AUDIT_FULL;
        if (!a->full_reported) {
            a->full_reported = 1;
            fprintf(stderr,
                    "vault-mock: audit log %s reached its --audit-max-bytes limit of %llu "
                    "bytes; every request is refused until it is moved away and the vault "
                    "restarted\n",
                    a->path, (unsigned long long)a->max_bytes);
        }
    } else if (write_all(a->fd, line, len) != 0 || (a->fsync_each && fsync(a->fd) != 0)) {
        fail = VMOCK_AUDIT_UNWRITABLE;
        /* No torn line: a later line must not be glued to half of this one. */
        (void)!ftruncate(a->fd, (off_t)a->size);
    } else {
        a->size += len;
        a->lines++;
    }
    pthread_mutex_unlock(&a->mu);
    base_buf_free(&lb);
    return (int)fail;
}

uint64_t vmock_audit_unlogged(struct vmock_audit *a)
{
    if (!a->opened) {
        return 0;
    }
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->unauth_unlogged;
    pthread_mutex_unlock(&a->mu);
    return n;
}

void vmock_audit_close(struct vmock_audit *a)
{
    if (a->opened) {
        close(a->fd);
        a->opened = 0;
        pthread_mutex_destroy(&a->mu);
    }
}
