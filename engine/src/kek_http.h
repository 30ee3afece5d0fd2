/*
 * kek_http.h - the HTTP(S) transport under the engine's remote KEK providers
 * (private to the engine; not part of the public API).
 *
 * A remote key service speaks a protocol (URLs, JSON bodies, how answers
 * map to engine errors: kek_vault.c for the Azure Key Vault keys API) over
 * this transport, which owns everything that is not the protocol:
 *   - connections: ENG_HTTP_LANES libcurl easy handles ("lanes"), each with
 *     its connection cache (keep-alive, TLS session reuse) and its own answer
 *     buffer; a call takes the first free lane, so one caller uses one
 *     connection and concurrent callers get one each, up to ENG_HTTP_LANES;
 *   - TLS: peer and host name verified against |ca_file| (or the system's
 *     CAs), plain http:// refused unless |insecure_http|, no redirects,
 *     SSL_OP_CLEANSE_PLAINTEXT so TLS record buffers do not keep answers;
 *   - retries: 429, 5xx and transport failures other than TLS trust and
 *     CA-file errors are retried up to |max_retries| times with exponential
 *     backoff and jitter, or after the answer's Retry-After, every wait
 *     capped at |backoff_max_ms|, all within |deadline_ms| per call;
 *   - the answer cap: an answer of |answer_max| bytes or more aborts the
 *     transfer (ENG_ERR_VAULT_PROTOCOL once retries are spent);
 *   - the counters of struct eng_kek_stats (eng_keys.h): requests, retries,
 *     connections, last status, calls in flight, per-request latency, and
 *     the get / wrap / unwrap calls the protocol reports.
 *
 * Secrets: the header lines (a bearer token) are kept in the engine's
 * secure memory and wiped on free; the answer buffer (a base_buf in secure
 * memory) is wiped when it grows, before every request, after the protocol
 * has read it, and on free. A protocol builds request bodies that carry a
 * secret in eng_http_secret_buf_init's buffers.
 *
 * Threads: every function may be called from several threads at once on one
 * transport, except eng_http_free.
 */
#ifndef ENG_KEK_HTTP_H
#define ENG_KEK_HTTP_H

#include <stddef.h>
#include <time.h>

#include "base_buf.h"
#include "eng_keys.h"

#define ENG_HTTP_LANES             2              /* connections per transport: one per core here */
#define ENG_HTTP_ANSWER_MAX        (256U * 1024U) /* default answer cap, in bytes */
#define ENG_HTTP_URL_MAX           1024U          /* base URL + path, with the NUL */
#define ENG_HTTP_HEADERS_MAX       8              /* header lines per transport */
#define ENG_HTTP_RETRY_AFTER_MAX_S 86400L         /* longest Retry-After honoured (one day) */

struct eng_http_config {
    const char *base_url;       /* "https://host[:port][/prefix]": each path is appended to it */
    const char *const *headers; /* NULL-terminated "Name: value" lines sent with every request
                                 * (may hold a token: copied into secure memory) */
    const char *ca_file;        /* PEM file of the CA to trust; NULL = the system's */
    int insecure_http;          /* 1: accept an http:// base URL (headers travel in clear text) */
    size_t answer_max;          /* answers must be shorter than this; 0 = ENG_HTTP_ANSWER_MAX */
    long timeout_ms;            /* per request, connect included; 0 = 5000 */
    int max_retries;            /* retries after the first try for transient failures; -1 = 3 */
    long backoff_base_ms;       /* first backoff; 0 = 50 (doubles, with jitter) */
    long backoff_max_ms;        /* cap of one wait, Retry-After included; 0 = 2000 */
    long deadline_ms;           /* one call, retries and waits included; 0 = 30000 */
};

struct eng_http;

/*
 * eng_http_url_has_userinfo returns 1 when |url| names a user or password
 * ("https://user:pw@host", any scheme, any case), else 0. A protocol calls it
 * first to refuse such a URL before its other checks (the transport refuses
 * it too).
 */
int eng_http_url_has_userinfo(const char *url);

