#include "support_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "vec.h"

enum { BIG_BODY = 64 << 10 };

long long lp_http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, long long deadline)
{
    long long left = deadline - lp_http_now_ms();
    if (left <= 0)
        return -1;
    struct pollfd p = {.fd = fd, .events = ev};
    int rc = poll(&p, 1, (int)left);
    return rc > 0 ? 0 : -1;
}

/* A connection to 127.0.0.1:port, from the loopback address `from` (NULL:
 * the kernel's choice, 127.0.0.1). */
static int connect_local(int port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in src = {.sin_family = AF_INET};
    if (from && (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
                 bind(fd, (struct sockaddr *)&src, sizeof src) != 0)) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int send_all(int fd, const char *p, size_t n, long long deadline)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Room for `more` bytes after the first n of *buf. */
static int grow(char **buf, size_t *cap, size_t n, size_t more)
{
    char *b = lp_vec_reserve(*buf, cap, n, more, 1);
    if (!b)
        return -1;
    *buf = b;
    return 0;
}

/* Read more raw bytes: 1 got some, 0 end of stream, -1 timeout/error. */
static int pump(lp_http_stream *s, long long deadline)
{
    for (;;) {
        if (grow(&s->raw, &s->raw_cap, s->raw_len, 65536 + 1) != 0)
            return -1;
        ssize_t k = recv(s->fd, s->raw + s->raw_len, 65536, 0);
        if (k > 0) {
            s->raw_len += (size_t)k;
            s->raw[s->raw_len] = 0;
            return 1;
        }
        if (k == 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return errno == ECONNRESET ? 0 : -1;
        if (wait_fd(s->fd, POLLIN, deadline) != 0)
            return -1;
    }
}

static void consume_raw(lp_http_stream *s, size_t n)
{
    memmove(s->raw, s->raw + n, s->raw_len - n);
    s->raw_len -= n;
    if (s->raw)
        s->raw[s->raw_len] = 0;
}

static int to_data(lp_http_stream *s, size_t n)
{
    if (grow(&s->data, &s->data_cap, s->data_len, n + 1) != 0)
        return -1;
    memcpy(s->data + s->data_len, s->raw, n);
    s->data_len += n;
    s->data[s->data_len] = 0;
    consume_raw(s, n);
    return 0;
}

/* Move what raw holds of the body into data. chunk_left: bytes left in
 * this chunk; -1 a size line is next; -2 the CRLF after a chunk is. */
static int decode(lp_http_stream *s)
{
    if (!s->chunked)
        return to_data(s, s->raw_len);
    while (!s->eof) {
        if (s->chunk_left == -1) {
            char *nl = s->raw ? memmem(s->raw, s->raw_len, "\r\n", 2) : NULL;
            if (!nl)
                return 0;
            long size = strtol(s->raw, NULL, 16);
            consume_raw(s, (size_t)(nl - s->raw) + 2);
            if (size <= 0)
                s->eof = true; /* the last chunk (trailers ignored) */
            s->chunk_left = size;
        } else if (s->chunk_left == -2) {
            if (s->raw_len < 2)
                return 0;
            consume_raw(s, 2);
            s->chunk_left = -1;
        } else {
            size_t take = s->raw_len < (size_t)s->chunk_left ? s->raw_len : (size_t)s->chunk_left;
            if (take == 0)
                return 0;
            if (to_data(s, take) != 0)
                return -1;
            s->chunk_left -= (long)take;
            if (s->chunk_left == 0)
                s->chunk_left = -2;
        }
    }
    return 0;
}

/* Status line and headers; a 100 Continue is returned as it is. */
static int read_head(lp_http_stream *s, long long deadline)
{
    char *end;
    while (!(end = s->raw ? strstr(s->raw, "\r\n\r\n") : NULL))
        if (pump(s, deadline) != 1)
            return -1;
    size_t n = (size_t)(end - s->raw) + 4;
    free(s->headers);
    if (!(s->headers = strndup(s->raw, n)))
        return -1;
    consume_raw(s, n);
    if (sscanf(s->headers, "HTTP/1.%*d %d", &s->status) != 1)
        return -1;
    char v[64];
    lp_http_resp tmp = {.headers = s->headers};
    s->chunked = lp_http_header(&tmp, "Transfer-Encoding", v, sizeof v) &&
                 !strcasecmp(v, "chunked");
    s->chunk_left = -1;
    return 0;
}

int lp_http_open(lp_http_stream *s, int port, const char *method, const char *path,
                 const char *extra, const char *body, size_t len, int timeout_ms)
{
    return lp_http_open_from(s, NULL, port, method, path, extra, body, len, timeout_ms);
}

int lp_http_open_from(lp_http_stream *s, const char *from, int port, const char *method,
                      const char *path, const char *extra, const char *body, size_t len,
                      int timeout_ms)
{
    memset(s, 0, sizeof *s);
    long long deadline = lp_http_now_ms() + timeout_ms;
    if ((s->fd = connect_local(port, from)) < 0)
        return -1;
    bool big = body && len > BIG_BODY;
    size_t cap = strlen(method) + strlen(path) + (extra ? strlen(extra) : 0) + 256;
    char *head = malloc(cap); /* a test may send a path or headers of any size */
    if (!head)
        return -1;
    int n = snprintf(head, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s", method,
                     path, port, extra ? extra : "");
    if (body)
        n += snprintf(head + n, cap - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n%s", len,
                      big ? "Expect: 100-continue\r\n" : "");
    n += snprintf(head + n, cap - (size_t)n, "\r\n");
    int sent = send_all(s->fd, head, (size_t)n, deadline);
    free(head);
    if (sent != 0)
        return -1;
    if (big) {
        if (read_head(s, deadline) != 0)
            return -1;
        if (s->status != 100)
            return decode(s); /* refused before the body was sent */
    }
    if (body && send_all(s->fd, body, len, deadline) != 0)
        return -1;
    do {
        if (read_head(s, deadline) != 0)
            return -1;
    } while (s->status == 100);
    return decode(s);
}

char *lp_http_next_event(lp_http_stream *s, int timeout_ms, bool *timed_out)
{
    long long deadline = lp_http_now_ms() + timeout_ms;
    if (timed_out)
        *timed_out = false;
    for (;;) {
        char *end = s->data ? strstr(s->data, "\n\n") : NULL;
        if (end) {
            size_t n = (size_t)(end - s->data);
            char *ev = strndup(s->data, n), *out = ev ? calloc(1, n + 1) : NULL;
            for (char *line = ev, *next; out && line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                    *next++ = 0;
                if (!strncmp(line, "data: ", 6))
                    strcat(out, line + 6);
            }
            free(ev);
            memmove(s->data, end + 2, s->data_len - n - 2 + 1);
            s->data_len -= n + 2;
            return out;
        }
        if (s->eof)
            return NULL;
        int rc = pump(s, deadline);
        if (rc < 0 && timed_out)
            *timed_out = true;
        if (rc <= 0) {
            s->eof = true;
            return NULL;
        }
        if (decode(s) != 0)
            return NULL;
    }
}

char *lp_http_rest(lp_http_stream *s, int timeout_ms)
{
    long long deadline = lp_http_now_ms() + timeout_ms;
    while (!s->eof) {
        int rc = pump(s, deadline);
        if (rc < 0)
            return NULL;
        if (rc == 0)
            s->eof = true;
        if (decode(s) != 0)
            return NULL;
    }
    return strndup(s->data ? s->data : "", s->data_len);
}

void lp_http_close(lp_http_stream *s)
{
    if (s->fd > 0)
        close(s->fd);
    free(s->headers);
    free(s->raw);
    free(s->data);
    memset(s, 0, sizeof *s);
}

int lp_http(int port, const char *method, const char *path, const char *extra,
            const char *body, size_t len, lp_http_resp *out, int timeout_ms)
{
    return lp_http_from(NULL, port, method, path, extra, body, len, out, timeout_ms);
}

int lp_http_from(const char *from, int port, const char *method, const char *path,
                 const char *extra, const char *body, size_t len, lp_http_resp *out,
                 int timeout_ms)
{
    lp_http_stream s;
    memset(out, 0, sizeof *out);
    int rc = lp_http_open_from(&s, from, port, method, path, extra, body, len, timeout_ms);
    char *rest = rc == 0 ? lp_http_rest(&s, timeout_ms) : NULL;
    if (rest) {
        out->status = s.status;
        out->headers = s.headers;
        s.headers = NULL;
        out->body = rest;
        out->body_len = strlen(rest);
    }
    lp_http_close(&s);
    return rest ? 0 : -1;
}

void lp_http_free(lp_http_resp *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *lp_http_header(const lp_http_resp *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(buf, cap, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            return buf;
        }
    }
    return NULL;
}

/* ---- the server process ---------------------------------------------- */

static int read_port(const char *log)
{
    size_t len = 0;
    char *text = lp_test_read_file(log, &len), *p = text ? strstr(text, "(port ") : NULL;
    int port = 0;
    if (p && strstr(p, ") ready"))
        port = atoi(p + 6);
    free(text);
    return port;
}

int lp_test_server_start(lp_test_server *s, const char *config, const char *args,
                         const char *log, int timeout_ms)
{
    char bin[4096], cmd[16384];
    memset(s, 0, sizeof *s);
    snprintf(s->log, sizeof s->log, "%s", log);
    snprintf(cmd, sizeof cmd, "exec '%s' serve --config '%s' %s 2>'%s' >/dev/null",
             lp_test_bin(bin, sizeof bin, "coord"), config, args ? args : "", log);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed test leaves no server (sh execs it) */
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    long long deadline = lp_http_now_ms() + timeout_ms;
    while (!(s->port = read_port(log))) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        if (lp_http_now_ms() > deadline)
            return -1;
        usleep(50 * 1000);
    }
    while (lp_http_now_ms() < deadline) {
        lp_http_resp r;
        int ok = lp_http(s->port, "GET", "/health", NULL, NULL, 0, &r, 5000) == 0 &&
                 r.status == 200;
        lp_http_free(&r);
        if (ok)
            return 0;
        usleep(100 * 1000);
    }
    return -1;
}

int lp_test_server_stop(lp_test_server *s, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    long long deadline = lp_http_now_ms() + timeout_ms;
    int st = 0;
    while (waitpid(s->pid, &st, WNOHANG) != s->pid) {
        if (lp_http_now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            s->pid = 0;
            return -1;
        }
        usleep(20 * 1000);
    }
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
