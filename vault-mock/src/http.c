/*
 * http.c - libmicrohttpd glue: request state, body limit, response headers,
 * audit before answer, and the request deadline.
 *
 * The request deadline: libmicrohttpd's connection timeout is an idle
 * timeout, restarted by every byte, so a client that trickles a byte every
 * half second holds a connection (and, in thread-per-connection mode, a
 * thread) for ever. Each connection therefore gets a clock (started when it
 * is accepted and again after each answer) that runs until its request has
 * fully arrived; a watchdog thread shuts down the socket of a connection
 * whose request is late. libmicrohttpd then sees the peer gone and closes
 * the connection itself. The socket is shut down under the same mutex the
 * connection-closed notification takes, and libmicrohttpd notifies before
 * it closes the descriptor, so the watchdog never touches a reused one.
 *
 * The handshake deadline: a new connection's first request (its TLS
 * handshake included) runs on the same clock but against the shorter
 * handshake timeout, so that connections which never speak are shed well
 * before the idle timeout.
 *
 * No select(): a thread per connection polls with poll(), the worker pool
 * with epoll, so descriptors beyond FD_SETSIZE are served like any other.
 * With a thread per connection libmicrohttpd's poll() listener accepts and
 * closes a connection at the connection limit (its select() listener left
 * it in the listen queue), so in that mode the vault listens itself: an
 * acceptor thread accepts only while fewer than --max-connections are
 * open, else leaves new connections queued in the kernel, and hands each
 * accepted one to libmicrohttpd (MHD_add_connection), which applies the
 * per-address limit and runs it on a thread of its own.
 *
 * Eviction (own listener only): the per-address limit does not hold against
 * a client with many source addresses (127.0.0.0/8, an IPv6 prefix). So
 * when all --max-connections are open and another connection waits in the
 * listen queue, the acceptor shuts down the oldest connection that has not
 * yet sent a complete request line on its first request (TLS handshake
 * unfinished, or silent), one at a time, and accepts the waiting one in its
 * slot. A connection that has sent a request line, or finished a first
 * request, is never evicted. A new client is then served unless
 * --max-connections newer connections arrive before its request line does.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"

/* Bodies beyond this are not even drained: the connection is closed. */
#define DRAIN_FACTOR 16u

/* Cut requests written per watchdog pass (more wait for the next pass). */
#define CUT_BATCH 32
/* How often the watchdog looks at the clocks. */
#define WATCHDOG_TICK_NS 100000000ull

/* One connection, for the request deadline (guarded by vmock_http.mu). */
struct conn_state {
    struct conn_state *prev;
    struct conn_state *next;
    int fd;
    uint64_t t0_ns; /* accepted, or the previous request ended */
    int armed;      /* 1 while a request is arriving (the clock runs) */
    int first;      /* 1 until the first request has arrived (the handshake deadline) */
    int cut;        /* the watchdog ended it, or the acceptor evicted it */
    int evicted;    /* the acceptor ended it (until it is closed) */
    /* what is known of the arriving request, for its audit line */
    char remote[INET6_ADDRSTRLEN];
    char method[16];
    char path[256];
    enum vmock_op op;
    const char *identity; /* the policy's string, lives as long as the server */
    char key[VMOCK_NAME_MAX + 1];
};

struct vmock_http {
    struct MHD_Daemon *daemon;
    struct vmock_server *srv;
    size_t max_body;
    uint64_t deadline_ns; /* 0: no request deadline */
    uint64_t first_ns;    /* the first request's deadline (handshake timeout); 0: none */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn_state *conns;
    int stopping;
    int watchdog_running;
    pthread_t watchdog;
    /* the own listener (thread per connection), see the top of the file */
    int listen_fd;             /* -1: libmicrohttpd listens */
    int wake[2];               /* the acceptor's stop pipe */
    unsigned max_connections;  /* accepted and not yet closed, at most */
    _Atomic unsigned admitted; /* handed to libmicrohttpd and not yet closed */
    int acceptor_running;
    pthread_t acceptor;
};

