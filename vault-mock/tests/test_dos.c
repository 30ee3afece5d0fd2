/*
 * test_dos.c - connections that never speak must not starve the vault:
 * a default per-address limit (64) keeps one address from taking every
 * slot, the handshake timeout (default 10 s, shorter than the idle
 * timeout) closes a connection whose first request does not arrive, and
 * connections beyond FD_SETSIZE are served (poll, not select), or a
 * --max-connections the open-file limit cannot hold is refused at start.
 * Idle connections come from 127.0.0.2 (Linux routes 127/8 to lo), the
 * legitimate client from 127.0.0.1.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"

#define S (&vmt_srv)

TestSuite(dos, .fini = vmt_teardown, .timeout = 240);

/* A TCP connection from |from| to 127.0.0.1:|port|; the socket or -1. */
static int connect_from(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (fd >= 0 && (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
                    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Raise the open-file soft limit to |want| (or the hard limit); asserts it is reached. */
static void need_open_files(rlim_t want)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        cr_skip_test("the open-file hard limit %llu is below %llu", (unsigned long long)rl.rlim_max,
                     (unsigned long long)want);
    }
}

/* connections.open and .peak from /admin/stats (a request of its own, from 127.0.0.1). */
static void conn_stats(double *open, double *peak)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", vmt_token(S, "admin"), NULL, &r), 200,
                 "curl %d", r.curl_code);
    *open = vmt_num(&r, "connections.open");
    *peak = vmt_num(&r, "connections.peak");
    vmt_resp_free(&r);
}

/*
 * A client on a new connection from 127.0.0.1, with a generous deadline, lists
 * the keys; returns the HTTP status (0 when it was not served).
 */
static long fresh_client_lists_keys(void)
{
    S->fresh = 1;
    S->timeout_ms = 60000;
    struct vmt_resp r;
    long st = vmt_call(S, "GET", "/keys?" VMT_API, vmt_token(S, "auditor"), NULL, &r);
    vmt_resp_free(&r);
    return st;
}

#define N_IDLE 300

Test(dos, idle_connections_from_one_address_do_not_starve_others)
{
    /* the idle timeout is made long so that only the new defaults can free slots */
    const char *args[] = {"--timeout", "600", NULL};
    vmt_setup_args(args);
    (void)vmt_token(S, "auditor");
    (void)vmt_token(S, "admin");
    int port = tl_vault_port(S);
    int fds[N_IDLE];
    for (int i = 0; i < N_IDLE; i++) {
        fds[i] = connect_from("127.0.0.2", port);
        cr_assert_geq(fds[i], 0, "the kernel accepts connection %d", i);
    }
    /* a legitimate client from another address is served at once (generous deadline) */
    long st = fresh_client_lists_keys();
    cr_assert_eq(st, 200,
                 "a client from 127.0.0.1 is served while 127.0.0.2 holds %d idle "
                 "connections",
                 N_IDLE);
    double open = 0;
    double peak = 0;
    conn_stats(&open, &peak);
    /* 64 from 127.0.0.2, plus this client's own; never all 256 slots */
    cr_assert_leq(peak, 64 + 2, "%.0f connections held at once", peak);
    int closed = 0;
    for (int i = 0; i < N_IDLE; i++) {
        closed += vmt_closed_within(fds[i], 1);
    }
    fprintf(stderr,
            "dos: %d idle connections from 127.0.0.2: peak %.0f held, %d already closed; a "
            "client from 127.0.0.1 served\n",
            N_IDLE, peak, closed);
    for (int i = 0; i < N_IDLE; i++) {
        close(fds[i]);
    }
}

#define EV_ADDRS    8
#define EV_PER_ADDR 8
#define EV_MAX      32

