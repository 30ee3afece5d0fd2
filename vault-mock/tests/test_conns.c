/*
 * test_conns.c - slow clients and connection limits, in both threading
 * modes (a thread per connection, an epoll pool): clients that stall or
 * trickle a byte every half second over TCP and TLS are cut at the request
 * deadline (--request-timeout) while normal clients keep being served, and
 * audited; a per-address limit (--max-connections-per-ip) closes extra
 * connections at once and is never exceeded; at the total limit
 * (--max-connections) a new connection waits unanswered and is served once
 * a slot frees.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmt.h"

#define S        (&vmt_srv)
#define DEADLINE 3.0  /* --request-timeout in the tests */
#define SLACK    6.0  /* watchdog tick, client polling and a loaded machine */
#define GIVE_UP  30.0 /* a slow client that is not cut by then is a failure */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A TLS session over |fd| verified against the vault's CA; NULL when the handshake fails. */
static SSL *tls_over(int fd, SSL_CTX **ctx_out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, S->ca, NULL) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    *ctx_out = ctx;
    return ssl;
}

enum slow_kind { SLOW_TCP_SILENT, SLOW_TLS_STALL, SLOW_TLS_TRICKLE_LINE, SLOW_TLS_TRICKLE_BODY };
#define N_SLOW 4

struct slow {
    enum slow_kind kind;
    int port;
    const char *token;
    double cut_after; /* seconds from connect to the close; -1: not cut, -2: setup failed */
};

/*
 * Send |head| at once, then |trickle| a byte every 0.5 s (none: just wait),
 * until the server closes the connection. Works on |ssl| or, when NULL, |fd|.
 */
static double slow_send(int fd, SSL *ssl, const char *head, const char *trickle, double t0)
{
    if (head != NULL && head[0] != '\0' &&
        (ssl != NULL ? SSL_write(ssl, head, (int)strlen(head))
                     : (int)send(fd, head, strlen(head), 0)) <= 0) {
        return -2;
    }
    size_t i = 0;
    while (now_s() - t0 < GIVE_UP) {
        if (vmt_closed_within(fd, 500)) {
            return now_s() - t0;
        }
        if (trickle != NULL && trickle[i] != '\0') {
            int w = ssl != NULL ? SSL_write(ssl, &trickle[i], 1)
                                : (int)send(fd, &trickle[i], 1, MSG_NOSIGNAL);
            if (w <= 0) {
                return now_s() - t0; /* the write failed: already cut */
            }
            i++;
        }
    }
    return -1;
}

static void *slow_main(void *arg)
{
    struct slow *sl = arg;
    double t0 = now_s();
    int fd = vmt_tcp_connect(sl->port);
    sl->cut_after = -2;
    if (fd < 0) {
        return NULL;
    }
    if (sl->kind == SLOW_TCP_SILENT) {
        sl->cut_after = slow_send(fd, NULL, NULL, NULL, t0);
        close(fd);
        return NULL;
    }
    SSL_CTX *ctx = NULL;
    SSL *ssl = tls_over(fd, &ctx);
    if (ssl == NULL) {
        close(fd);
        return NULL;
    }
    char head[512];
    switch (sl->kind) {
        case SLOW_TLS_STALL: /* request line and part of the headers, then nothing */
            sl->cut_after = slow_send(
                fd, ssl, "GET /keys/stalled?" VMT_API " HTTP/1.1\r\nHost: localhost\r\n", NULL, t0);
            break;
        case SLOW_TLS_TRICKLE_LINE:
            sl->cut_after = slow_send(
                fd, ssl, "", "GET /keys?" VMT_API " HTTP/1.1\r\nHost: localhost\r\n\r\n", t0);
            break;
        case SLOW_TLS_TRICKLE_BODY:
        default:
            snprintf(head, sizeof(head),
                     "POST /keys/slow/create?" VMT_API
                     " HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: 200\r\n\r\n",
                     sl->token);
            sl->cut_after =
                slow_send(fd, ssl, head,
                          "{\"kty\":\"RSA\",\"tags\":{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
                          t0);
            break;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return NULL;
}

static const char *const slow_names[N_SLOW] = {"silent TCP", "stalled TLS headers",
                                               "TLS request line a byte per 0.5 s",
                                               "TLS body a byte per 0.5 s"};

/* The RequestTimeout lines of the audit log after |off| (which is not moved). */
static int timeout_lines(long off)
{
    cJSON *lines[64];
    size_t n = vmt_audit_tail(S, &off, lines, 64);
    int cuts = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        const char *err = vmt_jstr(lines[i], "error");
        cuts += err != NULL && strcmp(err, "RequestTimeout") == 0;
        cJSON_Delete(lines[i]);
    }
    return cuts;
}

