/* serve_http.c — libmicrohttpd glue: the daemon (a thread per connection,
 * so a request may block on its job), routing, the API key, request
 * bodies, the per-request state and its log line. What each endpoint
 * answers lives in http_status.c (pool views) and http_stream.c
 * (completions). */
#include "serve_http.h"

#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "http_json.h"
#include "http_prompt.h"
#include "http_status.h"
#include "http_stream.h"
#include "serve_route.h"
#include "vec.h"

enum {
    IDLE_TIMEOUT_S = 60,   /* a connection silent this long is closed */
    MAX_CONNECTIONS = 1024,
    MAX_PER_CLIENT = 64,   /* connections from one address: one host cannot
                              hold every connection open */
    MAX_URL = 8 << 10,     /* longer: 414, and headers beyond MAX_HEADERS: 431,
                              both ours (JSON, counted); MHD's own answers
                              (HTML) only past MHD_MEMORY, far beyond them */
    MAX_HEADERS = 16 << 10,
    MHD_MEMORY = 64 << 10,
    STREAM_BLOCK = 16 << 10,
};

struct sv_http {
    struct MHD_Daemon *d;
    sv_hub *hub;
    sv_http_opts o;
    sv_prompt_ctx pc;
    int port;
    long long started;      /* Unix seconds: /v1/models' "created" */
    atomic_bool stopping;
    atomic_uint_fast64_t next_id;
};

/* One request. Freed when both the connection (request completed) and, for
 * a stream, the response (its reader done) have let go. */
typedef struct rq {
    sv_http *s;
    struct MHD_Connection *conn;
    atomic_int refs;
    uint64_t id;
    sv_route route;
    char method[8], path[64];
    char *body;             /* the request body so far, owned */
    size_t len, body_cap;
    bool too_big;           /* a body without Content-Length passed the limit */
    bool gone;              /* the client left before its answer was whole */
    int status;             /* 0 until a response is queued */
    bool counted;           /* the hub counted it already (busy, or failed by the pool) */
    double t0;
    sv_api_req api;
    sv_out out;
    bool has_out;
} rq;

/* ---- responses ------------------------------------------------------- */

static enum MHD_Result send_body(rq *r, int status, char *body, const char *type,
                                 const char *retry_after)
{
    if (!body)
        return MHD_NO; /* out of memory: drop the connection */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, sv_route_allow(r->route));
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(rq *r, int status, char *body)
{
    return send_body(r, status, body, "application/json", NULL);
}

__attribute__((format(printf, 3, 4))) static enum MHD_Result send_error(rq *r, int status,
                                                                       const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *retry = status == 503 ? "5" : NULL;
    return send_body(r, status, sv_oa_error(status, msg), "application/json", retry);
}

/* ---- the request's life ---------------------------------------------- */

static rq *rq_new(sv_http *s, struct MHD_Connection *c, const char *url, const char *method)
{
    rq *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    r->conn = c;
    atomic_init(&r->refs, 1);
    r->id = atomic_fetch_add(&s->next_id, 1) + 1;
    r->t0 = lp_now_s();
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    return r;
}

static void log_request(const rq *r)
{
    const sv_gen *g = &r->out.gen;
    const char *gone = r->gone ? " (client gone)" : "";
    if (!r->has_out || !g->job) { /* no job: status polls only if they failed */
        if (r->status >= 400 || r->gone || sv_route_is_completion(r->route))
            fprintf(stderr, "coord serve: #%llu %s %s %d%s\n", (unsigned long long)r->id,
                    r->method, r->path, r->status, gone);
        return;
    }
    double now = lp_now_s();
    double ttft = g->t_first > 0 ? (g->t_first - g->t_start) * 1e3 : 0;
    double gen_s = g->t_first > 0 ? now - g->t_first : 0;
    double tps = g->n_gen > 1 && gen_s > 0 ? (g->n_gen - 1) / gen_s : 0;
    fprintf(stderr, "coord serve: #%llu %s %s %d in %d out %d ttft %.1f ms %.1f tok/s %.3f s%s\n",
            (unsigned long long)r->id, r->method, r->path, r->status, g->n_prompt, g->n_gen,
            ttft, tps, now - r->t0, gone);
}