Test(dos, idle_connections_from_many_addresses_are_evicted_for_a_new_client)
{
    /* No timeout can free a slot: only eviction can serve the new client. */
    const char *args[] = {
        "--max-connections",   "32", "--max-connections-per-ip", "8", "--timeout", "600",
        "--handshake-timeout", "0",  "--request-timeout",        "0", NULL};
    vmt_setup_args(args);
    (void)vmt_token(S, "auditor");
    (void)vmt_token(S, "admin");
    int port = tl_vault_port(S);
    /* 8 x 8 silent connections from 127.0.0.2..9: each address within its limit, together
     * twice --max-connections (32 accepted, 32 in the listen queue) */
    int fds[EV_ADDRS * EV_PER_ADDR];
    for (int a = 0; a < EV_ADDRS; a++) {
        char from[32];
        snprintf(from, sizeof(from), "127.0.0.%d", a + 2);
        for (int i = 0; i < EV_PER_ADDR; i++) {
            fds[a * EV_PER_ADDR + i] = connect_from(from, port);
            cr_assert_geq(fds[a * EV_PER_ADDR + i], 0, "connection %d from %s", i, from);
        }
    }
    long st = fresh_client_lists_keys();
    struct vmt_resp r;
    cr_assert_eq(st, 200,
                 "a client from 127.0.0.1 is served while %d addresses hold %d silent "
                 "connections each (limit %d in all)",
                 EV_ADDRS, EV_PER_ADDR, EV_MAX);
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", vmt_token(S, "admin"), NULL, &r), 200);
    double evicted = vmt_num(&r, "connections.evicted");
    double open = vmt_num(&r, "connections.open");
    vmt_resp_free(&r);
    /* the 32 queued ones and this client each needed a slot: at least 33 evictions */
    cr_assert_geq(evicted, EV_ADDRS * EV_PER_ADDR - EV_MAX + 1, "%.0f evicted", evicted);
    cr_assert_leq(open, EV_MAX + 16, "%.0f open", open);
    fprintf(stderr, "dos: %d silent connections from %d addresses, limit %d: %.0f evicted\n",
            EV_ADDRS * EV_PER_ADDR, EV_ADDRS, EV_MAX, evicted);
    for (int i = 0; i < EV_ADDRS * EV_PER_ADDR; i++) {
        close(fds[i]);
    }
}

Test(dos, a_connection_that_never_speaks_is_closed_by_the_handshake_timeout)
{
    /* idle timeout 600 s, request deadline 1200 s: only the handshake timeout can act */
    const char *args[] = {"--timeout", "600", NULL};
    vmt_setup_args(args);
    int port = tl_vault_port(S);
    long off = vmt_audit_end(S);
    int fd = connect_from("127.0.0.2", port);
    cr_assert_geq(fd, 0);
    /* the default is 10 s; a minute leaves room for a loaded machine */
    cr_assert(vmt_closed_within(fd, 60000),
              "a silent connection is closed by the handshake timeout");
    close(fd);
    /* its audit line names the handshake timeout */
    cJSON *lines[16];
    int found = 0;
    for (int k = 0; k < 100 && !found; k++) {
        size_t n = vmt_audit_tail(S, &off, lines, 16);
        for (size_t i = 0; i < n && i < 16; i++) {
            const char *e = vmt_jstr(lines[i], "error");
            found |= e != NULL && strcmp(e, "HandshakeTimeout") == 0 &&
                     strcmp(vmt_jstr(lines[i], "remote"), "127.0.0.2") == 0;
            cJSON_Delete(lines[i]);
        }
        if (!found) {
            usleep(50000);
        }
    }
    cr_assert(found, "an audit line with error HandshakeTimeout");
}

/* Read one HTTP answer from |fd| (headers and Content-Length body) within 30 s; its status. */
static int read_answer(int fd)
{
    char buf[8192];
    size_t n = 0;
    for (int k = 0; k < 300 && n < sizeof(buf) - 1; k++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0) {
            return -1;
        }
        n += (size_t)r;
        buf[n] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "\r\nContent-Length: ");
        if (end != NULL && cl != NULL && cl < end &&
            (size_t)(end + 4 - buf) + strtoul(cl + 18, NULL, 10) <= n) {
            if (strncmp(buf, "HTTP/1.1 ", 9) != 0) {
                return -1;
            }
            char *stop = NULL;
            long status = strtol(buf + 9, &stop, 10);
            return stop == buf + 12 && status >= 100 && status <= 599 ? (int)status : -1;
        }
    }
    return -1;
}