struct req_state {
    uint64_t t0_ns;
    char path[256]; /* from the request line, for requests MHD ends before the API sees them */
    char *raw_uri;  /* the whole request target as sent (not decoded), or NULL */
    int started;
    char *body;
    size_t len;
    size_t cap;
    size_t seen; /* bytes received, kept or not */
    int too_big;
    int answered;
    /* for the audit line a change writes before it is saved (audit_hook) */
    char rid[37];
    struct vmock_http *h;
    struct MHD_Connection *conn;
    const char *url;
    const char *method;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *lookup_query(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static const char *lookup_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

struct header_tally {
    const char *name;
    size_t n;
};

static enum MHD_Result tally_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    (void)value;
    struct header_tally *t = cls;
    if (key != NULL && strcasecmp(key, t->name) == 0) {
        t->n++;
    }
    return MHD_YES;
}

static size_t count_header(void *ctx, const char *name)
{
    struct header_tally t = {name, 0};
    MHD_get_connection_values(ctx, MHD_HEADER_KIND, tally_one, &t);
    return t.n;
}

/* A UUID-shaped request id, like x-ms-request-id. */
static void request_id(char out[37])
{
    uint8_t r[16];
    if (RAND_bytes(r, sizeof(r)) != 1) {
        memset(r, 0, sizeof(r));
    }
    base_uuid4(out, r);
}

static void client_address(struct MHD_Connection *conn, char *out, size_t out_len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)out_len);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)out_len);
    }
}

/* The deadline state of |conn|, or NULL (no deadline, or out of memory at accept). */
static struct conn_state *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

/* libmicrohttpd accepted or is about to close a connection: start or drop its clock. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct vmock_http *h = cls;
    struct vmock_stats *st = &h->srv->stats;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        uint64_t open = atomic_fetch_add(&st->conns_open, 1) + 1;
        uint64_t peak = atomic_load(&st->conns_peak);
        while (open > peak && !atomic_compare_exchange_weak(&st->conns_peak, &peak, open)) {
        }
        if (h->deadline_ns == 0 && h->first_ns == 0 && h->listen_fd < 0) {
            return; /* no deadline, no eviction: no state needed */
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn_state *cs = ci != NULL ? calloc(1, sizeof(*cs)) : NULL;
        if (cs == NULL) {
            return; /* served, but without a deadline */
        }
        cs->fd = ci->connect_fd;
        cs->op = VMOCK_OP_UNKNOWN;
        cs->armed = 1;
        cs->first = 1;
        client_address(conn, cs->remote, sizeof(cs->remote));
        pthread_mutex_lock(&h->mu);
        cs->t0_ns = mono_ns();
        cs->next = h->conns;
        if (h->conns != NULL) {
            h->conns->prev = cs;
        }
        h->conns = cs;
        pthread_mutex_unlock(&h->mu);
        *socket_context = cs;
        return;
    }
    atomic_fetch_sub(&st->conns_open, 1);
    if (h->listen_fd >= 0) {
        atomic_fetch_sub(&h->admitted, 1);
    }
    struct conn_state *cs = *socket_context;
    if (cs == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (cs->prev != NULL) {
        cs->prev->next = cs->next;
    } else {
        h->conns = cs->next;
    }
    if (cs->next != NULL) {
        cs->next->prev = cs->prev;
    }
    pthread_mutex_unlock(&h->mu);
    free(cs);
    *socket_context = NULL;
}

/*
 * The request on |conn| has fully arrived (or is answered early): stop its
 * clock. Returns -1 when the watchdog already cut it (then it must not be
 * served: its audit line is written and its client gone).
 */