static void rq_unref(rq *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    log_request(r);
    sv_hub_count_status(r->s->hub, (int)r->route, r->status);
    if (sv_route_is_completion(r->route)) {
        /* a server fault; a client's own error is counted by status, and
         * a client that left is neither */
        bool failed = !r->counted && r->status >= 500;
        sv_hub_count_request(r->s->hub, r->out.gen.n_prompt, failed, r->gone);
    }
    if (r->has_out)
        sv_out_free(&r->out); /* cancels a job still running */
    sv_api_req_free(&r->api);
    free(r->body);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c;
    rq *r = *con_cls;
    if (!r)
        return;
    /* MHD may find the client gone on a write before our reader does. */
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && why != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
        r->gone = true;
    rq_unref(r);
    *con_cls = NULL;
}

/* ---- the API key ------------------------------------------------------ */

/* Comparison in time independent of where the strings differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
    return diff == 0;
}

static bool authorized(const sv_http *s, struct MHD_Connection *c)
{
    if (!s->o.api_key || !s->o.api_key[0])
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    return same_secret(h, s->o.api_key);
}

/* ---- completions ------------------------------------------------------ */

static bool model_matches(const char *asked, const char *ours)
{
    size_t n = strlen(ours);
    if (!strcmp(asked, ours))
        return true;
    /* "stories260K" names "stories260K.gguf" too */
    return n > 5 && !strcmp(ours + n - 5, ".gguf") && strlen(asked) == n - 5 &&
           !strncmp(asked, ours, n - 5);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    rq *r = cls;
    (void)pos;
    /* No idle timeout while we wait for the pool; it restarts (from now)
     * once there is something to send. */
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    ssize_t n = sv_out_read(&r->out, buf, max);
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S);
    r->gone = r->gone || n == -2;
    /* A client that left ends the stream as finished: MHD would log an
     * "internal application error" for what is the client's choice. */
    return n == -1 || n == -2 ? MHD_CONTENT_READER_END_OF_STREAM
         : n < 0              ? MHD_CONTENT_READER_END_WITH_ERROR
                              : n;
}

static void stream_done(void *cls)
{
    rq_unref(cls);
}

static enum MHD_Result start_stream(rq *r)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, r, stream_done);
    if (!resp)
        return MHD_NO;
    atomic_fetch_add(&r->refs, 1); /* the response's; stream_done lets go */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    r->status = 200;
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The job is submitted: answer once, or open the stream. */
static enum MHD_Result generate(rq *r)
{
    char *body = NULL;
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    int status = r->api.stream ? sv_out_stream_begin(&r->out, &body)
                               : sv_out_answer(&r->out, &body);
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S);
    r->counted = status == 503; /* the pool failed it: the hub counted that */
    r->gone = status == 0;
    if (status == 0)
        return MHD_NO; /* the client is gone: close */
    if (status == 200 && r->api.stream)
        return start_stream(r);
    return send_body(r, status, body, "application/json", status == 503 ? "5" : NULL);
}

static enum MHD_Result completion(rq *r, sv_api_kind kind)
{
    sv_http *s = r->s;
    lp_err err = {0};
    if (sv_api_parse(kind, r->body ? r->body : "", r->len, &r->api, &err) != 0)
        return send_error(r, 400, "%s", err.msg);
    if (r->api.model && !model_matches(r->api.model, s->o.model_name))
        return send_error(r, 404, "the model '%s' does not exist: this server has '%s'",
                          r->api.model, s->o.model_name);
    lp_token *ids = NULL;
    size_t n = 0;
    int n_predict = 0;
    int status = sv_prompt_build(&s->pc, &r->api, &ids, &n, &n_predict, &err);
    if (status != 0)
        return send_error(r, status, "%s", err.msg);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
                                                           MHD_CONNECTION_INFO_CONNECTION_FD);
    sv_gen_req gr = {.prompt = ids, .n_prompt = (int)n, .n_predict = n_predict,
                     .sampling = r->api.sp, .logprob = r->api.logprobs >= 0,
                     .top_logprobs = r->api.logprobs > 0 ? r->api.logprobs : 0,
                     .stops = r->api.stops, .n_stops = r->api.n_stops,
                     .sock = ci ? ci->connect_fd : -1, .stopping = &s->stopping};
    sv_out_init(&r->out, &r->api, r->id, s->o.model_name);
    r->has_out = true;
    bool busy = false;
    int rc = sv_gen_start(&r->out.gen, s->hub, s->o.tok, &gr, &busy, &err);
    free(ids);
    if (rc != 0) {
        r->counted = busy;
        if (busy)
            return send_body(r, 503, sv_oa_error(503, err.msg), "application/json", "1");
        return send_error(r, 500, "%s", err.msg);
    }
    return generate(r);
}