static void slow_clients_are_cut(const char *mode, const char *const *args)
{
    signal(SIGPIPE, SIG_IGN);
    vmt_setup_args(args);
    const char *ko = vmt_token(S, "keyofficer");
    long off = vmt_audit_end(S);
    struct slow sl[N_SLOW];
    pthread_t th[N_SLOW];
    for (int i = 0; i < N_SLOW; i++) {
        sl[i] = (struct slow){.kind = (enum slow_kind)i, .port = tl_vault_port(S), .token = ko};
        cr_assert_eq(pthread_create(&th[i], NULL, slow_main, &sl[i]), 0);
    }
    /* normal clients, each on a new connection, while the slow ones hang on */
    S->fresh = 1;
    int served = 0;
    double t_end = now_s() + DEADLINE + 1.0;
    while (now_s() < t_end) {
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, ko, NULL, &r), 200,
                     "a normal client is served during the stall (curl %d)", r.curl_code);
        vmt_resp_free(&r);
        served++;
        usleep(200000);
    }
    for (int i = 0; i < N_SLOW; i++) {
        pthread_join(th[i], NULL);
    }
    S->fresh = 0;
    /* the server writes a cut's audit line after it has shut the socket: wait for them */
    for (int k = 0; k < 50 && timeout_lines(off) < N_SLOW; k++) {
        usleep(100000);
    }
    for (int i = 0; i < N_SLOW; i++) {
        cr_assert(sl[i].cut_after >= DEADLINE && sl[i].cut_after <= DEADLINE + SLACK,
                  "%s: %s cut after %.2f s, deadline %.0f s", mode, slow_names[i], sl[i].cut_after,
                  DEADLINE);
    }
    /* one audit line per cut request, saying what had arrived */
    cJSON *lines[64];
    size_t n = vmt_audit_tail(S, &off, lines, 64);
    cr_assert_leq(n, 64);
    int cuts = 0;
    int body_cut = 0;
    int stall_cut = 0;
    for (size_t i = 0; i < n; i++) {
        const char *err = vmt_jstr(lines[i], "error");
        if (err != NULL && strcmp(err, "RequestTimeout") == 0) {
            cuts++;
            cr_assert_eq(vmt_jint(lines[i], "status"), 0);
            const char *path = vmt_jstr(lines[i], "path");
            if (path != NULL && strcmp(path, "/keys/slow/create") == 0) {
                body_cut++;
                cr_assert_str_eq(vmt_jstr(lines[i], "operation"), "create");
                cr_assert_str_eq(vmt_jstr(lines[i], "identity"), "keyofficer");
                cr_assert_str_eq(vmt_jstr(lines[i], "key"), "slow");
                cr_assert_str_eq(vmt_jstr(lines[i], "method"), "POST");
            } else if (path != NULL && strcmp(path, "/keys/stalled") == 0) {
                stall_cut++;
            } else {
                cr_assert_null(path, "a cut before the request line has no path");
            }
            cr_assert_geq(vmt_jint(lines[i], "latency_us"), (int)(DEADLINE * 1e6));
        } else {
            cr_assert_str_eq(vmt_jstr(lines[i], "operation"), "list", "only the normal clients");
            cr_assert_eq(vmt_jint(lines[i], "status"), 200);
        }
        cJSON_Delete(lines[i]);
    }
    cr_assert_eq(cuts, N_SLOW);
    cr_assert_eq(body_cut, 1);
    cr_assert_eq(stall_cut, 1);
    vmt_expect(S, "GET", "/keys/slow?" VMT_API, ko, NULL, 404); /* the cut create did nothing */
    /* and counts it just after the line: poll the counter briefly too */
    double counted = -1;
    for (int k = 0; k < 50 && counted < N_SLOW; k++) {
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "GET", "/admin/stats", vmt_token(S, "admin"), NULL, &r), 200);
        counted = vmt_num(&r, "request_timeouts");
        vmt_resp_free(&r);
        if (counted < N_SLOW) {
            usleep(100000);
        }
    }
    cr_assert_eq(counted, N_SLOW);
    fprintf(stderr,
            "conns %s: %d slow clients cut after %.2f / %.2f / %.2f / %.2f s (deadline %.0f s), "
            "%d normal requests served meanwhile, %d RequestTimeout audit lines\n",
            mode, N_SLOW, sl[0].cut_after, sl[1].cut_after, sl[2].cut_after, sl[3].cut_after,
            DEADLINE, served, cuts);
}

