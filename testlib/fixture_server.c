/* fixture_server.c - see fixture_server.h. */
#include "fixture_server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fx_server {
    struct MHD_Daemon *d;
    unsigned port;
    pthread_mutex_t mu;
    struct fx_reply q[FX_MAX];
    char *bodies[FX_MAX];
    size_t qn, qi;
    struct fx_request reqs[FX_MAX];
    size_t nreq;
};

struct conn_body {
    char buf[4096];
    size_t len;
};

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    struct fx_server *s = cls;
    struct conn_body *b = *con_cls;
    if (b == NULL) {
        b = calloc(1, sizeof(*b));
        *con_cls = b;
        return b != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        if (b->len + n >= sizeof(b->buf)) {
            n = sizeof(b->buf) - 1 - b->len;
        }
        memcpy(b->buf + b->len, upload, n);
        b->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    if (s->nreq < FX_MAX) {
        struct fx_request *r = &s->reqs[s->nreq++];
        snprintf(r->method, sizeof(r->method), "%s", method);
        const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api-version");
        snprintf(r->path, sizeof(r->path), "%s?api-version=%s", url, q != NULL ? q : "");
        snprintf(r->body, sizeof(r->body), "%.*s", (int)b->len, b->buf);
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        snprintf(r->auth, sizeof(r->auth), "%s", a != NULL ? a : "");
    }
    struct fx_reply rep = {
        500, "{\"error\":{\"code\":\"NoFixture\",\"message\":\"no fixture left\"}}", NULL, 0};
    if (s->qi < s->qn) {
        rep = s->q[s->qi];
        rep.body = s->bodies[s->qi];
        s->qi++;
    }
    pthread_mutex_unlock(&s->mu);
    if (rep.delay_ms > 0) {
        struct timespec ts = {rep.delay_ms / 1000, (long)(rep.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rep.status == 0) {
        return MHD_NO; /* drop */
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        rep.body ? strlen(rep.body) : 0, (void *)(uintptr_t)(rep.body ? rep.body : ""),
        MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    if (rep.retry_after != NULL) {
        MHD_add_response_header(resp, "Retry-After", rep.retry_after);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rep.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

struct fx_server *fx_start(void)
{
    struct fx_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (s->d == NULL) {
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : 0;
    return s;
}

void fx_stop(struct fx_server *s)
{
    if (s == NULL) {
        return;
    }
    MHD_stop_daemon(s->d);
    for (size_t i = 0; i < s->qn; i++) {
        free(s->bodies[i]);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

unsigned fx_port(const struct fx_server *s)
{
    return s->port;
}

void fx_push(struct fx_server *s, int status, const char *body, const char *retry_after,
             unsigned delay_ms)
{
    pthread_mutex_lock(&s->mu);
    if (s->qn < FX_MAX) {
        s->q[s->qn] = (struct fx_reply){status, NULL, retry_after, delay_ms};
        s->bodies[s->qn] = strdup(body != NULL ? body : "");
        s->qn++;
    }
    pthread_mutex_unlock(&s->mu);
}

size_t fx_count(const struct fx_server *s)
{
    return s->nreq;
}

const struct fx_request *fx_req(const struct fx_server *s, size_t i)
{
    return i < s->nreq ? &s->reqs[i] : NULL;
}

struct fx_server *fx_suite;
char fx_suite_url[64];

void fx_suite_setup(void)
{
    fx_suite = fx_start();
    cr_assert_not_null(fx_suite);
    snprintf(fx_suite_url, sizeof(fx_suite_url), "http://127.0.0.1:%u", fx_port(fx_suite));
}

void fx_suite_teardown(void)
{
    fx_stop(fx_suite);
    fx_suite = NULL;
}