/*
 * eng_http_open returns a transport for |cfg| (copied; nothing is sent).
 * NULL on failure with the error set, checked in this order: ENG_ERR_NULL
 * (|cfg| or |base_url| NULL), ENG_ERR_VAULT_URL_USERINFO (a user or password
 * in the URL), ENG_ERR_ARG (not http:// or https://, a URL of
 * ENG_HTTP_URL_MAX bytes or more, more than ENG_HTTP_HEADERS_MAX header
 * lines, a header line empty or with a byte outside 0x20..0x7e: no header
 * injection), ENG_ERR_VAULT_INSECURE (http:// without |insecure_http|),
 * ENG_ERR_VAULT_CA_FILE (|ca_file| missing, unreadable, not a regular file -
 * opened without blocking, so a FIFO does not hang -, or without a PEM
 * certificate), ENG_ERR_NOMEM.
 * Free with eng_http_free.
 */
struct eng_http *eng_http_open(const struct eng_http_config *cfg);

/* eng_http_free closes the connections and wipes and frees the answers and headers. NULL: no-op. */
void eng_http_free(struct eng_http *h);

/*
 * The protocol's reader of one answer: |status| is the HTTP status of the
 * last try (after retries), |body| its body (NUL-terminated, |len| bytes,
 * never NULL, possibly empty). It runs while the transport holds the lane;
 * the body is wiped when it returns, so it must copy what it keeps (and
 * wipe any copy of a secret). Its return value is eng_http_exchange's.
 */
typedef int (*eng_http_reader)(void *arg, long status, const char *body, size_t len);

/*
 * eng_http_exchange sends one request to base_url + |path| (GET when |body|
 * is NULL, else POST of the NUL-terminated |body|), retrying transient
 * failures as described above, and hands the final answer to |read|.
 * Returns what |read| returns; or -1 without calling it when no answer came
 * back: ENG_ERR_VAULT_TLS_UNTRUSTED (a server certificate the CA does not
 * vouch for, or for another host name), ENG_ERR_VAULT_CA_FILE (a CA file
 * libcurl cannot use), ENG_ERR_VAULT_TLS (another TLS handshake failure),
 * ENG_ERR_VAULT_PROTOCOL (an answer of answer_max bytes or more),
 * ENG_ERR_VAULT_UNREACHABLE (network, timeout), ENG_ERR_ARG (base_url +
 * |path| of ENG_HTTP_URL_MAX bytes or more), ENG_ERR_NULL. When a
 * Retry-After asks for more than the time left before the deadline, the
 * call stops at once and |read| gets that answer (a 429 or 503). |body| is
 * not kept: the caller wipes it if it holds a secret.
 */
int eng_http_exchange(struct eng_http *h, const char *path, const char *body, eng_http_reader read,
                      void *arg);

/*
 * eng_http_secret_buf_init starts |b| as a base_buf (base/include/base_buf.h)
 * for bytes that carry a secret (a request body with a key in it): in the
 * engine's secure memory (locked, left out of core dumps), wiped when it
 * grows, is reset and is freed; at most |max| bytes. Allocates nothing yet.
 * Release with base_buf_free.
 */
void eng_http_secret_buf_init(struct base_buf *b, size_t max);

/* Which provider call the protocol is serving, for the counters. */
enum eng_http_call { ENG_HTTP_CALL_GET, ENG_HTTP_CALL_WRAP, ENG_HTTP_CALL_UNWRAP };

/* eng_http_count_call counts one provider call of kind |call| (gets, wraps, unwraps). */
void eng_http_count_call(struct eng_http *h, enum eng_http_call call);

/* eng_http_stats copies the transport's counters into |out| (a consistent snapshot). */
void eng_http_stats(struct eng_http *h, struct eng_kek_stats *out);

/*
 * eng_http_parse_retry_after parses the value of a Retry-After header
 * (RFC 9110 10.2.3; |len| bytes, not NUL-terminated, surrounding spaces,
 * tabs, CR and LF ignored): delta-seconds (digits only: no sign, no
 * fraction, nothing after) or an IMF-fixdate HTTP-date ("Sun, 06 Nov 1994
 * 08:49:37 GMT"), taken relative to |now| (seconds since 1970). Returns the
 * seconds to wait in 0 .. ENG_HTTP_RETRY_AFTER_MAX_S (larger values,
 * however many digits, are clamped; a date in the past gives 0), or -1 when
 * the value is empty or malformed (then the header counts as absent).
 */
long eng_http_parse_retry_after(const char *v, size_t len, time_t now);

#endif /* ENG_KEK_HTTP_H */
