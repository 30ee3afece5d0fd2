/*
 * vmt.c - Criterion helpers for vault-mock tests (asserting wrappers and
 * the per-test server), over vmt_client.c.
 */
#include "vmt.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct vmt_server vmt_srv;

void vmt_expect(struct vmt_server *s, const char *method, const char *path, const char *token,
                const char *body, long status)
{
    struct vmt_resp r;
    vmt_call(s, method, path, token, body, &r);
    cr_assert_eq(r.status, status, "%s %s: %ld %s", method, path, r.status,
                 r.body != NULL ? r.body : "");
    vmt_resp_free(&r);
}

void vmt_setup(void)
{
    memset(&vmt_srv, 0, sizeof(vmt_srv));
    cr_assert_eq(vmt_start(&vmt_srv, NULL), 0, "vault-mock did not start (%s)", vmt_bin());
}

void vmt_setup_args(const char *const *args)
{
    if (vmt_srv.pid > 0) {
        vmt_cleanup(&vmt_srv);
    }
    memset(&vmt_srv, 0, sizeof(vmt_srv));
    cr_assert_eq(vmt_start(&vmt_srv, args), 0, "vault-mock did not start (%s)", vmt_bin());
}

void vmt_teardown(void)
{
    vmt_cleanup(&vmt_srv);
}

long vmt_audit_end(struct vmt_server *s)
{
    struct stat st;
    return stat(s->audit, &st) == 0 ? (long)st.st_size : 0;
}

size_t vmt_audit_tail(struct vmt_server *s, long *offset, cJSON **out, size_t max)
{
    FILE *f = fopen(s->audit, "r");
    cr_assert_not_null(f, "audit log %s", s->audit);
    cr_assert_eq(fseek(f, *offset, SEEK_SET), 0);
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0 && line[len - 1] == '\n') {
        if (n < max) {
            out[n] = cJSON_Parse(line);
            cr_assert_not_null(out[n], "audit line is not JSON: %s", line);
        }
        n++;
        *offset += (long)len;
    }
    free(line);
    fclose(f);
    return n;
}

const char *vmt_jstr(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

int vmt_jint(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

int vmt_tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int vmt_closed_within(int fd, int ms)
{
    double end = mono_s() + ms / 1000.0;
    while (mono_s() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return 1;
        }
    }
    return 0;
}

int vmt_kept_alive(int port)
{
    int fd = vmt_tcp_connect(port);
    cr_assert_geq(fd, 0);
    static const char req[] = "GET /keys?" VMT_API " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
    char buf[64];
    size_t n = 0;
    while (n < 12) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_eq(poll(&p, 1, 30000), 1, "an answer within 30 s");
        ssize_t r = recv(fd, buf + n, 12 - n, 0);
        cr_assert_gt(r, 0);
        n += (size_t)r;
    }
    cr_assert_eq(memcmp(buf, "HTTP/1.1 401", 12), 0);
    return fd;
}