static int request_arrived(struct vmock_http *h, struct MHD_Connection *conn)
{
    struct conn_state *cs = conn_of(conn);
    int rc = 0;
    if (cs != NULL) {
        pthread_mutex_lock(&h->mu);
        rc = cs->cut ? -1 : 0;
        cs->armed = 0;
        cs->first = 0;
        pthread_mutex_unlock(&h->mu);
    }
    return rc;
}

/* The request on |conn| ended: the clock starts again for the next one. Returns 1 if it was cut. */
static int request_ended(struct vmock_http *h, struct MHD_Connection *conn)
{
    struct conn_state *cs = conn_of(conn);
    int cut = 0;
    if (cs != NULL) {
        pthread_mutex_lock(&h->mu);
        cut = cs->cut;
        if (!cut) {
            cs->armed = 1;
            cs->t0_ns = mono_ns();
            cs->method[0] = '\0';
            cs->path[0] = '\0';
            cs->op = VMOCK_OP_UNKNOWN;
            cs->identity = NULL;
            cs->key[0] = '\0';
        }
        pthread_mutex_unlock(&h->mu);
    }
    return cut;
}

/* One cut request, copied out of the lock for its audit line. */
struct cut_rec {
    char remote[INET6_ADDRSTRLEN];
    char method[16];
    char path[256];
    enum vmock_op op;
    const char *identity;
    char key[VMOCK_NAME_MAX + 1];
    uint64_t latency_us;
    const char *error; /* RequestTimeout or HandshakeTimeout */
};

static void audit_cut(struct vmock_http *h, const struct cut_rec *c)
{
    char rid[37];
    request_id(rid);
    struct vmock_audit_rec rec = {
        .request_id = rid,
        .identity = c->identity,
        .operation = vmock_op_name(c->op),
        .key = c->key[0] != '\0' ? c->key : NULL,
        .method = c->method[0] != '\0' ? c->method : NULL,
        .path = c->path[0] != '\0' ? c->path : NULL,
        .remote = c->remote,
        .status = 0,
        .error = c->error,
        .latency_us = c->latency_us,
    };
    (void)vmock_audit_write(&h->srv->audit, &rec); /* the client is gone already */
    atomic_fetch_add(&h->srv->stats.requests_cut, 1);
}

/* The watchdog: every tick, shut down the sockets of requests past the deadline. */
/* The deadline of |cs| now (0: none): the shorter one while its first request is arriving. */
static uint64_t deadline_of(const struct vmock_http *h, const struct conn_state *cs, int *first)
{
    uint64_t d = h->deadline_ns;
    *first = 0;
    if (cs->first && h->first_ns != 0 && (d == 0 || h->first_ns < d)) {
        d = h->first_ns;
        *first = 1;
    }
    return d;
}

