/*
 * vmt_client.h - start bin/vault-mock as a child process on 127.0.0.1:0
 * with a fresh state folder, read its ready line, talk HTTPS to it with
 * libcurl (peer and host verified against the generated CA), stop it.
 * Shared by tests, benchmarks and the compliance suite; no test framework.
 */
#ifndef VMT_CLIENT_H
#define VMT_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

struct vmt_server {
    pid_t pid;
    char state[256];
    char url[128];
    char ca[512];
    char audit[512];
    int out_fd;      /* read end of the child's stdout */
    int fresh;       /* 1: a new connection per call (libcurl retries a failed reused one) */
    long timeout_ms; /* per call; 0: 60 s */
};

struct vmt_resp {
    long status; /* 0: no answer (connection dropped or transport error) */
    int curl_code;
    char *body;
    cJSON *json; /* parsed body, or NULL */
    char retry_after[32];
    char www_authenticate[512];
    char request_id[64];
    char content_type[128];
};

/* vmt_bin returns the path of the vault-mock program under test. */
const char *vmt_bin(void);

/*
 * vmt_start starts the server with a new temporary state folder (unless
 * |s->state| is already set, as for a restart) and the NULL-terminated
 * extra arguments |args| (may be NULL). Returns 0 when the ready line
 * arrived, -1 otherwise (then the child is gone).
 */
int vmt_start(struct vmt_server *s, const char *const *args);
/* vmt_stop sends SIGTERM and waits (then SIGKILL); returns the exit code or -1. */
int vmt_stop(struct vmt_server *s);
/* vmt_kill9 kills the server with SIGKILL and reaps it. */
void vmt_kill9(struct vmt_server *s);
/* vmt_cleanup stops the server if running and removes the state folder. */
void vmt_cleanup(struct vmt_server *s);

/* vmt_token returns the token of |name| from STATE/tokens.json (static storage per name slot). */
const char *vmt_token(struct vmt_server *s, const char *name);

/*
 * vmt_call sends |method| |path| (path plus query, appended to the server
 * URL) with bearer |token| (NULL: none) and |body| (NULL: none). Fills
 * |r| (free with vmt_resp_free). Returns r->status.
 */
long vmt_call(struct vmt_server *s, const char *method, const char *path, const char *token,
              const char *body, struct vmt_resp *r);
/* vmt_call_url is vmt_call with an absolute URL (e.g. a nextLink). */
long vmt_call_url(struct vmt_server *s, const char *method, const char *url, const char *token,
                  const char *body, struct vmt_resp *r);
/* vmt_call_raw sends |body_len| bytes; extra header line |header| may be NULL. */
long vmt_call_raw(struct vmt_server *s, const char *method, const char *path, const char *token,
                  const char *body, size_t body_len, const char *header, struct vmt_resp *r);
void vmt_resp_free(struct vmt_resp *r);

/* vmt_error_code returns error.code of an error body, or "". */
const char *vmt_error_code(const struct vmt_resp *r);
/* vmt_inner_code returns error.innererror.code, or "". */
const char *vmt_inner_code(const struct vmt_resp *r);
/* vmt_str returns the string at a dotted path ("key.kid") of the body, or NULL. */
const char *vmt_str(const struct vmt_resp *r, const char *path);
/* vmt_num returns the number at a dotted path, or -1 when absent. */
double vmt_num(const struct vmt_resp *r, const char *path);

/*
 * vmt_create_key creates RSA key |name| of |bits| as keyofficer with the
 * extra JSON members |extra| (e.g. "\"key_ops\":[\"wrapKey\"]", may be
 * NULL). Copies the new version into |version| (33 bytes). Returns the
 * HTTP status.
 */
long vmt_create_key(struct vmt_server *s, const char *name, int bits, const char *extra,
                    char *version);

/*
 * vmt_read_file returns the malloc'd contents of |path| (NUL-terminated; |len|
 * may be NULL) or NULL when it cannot be read or holds more than VMT_READ_MAX
 * bytes.
 */
#define VMT_READ_MAX ((size_t)1 << 30)
char *vmt_read_file(const char *path, size_t *len);
/* vmt_count_lines counts '\n' in the file at |path| (-1 if unreadable). */
long vmt_count_lines(const char *path);

/*
 * vmt_set_faults installs the fault rules |json| (POST /admin/faults as the
 * admin), or clears them when |json| is NULL; the HTTP status (200 set,
 * 204 cleared, 0 no answer).
 */
long vmt_set_faults(struct vmt_server *s, const char *json);

/*
 * vmt_audit_find returns the audit line (parsed; caller frees) whose
 * request_id is |request_id|, or NULL.
 */
cJSON *vmt_audit_find(struct vmt_server *s, const char *request_id);
/*
 * vmt_run_exit runs the server program with |args| (NULL-terminated, no
 * defaults added) and returns its exit code once it exits (-1 if it is
 * still running after |timeout_ms|; it is then killed). Stdout and stderr
 * are discarded.
 */
int vmt_run_exit(const char *const *args, int timeout_ms);

/*
 * vmt_under_valgrind returns 1 when CMK_UNDER_VALGRIND=1 (make valgrind sets
 * it): tests that iterate heavily cut their counts, AVX-512 tests skip.
 */
int vmt_under_valgrind(void);
/* vmt_scaled returns |n|, or |under_valgrind| when running under make valgrind. */
int vmt_scaled(int n, int under_valgrind);

/* The API version used by the tests. */
#define VMT_API "api-version=7.4"

#endif /* VMT_CLIENT_H */
