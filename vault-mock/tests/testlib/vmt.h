/*
 * vmt.h - Criterion helpers for vault-mock tests, over vmt_client.h.
 */
#ifndef VMT_H
#define VMT_H

#include "tl_vault.h"
#include "vmt_client.h"

/* vmt_expect sends the call and asserts the answer's status (the body is shown on failure). */
void vmt_expect(struct vmt_server *s, const char *method, const char *path, const char *token,
                const char *body, long status);
/* The server of the current test, for the fixtures below. */
extern struct vmt_server vmt_srv;
/* vmt_setup starts vmt_srv with default flags (asserts success); use as .init. */
void vmt_setup(void);
/* vmt_setup_args starts vmt_srv with extra flags (asserts success). */
void vmt_setup_args(const char *const *args);
/* vmt_teardown stops vmt_srv and removes its state; use as .fini. */
void vmt_teardown(void);

/*
 * vmt_audit_tail parses the audit lines written since |*offset| (bytes into
 * the log; start at 0 or at vmt_audit_end) into |out| (up to |max|; caller
 * deletes each), moves |*offset| past them and returns how many complete
 * lines there were (which may exceed |max|).
 */
size_t vmt_audit_tail(struct vmt_server *s, long *offset, cJSON **out, size_t max);
/* vmt_audit_end is the audit log's current size, for vmt_audit_tail. */
long vmt_audit_end(struct vmt_server *s);
/* vmt_jstr is the string member |name| of |o|, or NULL (also for JSON null). */
const char *vmt_jstr(const cJSON *o, const char *name);
/* vmt_jint is the integer member |name| of |o|, or -1. */
int vmt_jint(const cJSON *o, const char *name);

/* The port of a server's URL: tl_vault_port (testlib/tl_vault.h). */
/* vmt_tcp_connect opens a plain TCP connection to 127.0.0.1:|port|; returns the socket or -1. */
int vmt_tcp_connect(int port);
/*
 * vmt_closed_within is 1 when the peer closes (or resets) |fd| within |ms|,
 * 0 when it is still open then. Bytes that arrive meanwhile are discarded.
 */
int vmt_closed_within(int fd, int ms);
/*
 * vmt_kept_alive opens a plain-HTTP connection (the server runs with
 * --insecure-http) to 127.0.0.1:|port|, has one unauthenticated request
 * answered (asserts the 401) and returns the socket, left open: it holds a
 * connection slot and, past its first request, is never evicted.
 */
int vmt_kept_alive(int port);

#endif /* VMT_H */