TestSuite(conns, .fini = vmt_teardown, .timeout = 240);

Test(conns, slow_clients_are_cut_at_the_deadline_thread_per_connection)
{
    const char *args[] = {"--request-timeout", "3", "--timeout", "30", NULL};
    slow_clients_are_cut("thread-per-connection", args);
}

Test(conns, slow_clients_are_cut_at_the_deadline_epoll_pool)
{
    const char *args[] = {"--request-timeout", "3", "--timeout", "30", "--threads", "2", NULL};
    slow_clients_are_cut("epoll pool", args);
}

Test(conns, no_deadline_with_request_timeout_0)
{
    /* 0 turns the deadline off: a trickling client outlives it; the idle timeout does not fire */
    const char *args[] = {"--request-timeout", "0", "--timeout", "30", NULL};
    vmt_setup_args(args);
    signal(SIGPIPE, SIG_IGN);
    int fd = vmt_tcp_connect(tl_vault_port(S));
    cr_assert_geq(fd, 0);
    SSL_CTX *ctx = NULL;
    SSL *ssl = tls_over(fd, &ctx);
    cr_assert_not_null(ssl);
    const char *req = "GET /keys?" VMT_API " HTTP/1.1\r\n";
    double t0 = now_s();
    for (size_t i = 0; req[i] != '\0' && now_s() - t0 < 2 * DEADLINE; i++) {
        cr_assert_eq(SSL_write(ssl, &req[i], 1), 1, "still open after %zu bytes", i);
        cr_assert_not(vmt_closed_within(fd, 500), "closed after %.2f s", now_s() - t0);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

#define N_IP_CLIENTS 6

struct holder {
    int port;
    pthread_barrier_t *go;
    int served; /* 1: TLS handshake and answer 200; 0: closed at once */
};

/* Connect, wait for the others, then TLS, one request, hold the connection 1 s. */
static void *holder_main(void *arg)
{
    struct holder *hd = arg;
    int fd = vmt_tcp_connect(hd->port);
    pthread_barrier_wait(hd->go);
    if (fd < 0) {
        return NULL;
    }
    SSL_CTX *ctx = NULL;
    SSL *ssl = tls_over(fd, &ctx);
    if (ssl != NULL) {
        const char *req = "GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n";
        char buf[64] = {0};
        if (SSL_write(ssl, req, (int)strlen(req)) > 0 && SSL_read(ssl, buf, sizeof(buf) - 1) > 0 &&
            strncmp(buf, "HTTP/1.1 401", 12) == 0) {
            hd->served = 1;
        }
        usleep(1000000);
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    close(fd);
    return NULL;
}

static void per_ip_limit(const char *mode, const char *const *args)
{
    signal(SIGPIPE, SIG_IGN);
    vmt_setup_args(args);
    int port = tl_vault_port(S);
    /* one after another: the first two are kept, every further one is closed at once */
    int fds[N_IP_CLIENTS];
    int kept = 0;
    for (int i = 0; i < N_IP_CLIENTS; i++) {
        fds[i] = vmt_tcp_connect(port);
        cr_assert_geq(fds[i], 0, "the kernel accepts the TCP connection");
        int closed = vmt_closed_within(fds[i], i < 2 ? 1000 : 5000);
        cr_assert_eq(closed, i >= 2, "%s: connection %d %s", mode, i,
                     closed ? "closed" : "kept open");
        kept += !closed;
    }
    /* a real client at the limit gets no answer; with a slot free it is served */
    struct vmt_resp r;
    S->fresh = 1;
    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, vmt_token(S, "auditor"), NULL, &r), 0);
    vmt_resp_free(&r);
    for (int i = 0; i < N_IP_CLIENTS; i++) {
        close(fds[i]);
    }
    /* the server frees the slots when it notices the closes: give it up to 5 s */
    long st = 0;
    for (int k = 0; k < 50 && st != 200; k++) {
        usleep(100000);
        st = vmt_call(S, "GET", "/keys?" VMT_API, vmt_token(S, "auditor"), NULL, &r);
        vmt_resp_free(&r);
    }
    cr_assert_eq(st, 200, "%s: a client is served once the others closed (status %ld)", mode, st);
    /* all at once: never more than the limit open, the rest closed */
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N_IP_CLIENTS);
    struct holder hd[N_IP_CLIENTS];
    pthread_t th[N_IP_CLIENTS];
    for (int i = 0; i < N_IP_CLIENTS; i++) {
        hd[i] = (struct holder){.port = port, .go = &go};
        cr_assert_eq(pthread_create(&th[i], NULL, holder_main, &hd[i]), 0);
    }
    int served = 0;
    for (int i = 0; i < N_IP_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        served += hd[i].served;
    }
    pthread_barrier_destroy(&go);
    usleep(300000);
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", vmt_token(S, "admin"), NULL, &r), 200);
    double peak = vmt_num(&r, "connections.peak");
    vmt_resp_free(&r);
    S->fresh = 0;
    cr_assert_leq(peak, 2, "%s: %.0f connections from one address at once", mode, peak);
    cr_assert_geq(served, 1, "%s: some of the simultaneous clients are served", mode);
    fprintf(stderr,
            "conns %s: per-IP limit 2: %d sequential connections, %d kept, %d closed at once; "
            "%d simultaneous clients, %d served, %d closed; peak %.0f open\n",
            mode, N_IP_CLIENTS, kept, N_IP_CLIENTS - kept, N_IP_CLIENTS, served,
            N_IP_CLIENTS - served, peak);
}

