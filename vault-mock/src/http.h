/*
 * http.h - the HTTP(S) front end on GNU libmicrohttpd: TLS with the PEM
 * key and certificate, a worker thread pool (epoll) or a thread per
 * connection, body accumulation with a hard maximum (413), connection
 * limits (total and per client address), the idle timeout, a whole-request
 * deadline and a shorter one for a connection's first request (the
 * handshake timeout), poll/epoll only (no FD_SETSIZE limit), one audit line
 * per request before its answer.
 */
#ifndef VMOCK_HTTP_H
#define VMOCK_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "base_err.h"

struct vmock_http_config {
    const char *host;     /* numeric IPv4 or IPv6 address */
    uint16_t port;        /* 0 = any free port */
    const char *cert_pem; /* NULL: plain HTTP */
    const char *key_pem;
    size_t max_body;
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0: no per-address limit */
    unsigned timeout_s;              /* idle timeout */
    unsigned request_timeout_s;      /* whole-request deadline; 0: none */
    unsigned handshake_timeout_s;    /* a connection's first request (TLS included); 0: none */
    unsigned threads;                /* worker pool size */
    int thread_per_connection;
};

struct vmock_http;

/*
 * vmock_http_start starts serving |srv| as |cfg| says. Returns the server
 * (stop with vmock_http_stop) or NULL with |e| filled. |*port| receives
 * the bound port.
 */
struct vmock_http *vmock_http_start(struct vmock_server *srv, const struct vmock_http_config *cfg,
                                    uint16_t *port, struct base_err *e);
/* vmock_http_stop stops accepting, finishes the connections and frees |h|; NULL is a no-op. */
void vmock_http_stop(struct vmock_http *h);

#endif /* VMOCK_HTTP_H */
