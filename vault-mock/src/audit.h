/*
 * audit.h - the audit log: JSON Lines, one line per request, written and
 * flushed before the response leaves. Never key material, never tokens.
 */
#ifndef VMOCK_AUDIT_H
#define VMOCK_AUDIT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

struct vmock_audit {
    FILE *f;
    pthread_mutex_t mu;
    int fsync_each;
    uint64_t lines;
};

/* One request as the audit log records it; NULL strings are written as null. */
struct vmock_audit_rec {
    const char *request_id;
    const char *identity;
    const char *operation;
    const char *key;
    const char *version;
    const char *method;
    const char *path;
    const char *remote;
    int status;          /* 0 when the connection was dropped without an answer */
    const char *error;   /* the error code of the answer, if any */
    const char *warning; /* a warning about the request (written only when not NULL) */
    uint64_t latency_us;
};

/*
 * vmock_audit_open opens (appending, creating with mode 0600) the log at
 * |path|; |fsync_each| makes every line also fsync'd. Returns 0, or -1
 * with |err| filled.
 */
int vmock_audit_open(struct vmock_audit *a, const char *path, int fsync_each, char *err,
                     size_t err_len);
/*
 * vmock_audit_write appends one line for |r| and flushes it. Thread-safe.
 * Returns 0, or -1 when the line could not be written.
 */
int vmock_audit_write(struct vmock_audit *a, const struct vmock_audit_rec *r);
/* vmock_audit_close flushes and closes the log. */
void vmock_audit_close(struct vmock_audit *a);

#endif /* VMOCK_AUDIT_H */