/* ---- routing ---------------------------------------------------------- */

static enum MHD_Result dispatch(rq *r)
{
    sv_http *s = r->s;
    int status = 200;
    char *body;
    switch (r->route) {
    case SV_R_HEALTH:
        body = sv_status_health(s->hub, &status);
        return send_body(r, status, body, "application/json", status == 503 ? "5" : NULL);
    case SV_R_METRICS:
        return send_body(r, 200, sv_status_metrics(s->hub), "text/plain; version=0.0.4", NULL);
    case SV_R_MODELS:
        return send_json(r, 200, sv_status_models(s->o.model_name, s->started));
    case SV_R_POOL:
        return send_json(r, 200, sv_status_pool(s->hub, s->o.model_name, s->o.n_ctx,
                                                s->o.api_key && s->o.api_key[0]));
    case SV_R_CHAT:
        return completion(r, SV_API_CHAT);
    case SV_R_COMPLETIONS:
        return completion(r, SV_API_COMPLETION);
    case SV_R_PAGE:
        return sv_route_page(r->conn, r->path, &r->status);
    default:
        return send_error(r, 404, "no route %s %s", r->method, r->path);
    }
}

/* Before the body is read: route, method, key, declared size; an answer
 * here (r->status set) ends the request. */
static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static enum MHD_Result precheck(rq *r, const char *url, const char *method)
{
    sv_http *s = r->s;
    bool method_ok = false;
    size_t headers = 0, url_len = strlen(url);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &headers);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_header_size, &url_len);
    r->route = sv_route_find(url, method, &method_ok); /* first: the limits count per route */
    if (url_len > MAX_URL)
        return send_error(r, 414, "the URL (about %zu bytes) is longer than the limit of %d",
                          url_len, MAX_URL);
    if (headers > MAX_HEADERS)
        return send_error(r, 431, "the headers (%zu bytes) are larger than the limit of %d",
                          headers, MAX_HEADERS);
    if (r->route == SV_R_NONE)
        return send_error(r, 404, "no route %s %s", method, url);
    if (!method_ok)
        return send_error(r, 405, "%s is not allowed on %s (allowed: %s)", method, url,
                          sv_route_allow(r->route));
    if (!sv_route_is_open(r->route) && !authorized(s, r->conn))
        return send_error(r, 401, "a valid API key is required (Authorization: Bearer KEY)");
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    /* Both framings at once is how requests are smuggled past a proxy
     * that reads the other one (RFC 9112 6.1: a server may refuse it). */
    if (cl && MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                          MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return send_error(r, 400, "a request with both Content-Length and Transfer-Encoding");
    if (cl && strtoull(cl, NULL, 10) > s->o.max_body)
        return send_error(r, 413, "the body (%s bytes) is larger than the limit of %zu bytes", cl,
                          s->o.max_body);
    return MHD_YES;
}

