/* support_http.h — a small HTTP/1.1 client over raw sockets for the
 * end-to-end tests of `coord serve` (no libcurl), and the server process
 * itself. Requests go to 127.0.0.1 only; every wait has a deadline, so a
 * stuck server fails a test instead of hanging it. */
#ifndef LP_TEST_SUPPORT_HTTP_H
#define LP_TEST_SUPPORT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct lp_http_resp {
    int status;
    char *headers;   /* the raw header block, owned */
    char *body;      /* de-chunked, NUL-terminated, owned */
    size_t body_len;
} lp_http_resp;

/* One request on its own connection (Connection: close). extra: more
 * header lines ("Name: value\r\n"...) or NULL. A body above 64 KiB is sent
 * only after the server's 100 Continue (Expect), as curl does, so a refusal
 * (413) arrives whole. 0, or -1 on a connection error or timeout. */
int lp_http(int port, const char *method, const char *path, const char *extra,
            const char *body, size_t len, lp_http_resp *out, int timeout_ms);
void lp_http_free(lp_http_resp *r);
/* The same from the loopback address `from` ("127.0.0.2": another client
 * as the server's per-address limits see it). */
int lp_http_from(const char *from, int port, const char *method, const char *path,
                 const char *extra, const char *body, size_t len, lp_http_resp *out,
                 int timeout_ms);

/* The value of header name (case-insensitive) copied into buf, or NULL. */
const char *lp_http_header(const lp_http_resp *r, const char *name, char *buf, size_t cap);

/* A response read as it comes: Server-Sent Events one by one. */
typedef struct lp_http_stream {
    int fd;
    int status;
    char *headers;
    bool chunked, eof;
    char *raw;       /* bytes read, not yet de-chunked */
    size_t raw_len, raw_cap;
    char *data;      /* de-chunked body, not yet handed out */
    size_t data_len, data_cap;
    long chunk_left; /* bytes left in the current chunk; -1 between chunks */
} lp_http_stream;

/* Send the request and read the status line and headers. 0 or -1. */
int lp_http_open(lp_http_stream *s, int port, const char *method, const char *path,
                 const char *extra, const char *body, size_t len, int timeout_ms);
int lp_http_open_from(lp_http_stream *s, const char *from, int port, const char *method,
                      const char *path, const char *extra, const char *body, size_t len,
                      int timeout_ms);
/* The data of the next event ("data: X\n\n" gives X, malloc'd), or NULL at
 * the end of the body or on timeout (*timed_out says which, may be NULL). */
char *lp_http_next_event(lp_http_stream *s, int timeout_ms, bool *timed_out);
/* The rest of the body (malloc'd), reading to the end. */
char *lp_http_rest(lp_http_stream *s, int timeout_ms);
void lp_http_close(lp_http_stream *s);

/* `coord serve --config CONFIG ARGS` with its stderr in log (a file). */
typedef struct lp_test_server {
    pid_t pid;
    int port;
    char log[4096];
} lp_test_server;

/* Start it and wait (at most timeout_ms) for its "(port N) ready" line,
 * then for /health to answer 200. 0 or -1. */
int lp_test_server_start(lp_test_server *s, const char *config, const char *args,
                         const char *log, int timeout_ms);
/* SIGTERM and wait: its exit status (128 + signal if killed), -1 if it did
 * not exit within timeout_ms (it is then killed). */
int lp_test_server_stop(lp_test_server *s, int timeout_ms);

long long lp_http_now_ms(void);

#endif