Test(conns, per_ip_limit_thread_per_connection)
{
    const char *args[] = {"--max-connections-per-ip", "2", NULL};
    per_ip_limit("thread-per-connection", args);
}

Test(conns, per_ip_limit_epoll_pool)
{
    const char *args[] = {"--max-connections-per-ip", "2", "--threads", "2", NULL};
    per_ip_limit("epoll pool", args);
}

struct waiter {
    long status;
    double t_done;
    _Atomic int done;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    struct vmt_server s = *S; /* own copy: own curl handle settings */
    s.fresh = 1;
    s.timeout_ms = 30000;
    struct vmt_resp r;
    w->status = vmt_call(&s, "GET", "/keys?" VMT_API, vmt_token(S, "auditor"), NULL, &r);
    w->t_done = now_s();
    w->done = 1;
    vmt_resp_free(&r);
    return NULL;
}

Test(conns, total_limit_queues_new_connections_until_a_slot_frees)
{
    const char *args[] = {"--max-connections", "2", "--timeout", "30", "--insecure-http", NULL};
    vmt_setup_args(args);
    (void)vmt_token(S, "auditor"); /* read tokens.json before the slots are taken */
    int port = tl_vault_port(S);
    int a = vmt_kept_alive(port);
    int b = vmt_kept_alive(port);
    struct waiter w = {0};
    pthread_t th;
    double t0 = now_s();
    cr_assert_eq(pthread_create(&th, NULL, waiter_main, &w), 0);
    usleep(2000000);
    cr_assert_eq(w.done, 0, "no answer while both slots are taken");
    double t_free = now_s();
    close(a);
    pthread_join(th, NULL);
    cr_assert_eq(w.status, 200, "the waiting client is served once a slot frees");
    close(b);
    fprintf(stderr,
            "conns: total limit 2 held: a new client waited %.2f s in the listen queue, served "
            "%.2f s after a slot freed\n",
            w.t_done - t0, w.t_done - t_free);
}