static enum MHD_Result take_body(rq *r, const char *data, size_t *size)
{
    size_t max = r->s->o.max_body, n = *size;
    *size = 0;
    if (r->too_big || n > max || r->len > max - n) {
        /* A chunked body past the limit: read on (to answer 413 at its end)
         * but keep nothing; one that goes on and on is cut off. */
        r->too_big = true;
        r->len = r->len + n < r->len ? SIZE_MAX : r->len + n;
        return r->len / 16 > max ? MHD_NO : MHD_YES;
    }
    char *b = lp_vec_reserve(r->body, &r->body_cap, r->len, n + 1, 1);
    if (!b)
        return MHD_NO;
    memcpy(b + r->len, data, n);
    r->body = b;
    r->len += n;
    b[r->len] = 0;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    rq *r = *con_cls;
    if (!r) {
        if (!(r = rq_new(cls, c, url, method)))
            return MHD_NO;
        *con_cls = r;
        return precheck(r, url, method);
    }
    if (r->status) { /* answered already: the rest of the body is dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size)
        return take_body(r, upload, upload_size);
    if (r->too_big)
        return send_error(r, 413, "the body is larger than the limit of %zu bytes",
                          r->s->o.max_body);
    return dispatch(r);
}

/* ---- the daemon ------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = 0;
    fprintf(stderr, "coord serve: http: %s\n", line);
}

/* "host:port", "[v6]:port" or ":port" (127.0.0.1). */
static struct addrinfo *resolve(const char *listen, lp_err *err)
{
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        lp_err_set(err, "listen address '%s' is not HOST:PORT", listen);
        return NULL;
    }
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)(hl - 2), listen + 1);
    else if (hl > 0)
        snprintf(host, sizeof host, "%.*s", (int)hl, listen);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        lp_err_set(err, "listen address '%s': %s", listen, gai_strerror(rc));
        return NULL;
    }
    return ai;
}

/* Listening beyond this machine with no API key: say so, once. */
static void warn_if_open(const sv_http *s, const struct addrinfo *ai)
{
    bool loopback = false;
    if (ai->ai_family == AF_INET)
        loopback = (ntohl(((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    else if (ai->ai_family == AF_INET6)
        loopback = IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
    if (!loopback && (!s->o.api_key || !s->o.api_key[0]))
        fprintf(stderr, "coord serve: warning: listening on %s with no api_key: anyone who "
                        "reaches this port can use the pool (set api_key in [server])\n",
                s->o.listen);
}

static bool start_daemon(sv_http *s, lp_err *err)
{
    struct addrinfo *ai = resolve(s->o.listen, err);
    if (!ai)
        return false;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first: MHD asks */
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_CLIENT,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_MEMORY,
                            MHD_OPTION_END);
    warn_if_open(s, ai);
    freeaddrinfo(ai);
    if (!s->d)
        return lp_err_set(err, "cannot listen on %s (in use, or not this machine's address?)",
                          s->o.listen), false;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? (int)di->port : 0;
    return true;
}

sv_http *sv_http_start(const sv_http_opts *o, sv_hub *hub, lp_err *err)
{
    sv_http *s = calloc(1, sizeof *s);
    if (!s) {
        lp_err_set(err, "out of memory");
        return NULL;
    }
    s->o = *o;
    s->hub = hub;
    s->started = (long long)time(NULL);
    atomic_init(&s->stopping, false);
    atomic_init(&s->next_id, 0);
    s->pc = (sv_prompt_ctx){.tok = o->tok, .n_ctx = o->n_ctx};
    lp_err terr = {0};
    lp_str jinja = {0};
    if (o->gguf)
        lp_gguf_get_str(o->gguf, "tokenizer.chat_template", &jinja);
    s->pc.tmpl_ok = lp_chat_resolve(o->chat_template, jinja.ptr, jinja.len, &s->pc.tmpl,
                                    &terr) == 0;
    snprintf(s->pc.tmpl_err, sizeof s->pc.tmpl_err, "%s", terr.msg);
    if (!o->tok) {
        lp_err_set(err, "the model has no tokenizer: nothing to serve over HTTP");
        free(s);
        return NULL;
    }
    if (!start_daemon(s, err)) {
        free(s);
        return NULL;
    }
    return s;
}

int sv_http_port(const sv_http *s)
{
    return s ? s->port : 0;
}

void sv_http_stop(sv_http *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true); /* waiting requests give up within 0.2 s */
    MHD_stop_daemon(s->d);
    free(s);
}
