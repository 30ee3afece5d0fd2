/*
 * audit.h - the audit log: JSON Lines, one line per request, written and
 * flushed before the response leaves. Never key material, never tokens.
 *
 * Every string taken from a request (path, method, key, ...) is cut to
 * VMOCK_AUDIT_FIELD_MAX bytes with a visible marker, so a line stays short
 * whatever a client sends. An optional size cap refuses lines beyond it
 * (and with them, the requests: no audit, no service).
 *
 * The reserve: an unauthenticated request (a line without an identity) may
 * not use up the cap. Its line is written only while the log stays within
 * half of the cap; past that it is counted (unauth_unlogged, shown in
 * /admin/stats) instead, and the request is still answered (401), so the
 * other half stays for requests of known identities.
 */
#ifndef VMOCK_AUDIT_H
#define VMOCK_AUDIT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "base_err.h"

/* Longest string field kept in a line; longer ones end in VMOCK_AUDIT_CUT_MARK. */
#define VMOCK_AUDIT_FIELD_MAX 256
/* The marker after a cut field, followed by the original length: "...[cut, 60000 bytes]". */
#define VMOCK_AUDIT_CUT_MARK "...[cut, "

enum vmock_audit_failure {
    VMOCK_AUDIT_OK = 0,
    VMOCK_AUDIT_UNWRITABLE, /* the write failed (disk full, I/O error, closed) */
    VMOCK_AUDIT_FULL,       /* the line would pass --audit-max-bytes */
};

struct vmock_audit {
    int opened; /* 0: never opened or closed (a zeroed struct is a closed log) */
    int fd;
    pthread_mutex_t mu;
    int fsync_each;
    uint64_t lines;
    uint64_t size;      /* bytes in the log */
    uint64_t max_bytes; /* 0: no cap */
    int full_reported;
    uint64_t unauth_unlogged; /* unauthenticated lines not written (the reserve, below) */
    int unauth_reported;
    char path[4096];
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
 * |path|: an existing one must be a regular file (not a symbolic link, not
 * a FIFO) owned by the effective user with mode 0600 or stricter.
 * |fsync_each| makes every line also fsync'd; |max_bytes| (0: none) caps
 * the log's size. Returns 0, or -1 with |e| filled (also when the log
 * already holds |max_bytes| or more).
 */
int vmock_audit_open(struct vmock_audit *a, const char *path, int fsync_each, uint64_t max_bytes,
                     struct base_err *e);
/*
 * vmock_audit_write appends one line for |r| and flushes it (a failed
 * write leaves no partial line behind). Thread-safe. Returns VMOCK_AUDIT_OK
 * (0), or why the line was not written. A line without an identity past the
 * reserve (above) is counted, not written, and VMOCK_AUDIT_OK returned.
 */
int vmock_audit_write(struct vmock_audit *a, const struct vmock_audit_rec *r);
/* vmock_audit_unlogged returns how many unauthenticated lines the reserve kept out. */
uint64_t vmock_audit_unlogged(struct vmock_audit *a);
/* vmock_audit_close closes the log. */
void vmock_audit_close(struct vmock_audit *a);

#endif /* VMOCK_AUDIT_H */