static void *watchdog_main(void *arg)
{
    struct vmock_http *h = arg;
    struct cut_rec *cuts = calloc(CUT_BATCH, sizeof(*cuts));
    if (cuts == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        uint64_t now = mono_ns();
        size_t n = 0;
        for (struct conn_state *cs = h->conns; cs != NULL && n < CUT_BATCH; cs = cs->next) {
            int first = 0;
            uint64_t limit = deadline_of(h, cs, &first);
            if (!cs->armed || cs->cut || limit == 0 || now - cs->t0_ns < limit) {
                continue;
            }
            cs->cut = 1;
            shutdown(cs->fd, SHUT_RDWR); /* libmicrohttpd sees the peer gone and closes */
            struct cut_rec *c = &cuts[n++];
            memcpy(c->remote, cs->remote, sizeof(c->remote));
            memcpy(c->method, cs->method, sizeof(c->method));
            memcpy(c->path, cs->path, sizeof(c->path));
            memcpy(c->key, cs->key, sizeof(c->key));
            c->op = cs->op;
            c->identity = cs->identity;
            c->latency_us = (now - cs->t0_ns) / 1000u;
            c->error = first ? "HandshakeTimeout" : "RequestTimeout";
        }
        if (n > 0) {
            pthread_mutex_unlock(&h->mu);
            for (size_t i = 0; i < n; i++) {
                audit_cut(h, &cuts[i]);
            }
            pthread_mutex_lock(&h->mu);
            if (n == CUT_BATCH) {
                continue;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wake = (uint64_t)ts.tv_nsec + WATCHDOG_TICK_NS;
        ts.tv_sec += (time_t)(wake / 1000000000u);
        ts.tv_nsec = (long)(wake % 1000000000u);
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    free(cuts);
    return NULL;
}

/*
 * Called when the request line arrives: the request's state starts here, so
 * that latency counts from the first byte and a request the HTTP layer ends
 * early (431, timeout, client gone) still gets its audit line.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct vmock_http *h = cls;
    struct req_state *rs = calloc(1, sizeof(*rs));
    if (rs != NULL) {
        rs->t0_ns = mono_ns();
        size_t n = strcspn(uri, "?");
        if (n >= sizeof(rs->path)) {
            /* Cut like the audit log cuts: visibly, with the length sent. */
            char mark[48];
            snprintf(mark, sizeof(mark), VMOCK_AUDIT_CUT_MARK "%zu bytes]", n);
            size_t keep = sizeof(rs->path) - 1 - strlen(mark);
            memcpy(rs->path, uri, keep);
            memcpy(rs->path + keep, mark, strlen(mark) + 1);
            n = sizeof(rs->path) - 1;
        } else {
            memcpy(rs->path, uri, n);
            rs->path[n] = '\0';
        }
        rs->raw_uri = strdup(uri); /* bounded by the connection's memory limit */
        struct conn_state *cs = conn_of(conn);
        if (cs != NULL) {
            pthread_mutex_lock(&h->mu);
            memcpy(cs->path, rs->path, n + 1);
            pthread_mutex_unlock(&h->mu);
        }
    }
    return rs;
}

static int audit_hook(void *ctx, const struct vmock_reply *rep);

/* The API's view of an MHD request; |rs| NULL for no body (and no audit hook). */
static struct vmock_request make_request(struct MHD_Connection *conn, const char *url,
                                         const char *method, struct req_state *rs)
{
    struct vmock_request req = {
        .method = method,
        .path = url,
        .query = lookup_query,
        .header = lookup_header,
        .header_count = count_header,
        .ctx = conn,
        .raw_uri = rs != NULL ? rs->raw_uri : NULL,
        .body = rs != NULL ? rs->body : NULL,
        .body_len = rs != NULL ? rs->len : 0,
        .audit = rs != NULL ? audit_hook : NULL,
        .audit_ctx = rs,
    };
    return req;
}

static void free_body(void *p)
{
    char *s = p;
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Echo x-ms-client-request-id when it is short and harmless. */
static const char *client_request_id(struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-ms-client-request-id");
    if (v == NULL || strlen(v) > 64) {
        return NULL;
    }
    for (const char *p = v; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-')) {
            return NULL;
        }
    }
    return v;
}

/* Writes the audit line of |rep| for the request |rs|; returns what vmock_audit_write returns. */
static int audit_reply(struct vmock_http *h, struct MHD_Connection *conn, struct req_state *rs,
                       const char *url, const char *method, const struct vmock_reply *rep)
{
    char remote[INET6_ADDRSTRLEN];
    if (rs->rid[0] == '\0') {
        request_id(rs->rid);
    }
    client_address(conn, remote, sizeof(remote));
    struct vmock_audit_rec rec = {
        .request_id = rs->rid,
        .identity = rep->identity,
        .operation = vmock_op_name(rep->op),
        .key = rep->key[0] != '\0' ? rep->key : NULL,
        .version = rep->version[0] != '\0' ? rep->version : NULL,
        .method = method,
        .path = url,
        .remote = remote,
        .status = rep->drop ? 0 : rep->status,
        .error = rep->error_code[0] != '\0' ? rep->error_code : NULL,
        .warning = rep->warning,
        .latency_us = (mono_ns() - rs->t0_ns) / 1000u,
    };
    return vmock_audit_write(&h->srv->audit, &rec);
}