Test(dos, a_kept_alive_connection_is_not_cut_by_the_handshake_timeout)
{
    /* plain HTTP so that the test writes the requests itself on one connection */
    const char *args[] = {"--insecure-http", "--timeout", "600", "--handshake-timeout", "1", NULL};
    vmt_setup_args(args);
    int fd = vmt_tcp_connect(tl_vault_port(S));
    cr_assert_geq(fd, 0);
    static const char req[] = "GET /keys?" VMT_API " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
    cr_assert_eq(read_answer(fd), 401, "the first request is answered");
    /* idle for three handshake timeouts after a first request: still open, still served */
    cr_assert_eq(vmt_closed_within(fd, 3000), 0, "the kept-alive connection was cut");
    cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
    cr_assert_eq(read_answer(fd), 401, "the second request on the same connection is answered");
    close(fd);
}

#define N_MANY 1100

Test(dos, connections_beyond_fd_setsize_are_served)
{
    need_open_files(N_MANY + 512);
    const char *args[] = {"--max-connections",
                          "2000",
                          "--max-connections-per-ip",
                          "0",
                          "--timeout",
                          "600",
                          "--handshake-timeout",
                          "0",
                          NULL};
    vmt_setup_args(args);
    (void)vmt_token(S, "auditor");
    (void)vmt_token(S, "admin");
    int port = tl_vault_port(S);
    int *fds = calloc(N_MANY, sizeof(int));
    cr_assert_not_null(fds);
    for (int i = 0; i < N_MANY; i++) {
        fds[i] = connect_from("127.0.0.2", port);
        cr_assert_geq(fds[i], 0, "the kernel accepts connection %d", i);
    }
    cr_assert_gt(N_MANY, FD_SETSIZE);
    /* wait (generously) until the vault holds them all, then a client above them is served */
    double open = 0;
    double peak = 0;
    S->fresh = 1;
    S->timeout_ms = 60000;
    for (int k = 0; k < 600 && open < N_MANY; k++) {
        conn_stats(&open, &peak);
        if (open < N_MANY) {
            usleep(100000);
        }
    }
    cr_assert_geq(open, N_MANY, "the vault holds %.0f of %d connections", open, N_MANY);
    struct vmt_resp r;
    long st = vmt_call(S, "GET", "/keys?" VMT_API, vmt_token(S, "auditor"), NULL, &r);
    vmt_resp_free(&r);
    cr_assert_eq(st, 200, "a client beyond FD_SETSIZE descriptors is served");
    int still_open = 0;
    for (int i = 0; i < N_MANY; i++) {
        still_open += !vmt_closed_within(fds[i], 1);
    }
    cr_assert_eq(still_open, N_MANY, "none of the held connections was dropped");
    fprintf(stderr,
            "dos: --max-connections 2000: %.0f connections held (FD_SETSIZE %d), a further "
            "client served\n",
            open, FD_SETSIZE);
    for (int i = 0; i < N_MANY; i++) {
        close(fds[i]);
    }
    free(fds);
}

Test(dos, max_connections_beyond_the_open_file_limit_is_refused_at_start)
{
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char errpath[64];
    snprintf(errpath, sizeof(errpath), "%s/err", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = 512, .rlim_max = 512};
        FILE *e = freopen(errpath, "w", stderr);
        if (e == NULL || setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
            freopen("/dev/null", "w", stdout) == NULL) {
            _exit(99);
        }
        char state[64];
        snprintf(state, sizeof(state), "%s/s", dir);
        execl(vmt_bin(), vmt_bin(), "--state", state, "--listen", "127.0.0.1:0",
              "--max-connections", "2000", (char *)NULL);
        _exit(98);
    }
    /* it must exit at once; one still running after 30 s is stopped and fails the test */
    int status = 0;
    pid_t done = 0;
    for (int k = 0; k < 300 && done == 0; k++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) {
            usleep(100000);
        }
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    cr_assert_eq(done, pid, "vault-mock with --max-connections 2000 and 512 open files started");
    char *err = vmt_read_file(errpath, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "exit %d: %s", WEXITSTATUS(status),
              err != NULL ? err : "");
    cr_assert(err != NULL && strstr(err,
                                    "--max-connections 2000 needs 2064 open files, but the "
                                    "limit is 512") != NULL,
              "%s", err != NULL ? err : "");
    free(err);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
