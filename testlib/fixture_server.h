/*
 * fixture_server.h - a canned-response HTTP server on 127.0.0.1 for tests
 * of HTTP clients (libmicrohttpd, plain HTTP). Responses are queued in
 * order; each request is recorded (method, path, body, Authorization).
 */
#ifndef FIXTURE_SERVER_H
#define FIXTURE_SERVER_H

#include <stddef.h>

#define FX_MAX 64

struct fx_reply {
    int status;              /* 0: drop the connection without answering */
    const char *body;        /* copied */
    const char *retry_after; /* NULL: no Retry-After header */
    unsigned delay_ms;
};

struct fx_request {
    char method[8];
    char path[256];
    char body[4096];
    char auth[512];
};

struct fx_server;

/* fx_start returns a server on a free loopback port, or NULL. */
struct fx_server *fx_start(void);
void fx_stop(struct fx_server *s);
unsigned fx_port(const struct fx_server *s);
/* fx_push queues one reply; the queue is consumed in order, then 500s. */
void fx_push(struct fx_server *s, int status, const char *body, const char *retry_after,
             unsigned delay_ms);
size_t fx_count(const struct fx_server *s);
const struct fx_request *fx_req(const struct fx_server *s, size_t i);

/*
 * One server for each test of a Criterion suite:
 *     TestSuite(name, .init = fx_suite_setup, .fini = fx_suite_teardown);
 * fx_suite_setup starts fx_suite (and fails the test if it cannot) and sets
 * fx_suite_url to "http://127.0.0.1:<port>"; fx_suite_teardown stops it.
 */
extern struct fx_server *fx_suite;
extern char fx_suite_url[64];
void fx_suite_setup(void);
void fx_suite_teardown(void);

#endif