/* The API's hook: a change's audit line, written before the change is saved. */
static int audit_hook(void *ctx, const struct vmock_reply *rep)
{
    struct req_state *rs = ctx;
    return audit_reply(rs->h, rs->conn, rs, rs->url, rs->method, rep);
}

/*
 * Audit |rep| (unless the API did already) and queue it (or drop the
 * connection). Returns what the access handler returns.
 */
static enum MHD_Result answer(struct vmock_http *h, struct MHD_Connection *conn,
                              struct req_state *rs, const char *url, const char *method,
                              struct vmock_reply *rep)
{
    struct vmock_server *srv = h->srv;
    rs->answered = 1;
    int why = rep->audited ? 0 : audit_reply(h, conn, rs, url, method, rep);
    if (why != 0) {
        /* No audit, no service: refuse rather than act unrecorded. */
        vmock_reply_audit_failed(rep, why, &srv->audit);
        rep->drop = 0;
    }
    vmock_api_account(srv, rep);
    if (rep->drop) {
        free_body(rep->body);
        return MHD_NO;
    }
    size_t len = rep->body != NULL ? strlen(rep->body) : 0;
    struct MHD_Response *resp =
        rep->body != NULL
            ? MHD_create_response_from_buffer_with_free_callback(len, rep->body, free_body)
            : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free_body(rep->body);
        return MHD_NO;
    }
    rep->body = NULL;
    if (len > 0) {
        MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    }
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "x-ms-request-id", rs->rid);
    MHD_add_response_header(resp, "x-ms-keyvault-service-version", "vault-mock/1");
    MHD_add_response_header(resp, "x-ms-keyvault-region", "local");
    const char *crid = client_request_id(conn);
    if (crid != NULL) {
        MHD_add_response_header(resp, "x-ms-client-request-id", crid);
    }
    if (rep->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", rep->retry_after_s);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (rep->www_authenticate[0] != '\0') {
        MHD_add_response_header(resp, "WWW-Authenticate", rep->www_authenticate);
    }
    if (rep->allow[0] != '\0') {
        MHD_add_response_header(resp, "Allow", rep->allow);
    }
    if (rep->close) {
        MHD_add_response_header(resp, "Connection", "close");
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result too_big(struct vmock_http *h, struct MHD_Connection *conn,
                               struct req_state *rs, const char *url, const char *method)
{
    struct vmock_reply rep;
    memset(&rep, 0, sizeof(rep));
    rep.op = VMOCK_OP_UNKNOWN;
    struct vmock_request req = make_request(conn, url, method, NULL);
    vmock_api_describe(h->srv, &req, &rep);
    vmock_reply_errorf(&rep, 413, "BadParameter", NULL,
                       "The request body is larger than the limit of %zu bytes.", h->max_body);
    return answer(h, conn, rs, url, method, &rep);
}

/* The headers of the request on |conn| are in: note what it is, for an audit line if it is cut. */
static void note_request(struct vmock_http *h, struct MHD_Connection *conn, const char *url,
                         const char *method)
{
    struct conn_state *cs = conn_of(conn);
    if (cs == NULL) {
        return;
    }
    struct vmock_reply rep;
    memset(&rep, 0, sizeof(rep));
    rep.op = VMOCK_OP_UNKNOWN;
    struct vmock_request req = make_request(conn, url, method, NULL);
    vmock_api_describe(h->srv, &req, &rep);
    pthread_mutex_lock(&h->mu);
    snprintf(cs->method, sizeof(cs->method), "%s", method);
    cs->op = rep.op;
    cs->identity = rep.identity;
    memcpy(cs->key, rep.key, sizeof(cs->key));
    pthread_mutex_unlock(&h->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct vmock_http *h = cls;
    struct req_state *rs = *req_cls;
    if (rs == NULL) {
        rs = calloc(1, sizeof(*rs));
        if (rs == NULL) {
            return MHD_NO;
        }
        rs->t0_ns = mono_ns();
        *req_cls = rs;
    }
    if (!rs->started) {
        rs->started = 1;
        note_request(h, conn, url, method);
        struct vmock_request pre = make_request(conn, url, method, rs);
        struct vmock_reply prep;
        memset(&prep, 0, sizeof(prep));
        prep.op = VMOCK_OP_UNKNOWN;
        if (vmock_api_precheck(&pre, &prep)) {
            vmock_api_describe(h->srv, &pre, &prep); /* for the audit line */
            /* Answer before the body: the connection is closed afterwards. */
            if (request_arrived(h, conn) != 0) {
                free(prep.body);
                return MHD_NO;
            }
            return answer(h, conn, rs, url, method, &prep);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && *end == '\0' && n > (unsigned long long)h->max_body * DRAIN_FACTOR) {
                /* Answer before the body: MHD closes the connection afterwards. */
                if (request_arrived(h, conn) != 0) {
                    return MHD_NO;
                }
                return too_big(h, conn, rs, url, method);
            }
        }
        return MHD_YES;
    }
    if (rs->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        rs->seen += n;
        if (rs->too_big || rs->len + n > h->max_body) {
            rs->too_big = 1;
            return rs->seen > h->max_body * DRAIN_FACTOR ? MHD_NO : MHD_YES;
        }
        if (rs->len + n > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 1024;
            while (cap < rs->len + n) {
                cap *= 2;
            }
            if (cap > h->max_body) {
                cap = h->max_body;
            }
            char *b = malloc(cap + 1);
            if (b == NULL) {
                return MHD_NO;
            }
            if (rs->len > 0) {
                memcpy(b, rs->body, rs->len);
                OPENSSL_cleanse(rs->body, rs->len);
            }
            free(rs->body);
            rs->body = b;
            rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload_data, n);
        rs->len += n;
        return MHD_YES;
    }
    if (request_arrived(h, conn) != 0) {
        return MHD_NO; /* too late: cut by the deadline, already audited */
    }
    if (rs->too_big) {
        return too_big(h, conn, rs, url, method);
    }
    rs->h = h;
    rs->conn = conn;
    rs->url = url;
    rs->method = method;
    struct vmock_request req = make_request(conn, url, method, rs);
    struct vmock_reply rep;
    vmock_api_handle(h->srv, &req, &rep);
    return answer(h, conn, rs, url, method, &rep);
}

/* The audit error name of a request the HTTP layer ended without an answer from the API. */
static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
        case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
            return "TimeoutReached";
        case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
            return "ServerShutdown";
        case MHD_REQUEST_TERMINATED_READ_ERROR:
        case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
            return "ClientGone";
        case MHD_REQUEST_TERMINATED_WITH_ERROR:
        case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        default:
            return "RejectedByHttpLayer";
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct vmock_http *h = cls;
    struct req_state *rs = *req_cls;
    int cut = request_ended(h, conn);
    if (rs == NULL) {
        return;
    }
    if (!rs->answered && !cut) {
        char remote[INET6_ADDRSTRLEN];
        char rid[37];
        request_id(rid);
        client_address(conn, remote, sizeof(remote));
        struct vmock_audit_rec rec = {
            .request_id = rid,
            .operation = vmock_op_name(VMOCK_OP_UNKNOWN),
            .path = rs->path,
            .remote = remote,
            .status = 0,
            .error = termination_name(toe),
            .latency_us = (mono_ns() - rs->t0_ns) / 1000u,
        };
        (void)vmock_audit_write(&h->srv->audit, &rec); /* nobody left to tell if it fails */
    }
    if (rs->body != NULL) {
        OPENSSL_cleanse(rs->body, rs->len);
        free(rs->body);
    }
    free(rs->raw_uri);
    free(rs);
    *req_cls = NULL;
}

/* How long the acceptor waits between looks at a full house or the stop pipe. */
#define ACCEPT_TICK_MS 20

/*
 * All slots are taken and a connection waits: shut down the oldest one that
 * has not sent a request line yet (see the top of the file), unless one
 * evicted earlier is still closing.
 */
static void evict_one(struct vmock_http *h)
{
    struct conn_state *oldest = NULL;
    pthread_mutex_lock(&h->mu);
    for (struct conn_state *cs = h->conns; cs != NULL; cs = cs->next) {
        if (cs->evicted) {
            oldest = NULL; /* one at a time: wait until it is closed */
            break;
        }
        if (cs->first && !cs->cut && cs->path[0] == '\0' &&
            (oldest == NULL || cs->t0_ns <= oldest->t0_ns)) {
            oldest = cs;
        }
    }
    if (oldest != NULL) {
        oldest->cut = 1;
        oldest->evicted = 1;
        shutdown(oldest->fd, SHUT_RDWR); /* libmicrohttpd sees the peer gone and closes */
        atomic_fetch_add(&h->srv->stats.conns_evicted, 1);
    }
    pthread_mutex_unlock(&h->mu);
}

/*
 * The acceptor (thread per connection): accept while fewer than
 * max_connections are admitted, else leave new connections in the listen
 * queue; hand each to libmicrohttpd.
 */
static void *acceptor_main(void *arg)
{
    struct vmock_http *h = arg;
    for (;;) {
        int full = atomic_load(&h->admitted) >= h->max_connections;
        struct pollfd p[2] = {{.fd = h->wake[0], .events = POLLIN},
                              {.fd = h->listen_fd, .events = POLLIN}};
        int n = poll(p, 2, full ? ACCEPT_TICK_MS : -1);
        if (n > 0 && (p[0].revents & POLLIN) != 0) {
            return NULL; /* stop */
        }
        if (n <= 0 || (p[1].revents & POLLIN) == 0) {
            continue;
        }
        if (full) {
            /* someone waits: make room, then look again a tick later (no busy loop) */
            evict_one(h);
            if (poll(p, 1, ACCEPT_TICK_MS) > 0) {
                return NULL; /* stop */
            }
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(h->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                poll(NULL, 0, ACCEPT_TICK_MS); /* out of descriptors: let some close */
            }
            continue;
        }
        atomic_fetch_add(&h->admitted, 1);
        if (MHD_add_connection(h->daemon, fd, (struct sockaddr *)&ss, sl) != MHD_YES) {
            atomic_fetch_sub(&h->admitted, 1); /* refused (per-address limit): closed by MHD */
        }
    }
}

/* Make and bind the own listening socket for |sa|; -1 on failure. */
static int listen_on(const struct sockaddr *sa, socklen_t sa_len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, sa, sa_len) != 0 || listen(fd, SOMAXCONN) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* libmicrohttpd's error log: its format strings, checked as printf formats. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("vault-mock: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

struct vmock_http *vmock_http_start(struct vmock_server *srv, const struct vmock_http_config *cfg,
                                    uint16_t *port, struct base_err *e)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa = NULL;
    socklen_t sa_len = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    if (inet_pton(AF_INET, cfg->host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(cfg->port);
        sa = (struct sockaddr *)&sin;
        sa_len = sizeof(sin);
    } else if (inet_pton(AF_INET6, cfg->host, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(cfg->port);
        sa = (struct sockaddr *)&sin6;
        sa_len = sizeof(sin6);
        flags |= MHD_USE_IPv6;
    } else {
        BASE_FAIL(e, BASE_ERR_IO, "listen address %s is not a numeric IPv4 or IPv6 address",
                  cfg->host);
        return NULL;
    }
    struct vmock_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->srv = srv;
    h->listen_fd = -1;
    h->wake[0] = -1;
    h->wake[1] = -1;
    h->max_connections = cfg->max_connections;
    h->max_body = cfg->max_body;
    h->deadline_ns = (uint64_t)cfg->request_timeout_s * 1000000000u;
    h->first_ns = (uint64_t)cfg->handshake_timeout_s * 1000000000u;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->mu, NULL);
    if (cfg->cert_pem != NULL) {
        flags |= MHD_USE_TLS;
    }
    unsigned pool = cfg->threads;
    if (cfg->thread_per_connection) {
        /* poll(): no FD_SETSIZE limit; the vault's own listener, see the top of the file */
        flags |=
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
        pool = 0;
        h->listen_fd = listen_on(sa, sa_len);
        if (h->listen_fd < 0 || pipe2(h->wake, O_CLOEXEC) != 0) {
            BASE_FAIL(e, BASE_ERR_IO, "cannot listen on %s:%u: %s", cfg->host, (unsigned)cfg->port,
                      strerror(errno));
            vmock_http_stop(h);
            return NULL;
        }
    } else {
        flags |= MHD_USE_EPOLL;
    }
    struct MHD_OptionItem opts[5];
    size_t n_opts = 0;
    if (cfg->cert_pem != NULL) {
        opts[n_opts++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)cfg->key_pem};
        opts[n_opts++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)cfg->cert_pem};
    }
    if (pool > 1) {
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)pool, NULL};
    }
    if (cfg->max_connections_per_ip > 0) {
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                                 (intptr_t)cfg->max_connections_per_ip, NULL};
    }
    opts[n_opts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /*
     * With the own listener the acceptor enforces max_connections; the
     * margin keeps libmicrohttpd from refusing one whose predecessor it has
     * reported closed but not yet counted out.
     */
    unsigned mhd_limit = cfg->max_connections + (h->listen_fd >= 0 ? 16u : 0u);
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (h->daemon == NULL) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot start the HTTP%s server on %s:%u (address in use?)",
                  cfg->cert_pem != NULL ? "S" : "", cfg->host, (unsigned)cfg->port);
        vmock_http_stop(h);
        return NULL;
    }
    if (h->deadline_ns > 0 || h->first_ns > 0) {
        if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
            BASE_FAIL(e, BASE_ERR_IO, "cannot start the request-deadline thread");
            vmock_http_stop(h);
            return NULL;
        }
        h->watchdog_running = 1;
    }
    if (h->listen_fd >= 0) {
        struct sockaddr_storage bound;
        socklen_t bl = sizeof(bound);
        if (getsockname(h->listen_fd, (struct sockaddr *)&bound, &bl) != 0 ||
            pthread_create(&h->acceptor, NULL, acceptor_main, h) != 0) {
            BASE_FAIL(e, BASE_ERR_IO, "cannot start the acceptor thread");
            vmock_http_stop(h);
            return NULL;
        }
        h->acceptor_running = 1;
        *port = ntohs(bound.ss_family == AF_INET6
                          ? ((const struct sockaddr_in6 *)(const void *)&bound)->sin6_port
                          : ((const struct sockaddr_in *)(const void *)&bound)->sin_port);
        return h;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = di != NULL ? di->port : cfg->port;
    return h;
}

void vmock_http_stop(struct vmock_http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->acceptor_running) {
        char b = 's';
        while (write(h->wake[1], &b, 1) < 0 && errno == EINTR) {
        }
        pthread_join(h->acceptor, NULL);
    }
    if (h->listen_fd >= 0) {
        close(h->listen_fd); /* no new connections from here on */
    }
    for (int i = 0; i < 2; i++) {
        if (h->wake[i] >= 0) {
            close(h->wake[i]);
        }
    }
    if (h->watchdog_running) {
        pthread_mutex_lock(&h->mu);
        h->stopping = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->watchdog, NULL);
    }
    if (h->daemon != NULL) {
        MHD_stop_daemon(h->daemon); /* closes every connection, which frees its clock */
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
