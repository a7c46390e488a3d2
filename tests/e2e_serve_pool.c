/* `coord serve` under many clients: 32 streams at once through a pool of 4
 * sessions (the rest queued) each get exactly the text one client alone
 * gets; a client that hangs up mid-stream ends its session on every worker
 * (their open sessions fall back to 0); beyond sessions + queue a request
 * is refused with 503 and Retry-After; with an api_key every API route
 * wants it (401) but /health does not; a worker killed mid-stream is
 * started again and the stream goes on, its text undisturbed; the
 * pool's own workers take no orders from other programs on the machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "wire.h"
#include "support_serve.h"

enum { CTX = 4096, N_CLIENTS = 32, LONG_GEN = 4000 };

typedef sv_t_fixture fixture;

static const char *const KEY_LINE = "api_key = s3cret-key\n";
static const char *const AUTH = "Authorization: Bearer s3cret-key\r\n";

static int start(void **state, int sessions, const char *server_lines, const char *args)
{
    return sv_t_fixture_start(state, 2, CTX, sessions, server_lines, args);
}

static int setup_open(void **state)
{
    return start(state, 4, NULL, "--listen 127.0.0.1:0 --queue 28");
}

static int setup_keyed(void **state)
{
    return start(state, 1, KEY_LINE, "--listen 127.0.0.1:0 --queue 0");
}


static double metric(int port, const char *name)
{
    lp_http_resp r;
    char key[128];
    if (lp_http(port, "GET", "/metrics", AUTH, NULL, 0, &r, SV_T_TIMEOUT_MS) != 0)
        return NAN;
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(r.body, key);
    double v = p ? atof(p + strlen(key)) : NAN;
    lp_http_free(&r);
    return v;
}

/* Wait until the workers' open sessions (summed) reach want. */
static bool sessions_reach(int port, int want, int timeout_ms)
{
    long long deadline = lp_http_now_ms() + timeout_ms;
    while (lp_http_now_ms() < deadline) {
        if (sv_t_sessions_open(port, AUTH) == want)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static char *long_stream_body(void)
{
    char *b = malloc(256);
    snprintf(b, 256, "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,\"temperature\":0,"
                     "\"stream\":true}", LONG_GEN);
    return b;
}

/* The log line of the request that was cut: "... 200 in 5 out N ... (client gone)". */
static int tokens_of_gone_request(const char *log, int timeout_ms)
{
    long long deadline = lp_http_now_ms() + timeout_ms;
    while (lp_http_now_ms() < deadline) {
        size_t len;
        char *text = lp_test_read_file(log, &len);
        int out = -1;
        for (char *line = text, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            const char *at = strstr(line, " 200 in 5 out ");
            if (at && strstr(line, "(client gone)"))
                out = atoi(at + strlen(" 200 in 5 out "));
        }
        free(text);
        if (out >= 0)
            return out;
        usleep(100 * 1000);
    }
    return -1;
}

/* Hang up while the pool holds the session on both workers: the session
 * ends early everywhere and the pool is empty again. */
static void test_disconnect_frees_sessions(void **state)
{
    fixture *f = *state;
    int port = f->srv.port;
    assert_true(sessions_reach(port, 0, 30000));
    char *body = long_stream_body();
    lp_http_stream s;
    assert_int_equal(lp_http_open(&s, port, "POST", "/v1/completions", NULL, body, strlen(body),
                                  SV_T_TIMEOUT_MS), 0);
    free(body);
    assert_int_equal(s.status, 200);
    long long deadline = lp_http_now_ms() + 60000, next_look = 0;
    int events = 0, open = 0;
    while (open < 2 && lp_http_now_ms() < deadline) {
        bool timed_out;
        char *ev = lp_http_next_event(&s, 100, &timed_out);
        if (!ev && !timed_out)
            fail_msg("the stream ended (%d events) before both workers showed its session",
                     events);
        events += ev != NULL;
        free(ev);
        if (lp_http_now_ms() >= next_look) {
            open = sv_t_sessions_open(port, AUTH);
            next_look = lp_http_now_ms() + 200;
        }
    }
    assert_int_equal(open, 2);
    assert_true(events > 0);
    lp_http_close(&s);

    assert_true(sessions_reach(port, 0, 30000));
    int out = tokens_of_gone_request(f->srv.log, 30000);
    if (out < 0 || out >= LONG_GEN)
        fail_msg("no log line of a request cut short (out %d)", out);
    assert_true(metric(port, "layerpool_requests_running") == 0);
    /* the client's choice: counted as cancelled, not as a server failure,
     * and not logged as an error */
    assert_true(metric(port, "layerpool_requests_cancelled_total") >= 1);
    assert_true(metric(port, "layerpool_requests_failed_total") == 0);
    assert_false(lp_test_file_has(f->srv.log, "internal"));
    print_message("[ disconnect ] after %d events; the job stopped at %d of %d tokens\n", events,
                  out, LONG_GEN);
}

typedef struct client {
    int port;
    const char *path;
    char body[1024];
    const char *want;
    sv_t_stream got;
} client;

static void *client_run(void *arg)
{
    client *c = arg;
    sv_t_stream_run(c->port, c->path, c->body, NULL, &c->got);
    return NULL;
}

/* 32 streams at once, 4 running and 28 queued: every text equals what a
 * client alone gets (llama.cpp's greedy for completions); none refused. */
static void test_concurrent_streams(void **state)
{
    fixture *f = *state;
    int port = f->srv.port, st;
    const char *chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story.\"}],"
                       "\"max_tokens\":32,\"temperature\":0%s}";
    char body[1024];
    snprintf(body, sizeof body, chat, "");
    cJSON *alone = sv_t_post(port, "/v1/chat/completions", body, NULL, &st);
    assert_int_equal(st, 200);
    const char *chat_want = sv_t_str(alone, "choices.0.message.content");
    assert_non_null(chat_want);
    double refused = metric(port, "layerpool_requests_refused_total");
    double tokens = metric(port, "layerpool_generated_tokens_total");

    client *cl = calloc(N_CLIENTS, sizeof *cl);
    pthread_t th[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        client *c = &cl[i];
        c->port = port;
        if (i % 4 == 3) {
            c->path = "/v1/chat/completions";
            snprintf(c->body, sizeof c->body, chat, ",\"stream\":true");
            c->want = chat_want;
        } else {
            int k = i % SV_T_CASES;
            c->path = "/v1/completions";
            snprintf(c->body, sizeof c->body, "{\"prompt\":\"%s\",\"max_tokens\":%d,"
                     "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                     f->ref.prompt[k], f->ref.n_gen[k]);
            c->want = f->ref.want[k];
        }
        assert_int_equal(pthread_create(&th[i], NULL, client_run, c), 0);
    }
    for (int i = 0; i < N_CLIENTS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N_CLIENTS; i++) {
        client *c = &cl[i];
        if (c->got.error[0] || c->got.status != 200 || !c->got.done)
            fail_msg("client %d: status %d: %s", i, c->got.status, c->got.error);
        if (strcmp(c->got.text, c->want))
            fail_msg("client %d got '%s', alone one gets '%s'", i, c->got.text, c->want);
        if (i % 4 != 3)
            assert_int_equal(c->got.usage_completion, f->ref.n_gen[i % SV_T_CASES]);
        sv_t_stream_free(&c->got);
    }
    free(cl);
    cJSON_Delete(alone);
    assert_true(metric(port, "layerpool_requests_refused_total") == refused);
    assert_true(metric(port, "layerpool_generated_tokens_total") >= tokens + N_CLIENTS * 24);
    assert_true(sessions_reach(port, 0, 30000));
    print_message("[ concurrent ] %d streams, every text as a single client's\n", N_CLIENTS);
}

static void expect_status(int port, const char *method, const char *path, const char *extra,
                          const char *body, int want)
{
    lp_http_resp r;
    assert_int_equal(lp_http(port, method, path, extra, body, body ? strlen(body) : 0, &r,
                             SV_T_TIMEOUT_MS), 0);
    if (r.status != want)
        fail_msg("%s %s: %d, wanted %d: %s", method, path, r.status, want, r.body);
    char v[64];
    if (want == 401) {
        assert_non_null(lp_http_header(&r, "WWW-Authenticate", v, sizeof v));
        assert_non_null(strstr(r.body, "authentication_error"));
    }
    lp_http_free(&r);
}

static void test_api_key(void **state)
{
    fixture *f = *state;
    int port = f->srv.port;
    const char *cmpl = "{\"prompt\":\"Once upon a time\",\"max_tokens\":4,\"temperature\":0}";
    expect_status(port, "GET", "/health", NULL, NULL, 200);
    expect_status(port, "GET", "/", NULL, NULL, 200); /* the page asks for the key itself */
    expect_status(port, "GET", "/v1/models", NULL, NULL, 401);
    expect_status(port, "GET", "/v1/models", "Authorization: Bearer wrong\r\n", NULL, 401);
    expect_status(port, "GET", "/v1/models", "Authorization: Bearer s3cret-key-and-more\r\n",
                  NULL, 401);
    expect_status(port, "GET", "/v1/models", AUTH, NULL, 200);
    expect_status(port, "GET", "/v1/pool", NULL, NULL, 401);
    int st;
    cJSON *pool = sv_t_get_with(port, "/v1/pool", AUTH, &st); /* behind the key: addresses */
    assert_int_equal(st, 200);
    assert_non_null(strstr(sv_t_str(pool, "workers.0.endpoint"), "tcp://127.0.0.1:"));
    assert_non_null(strstr(sv_t_str(pool, "workers.0.result_endpoint"), "tcp://"));
    cJSON_Delete(pool);
    expect_status(port, "GET", "/metrics", NULL, NULL, 401);
    expect_status(port, "POST", "/v1/completions", NULL, cmpl, 401);
    expect_status(port, "POST", "/v1/completions", "Authorization: s3cret-key\r\n", cmpl, 401);
    expect_status(port, "POST", "/v1/completions", AUTH, cmpl, 200);
}

/* One session, no queue: a second request while the first streams is
 * refused at once with 503 and Retry-After; once the first is gone the
 * pool takes requests again. */
static void test_busy(void **state)
{
    fixture *f = *state;
    int port = f->srv.port;
    assert_true(sessions_reach(port, 0, 30000));
    char *body = long_stream_body();
    lp_http_stream s;
    assert_int_equal(lp_http_open(&s, port, "POST", "/v1/completions", AUTH, body, strlen(body),
                                  SV_T_TIMEOUT_MS), 0);
    free(body);
    assert_int_equal(s.status, 200);
    char *ev = lp_http_next_event(&s, SV_T_TIMEOUT_MS, NULL);
    assert_non_null(ev);
    free(ev);

    lp_http_resp r;
    const char *small = "{\"prompt\":\"Once upon a time\",\"max_tokens\":4,\"temperature\":0}";
    assert_int_equal(lp_http(port, "POST", "/v1/completions", AUTH, small, strlen(small), &r,
                             SV_T_TIMEOUT_MS), 0);
    char retry[32];
    if (r.status != 503)
        fail_msg("wanted 503 while the only session is taken, got %d: %s", r.status, r.body);
    assert_non_null(lp_http_header(&r, "Retry-After", retry, sizeof retry));
    assert_true(atoi(retry) >= 1);
    assert_non_null(strstr(r.body, "\"unavailable_error\""));
    lp_http_free(&r);
    assert_true(metric(port, "layerpool_requests_refused_total") >= 1);
    lp_http_close(&s);

    long long deadline = lp_http_now_ms() + 30000;
    int status = 0;
    while (status != 200 && lp_http_now_ms() < deadline) {
        assert_int_equal(lp_http(port, "POST", "/v1/completions", AUTH, small, strlen(small), &r,
                                 SV_T_TIMEOUT_MS), 0);
        status = r.status;
        lp_http_free(&r);
        if (status != 200)
            usleep(100 * 1000);
    }
    assert_int_equal(status, 200);
}

static int setup_lossy(void **state) /* on every address, no key: it warns */
{
    return start(state, 2, NULL, "--listen 0.0.0.0:0 --queue 2");
}

/* Listening beyond loopback without an API key is said in the log; on
 * loopback, or with a key, it is not. */
static void expect_open_warning(void **state, bool want)
{
    fixture *f = *state;
    size_t n;
    char *log = lp_test_read_file(f->srv.log, &n);
    assert_non_null(log);
    bool has = strstr(log, "warning: listening on 0.0.0.0:0 with no api_key") != NULL;
    if (has != want)
        fail_msg("%s the warning; log:\n%s", want ? "lacks" : "has", log);
    free(log);
}

static void test_warns_open(void **state)
{
    expect_open_warning(state, true);
}

static void test_no_warning(void **state)
{
    expect_open_warning(state, false);
}

/* The workers coord started: its children, from /proc. */
static int children(pid_t parent, pid_t *out, int cap)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
    FILE *f = fopen(path, "r"); /* a /proc file: no size to read up front */
    int n = 0, v;
    while (f && n < cap && fscanf(f, "%d", &v) == 1)
        out[n++] = (pid_t)v;
    if (f)
        fclose(f);
    return n;
}


/* Wait until a request generates (tokens counted since this began). */
static void mid_stream(fixture *f)
{
    double before = metric(f->srv.port, "layerpool_generated_tokens_total");
    long long deadline = lp_http_now_ms() + 30000;
    while (metric(f->srv.port, "layerpool_generated_tokens_total") < before + 50) {
        if (lp_http_now_ms() > deadline) {
            size_t n;
            char *log = lp_test_read_file(f->srv.log, &n);
            fail_msg("no stream under way; the log ends:\n%s", log + (n > 4000 ? n - 4000 : 0));
        }
        usleep(20 * 1000);
    }
}

/* A local worker killed (kill -9) while a stream runs: coord serve reaps it,
 * starts it again, loads it, and replays the session, so the stream only
 * pauses and its text is the undisturbed one; the log says what happened
 * and /metrics counts the replay. Then one killed with nothing running:
 * the next request waits for it and succeeds. */
static void test_worker_killed_recovers(void **state)
{
    fixture *f = *state;
    int port = f->srv.port, st;
    pid_t kids[8];
    assert_int_equal(children(f->srv.pid, kids, 8), 2);
    char *body = long_stream_body();
    char whole[256];
    snprintf(whole, sizeof whole, "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,"
             "\"temperature\":0}", LONG_GEN);
    cJSON *alone = sv_t_post(port, "/v1/completions", whole, NULL, &st);
    assert_int_equal(st, 200);
    client c = {.port = port, .path = "/v1/completions"};
    snprintf(c.body, sizeof c.body, "%s", body);
    free(body);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_run, &c), 0);
    mid_stream(f);
    assert_int_equal(kill(kids[1], SIGKILL), 0);
    pthread_join(th, NULL);
    if (c.got.error[0] || c.got.status != 200 || !c.got.done)
        fail_msg("the stream broke: status %d: %s", c.got.status, c.got.error);
    assert_string_equal(c.got.text, sv_t_str(alone, "choices.0.text"));
    sv_t_stream_free(&c.got);
    assert_true(lp_test_file_has(f->srv.log, "local worker local-1 killed by signal 9"));
    assert_true(lp_test_file_has(f->srv.log, "pool: replaying a session"));
    assert_true(metric(port, "layerpool_sessions_replayed_total") >= 1);

    /* nothing running: the next request waits for the worker and succeeds */
    assert_int_equal(children(f->srv.pid, kids, 8), 2);
    assert_int_equal(kill(kids[0], SIGKILL), 0);
    char small[128];
    snprintf(small, sizeof small, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}",
             f->ref.prompt[0], f->ref.n_gen[0]);
    cJSON *o = sv_t_post(port, "/v1/completions", small, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "choices.0.text"), f->ref.want[0]);
    cJSON_Delete(o);
    cJSON_Delete(alone);
    assert_true(lp_test_file_has(f->srv.log, "local worker local-0 killed by signal 9"));
    /* and the pool says it is whole again (its view is published each second) */
    long long deadline = lp_http_now_ms() + 10000;
    bool ok = false;
    while (!ok && lp_http_now_ms() < deadline) {
        cJSON *pool = sv_t_get(port, "/v1/pool", &st);
        const char *status = sv_t_str(pool, "status");
        ok = status && !strcmp(status, "ok");
        cJSON_Delete(pool);
        usleep(100 * 1000);
    }
    assert_true(ok);
}

/* A worker stopped (SIGSTOP: a laptop that sleeps, a swap storm) longer
 * than the heartbeat timeout while a stream runs, then continued: it is
 * lost, the stream waits, and once it answers again it is loaded anew
 * (keeping its weights, dropping the sessions that moved on) and the
 * stream is replayed: the text is the undisturbed one. */
static void test_worker_stalled(void **state)
{
    fixture *f = *state;
    int port = f->srv.port, st;
    pid_t kids[8];
    assert_int_equal(children(f->srv.pid, kids, 8), 2);
    char whole[256];
    snprintf(whole, sizeof whole, "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,"
             "\"temperature\":0}", LONG_GEN);
    cJSON *alone = sv_t_post(port, "/v1/completions", whole, NULL, &st);
    assert_int_equal(st, 200);
    double replays = metric(port, "layerpool_sessions_replayed_total");
    client c = {.port = port, .path = "/v1/completions"};
    char *body = long_stream_body();
    snprintf(c.body, sizeof c.body, "%s", body);
    free(body);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_run, &c), 0);
    mid_stream(f);
    assert_int_equal(kill(kids[1], SIGSTOP), 0);
    sleep(5); /* past the 3 s heartbeat timeout */
    assert_int_equal(kill(kids[1], SIGCONT), 0);
    pthread_join(th, NULL);
    if (c.got.error[0] || c.got.status != 200 || !c.got.done)
        fail_msg("the stream broke: status %d: %s", c.got.status, c.got.error);
    assert_string_equal(c.got.text, sv_t_str(alone, "choices.0.text"));
    sv_t_stream_free(&c.got);
    cJSON_Delete(alone);
    assert_true(metric(port, "layerpool_sessions_replayed_total") >= replays + 1);
    assert_true(lp_test_file_has(f->srv.log, "lost: no answer for"));
    assert_int_equal(children(f->srv.pid, kids, 8), 2); /* the same process, continued */
}

enum { BURST = 200 };

typedef struct burst_req {
    int port, i, status;
    bool retry_after, right;
    const char *want;
    const char *body;
} burst_req;

static void *burst_one(void *arg)
{
    burst_req *b = arg;
    char from[32];
    lp_http_resp r;
    snprintf(from, sizeof from, "127.0.0.%d", 2 + b->i % 4); /* 4 clients, 50 each */
    if (lp_http_from(from, b->port, "POST", "/v1/completions", NULL, b->body, strlen(b->body),
                     &r, SV_T_TIMEOUT_MS) != 0)
        return NULL; /* status 0: no answer */
    char v[32];
    b->status = r.status;
    b->retry_after = lp_http_header(&r, "Retry-After", v, sizeof v) != NULL;
    cJSON *o = cJSON_Parse(r.body);
    const char *text = sv_t_str(o, "choices.0.text");
    b->right = text && !strcmp(text, b->want);
    cJSON_Delete(o);
    lp_http_free(&r);
    return NULL;
}

static int setup_burst(void **state) /* 3 workers, 4 sessions, a queue of 8 */
{
    return sv_t_fixture_start(state, 3, CTX, 4, NULL, "--listen 127.0.0.1:0 --queue 8");
}

/* A burst of 200 requests at once (from 4 addresses, within the per-client
 * connection limit) over a pool of 3 with room for 12: each one gets its
 * right text or a 503 with Retry-After, none hangs, and the pool serves
 * the next request. */
static void test_burst(void **state)
{
    fixture *f = *state;
    char body[160];
    snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}",
             f->ref.prompt[0], f->ref.n_gen[0]);
    burst_req *b = calloc(BURST, sizeof *b);
    pthread_t th[BURST];
    for (int i = 0; i < BURST; i++) {
        b[i] = (burst_req){.port = f->srv.port, .i = i, .want = f->ref.want[0], .body = body};
        assert_int_equal(pthread_create(&th[i], NULL, burst_one, &b[i]), 0);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < BURST; i++) {
        pthread_join(th[i], NULL);
        if (b[i].status == 200 && b[i].right)
            ok++;
        else if (b[i].status == 503 && b[i].retry_after)
            busy++;
        else
            fail_msg("request %d: status %d (%s)", i, b[i].status,
                     b[i].status == 200 ? "wrong text" : "neither done nor refused");
    }
    free(b);
    assert_true(ok >= 12 && busy > 0);
    assert_true(metric(f->srv.port, "layerpool_requests_refused_total") == busy);
    int st;
    cJSON *o = sv_t_post(f->srv.port, "/v1/completions", body, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "choices.0.text"), f->ref.want[0]);
    cJSON_Delete(o);
    print_message("[ burst ] %d requests at once: %d served, %d refused with Retry-After\n",
                  BURST, ok, busy);
}

static int setup_deadline(void **state) /* worker 1 loses its 9th Forward */
{
    setenv("LP_WORKER_FAULT", "local-1:drop:9", 1);
    int rc = start(state, 2, "step_timeout = 2\n", "--listen 127.0.0.1:0 --queue 2");
    unsetenv("LP_WORKER_FAULT");
    return rc;
}

/* A step that never comes back while every worker answers heartbeats (a
 * worker's failpoint drops it): its request fails within the deadline,
 * saying so, and the next request is served. */
static void test_step_deadline(void **state)
{
    fixture *f = *state;
    int port = f->srv.port, st;
    char body[160];
    snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":8,\"temperature\":0}",
             f->ref.prompt[0]);
    cJSON *o = sv_t_post(port, "/v1/completions", body, NULL, &st); /* Forwards 1-8 */
    assert_int_equal(st, 200);
    cJSON_Delete(o);
    long long t0 = lp_http_now_ms();
    o = sv_t_post(port, "/v1/completions", body, NULL, &st); /* its prompt: the 9th, lost */
    long long took = lp_http_now_ms() - t0;
    const char *msg = sv_t_str(o, "error.message");
    if (st == 200 || !msg || !strstr(msg, "did not come back within 2.0 s"))
        fail_msg("wanted the step deadline's error, got %d: %s", st, cJSON_PrintUnformatted(o));
    assert_true(took < 8000);
    assert_true(metric(port, "layerpool_requests_failed_total") == 1); /* a server fault */
    cJSON_Delete(o);
    o = sv_t_post(port, "/v1/completions", body, NULL, &st);
    assert_int_equal(st, 200);
    cJSON_Delete(o);
    print_message("[ deadline ] a lost step failed its request after %.1f s\n", took / 1000.0);
}

/* Plain messages to a local worker's control and data ports, as any
 * program on this machine could send: a Shutdown and a Forward. */
static void poke_plain(lp_wire *wire, const char *control, const char *data)
{
    lp_err err = {0};
    Lp__Envelope env = LP__ENVELOPE__INIT;
    Lp__Shutdown sd = LP__SHUTDOWN__INIT;
    env.body_case = LP__ENVELOPE__BODY_SHUTDOWN;
    env.shutdown = &sd;
    void *ctl = lp_wire_socket(wire, LP_SOCK_DEALER, control, &err);
    assert_non_null(ctl);
    lp_wire_send(ctl, NULL, &env, 500, &err); /* queued: the handshake never completes */
    Lp__Forward fw = LP__FORWARD__INIT;
    int32_t toks[1] = {1};
    fw.session = 1;
    fw.n_tokens = 1;
    fw.n_token_ids = 1;
    fw.token_ids = toks;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &fw;
    void *push = lp_wire_socket(wire, LP_SOCK_PUSH, data, &err);
    assert_non_null(push);
    lp_wire_send(push, NULL, &env, 500, &err);
    usleep(500 * 1000);
    lp_wire_close(ctl);
    lp_wire_close(push);
}

/* A [local] pool's workers are keyed by the coordinator itself: another
 * program on this machine that sends them a Shutdown or a Forward gets
 * nothing done; both still serve. */
static void test_local_workers_take_no_orders(void **state)
{
    fixture *f = *state;
    int port = f->srv.port, st;
    pid_t kids[8];
    assert_int_equal(children(f->srv.pid, kids, 8), 2);
    cJSON *pool = sv_t_get_with(port, "/v1/pool", AUTH, &st);
    assert_int_equal(st, 200);
    lp_err err = {0};
    lp_wire *wire = lp_wire_new(&err);
    assert_non_null(wire);
    for (int i = 0; i < 2; i++) {
        char key[64], data[64];
        snprintf(key, sizeof key, "workers.%d.endpoint", i);
        snprintf(data, sizeof data, "workers.%d.data_endpoint", i);
        poke_plain(wire, sv_t_str(pool, key), sv_t_str(pool, data));
    }
    lp_wire_free(wire);
    cJSON_Delete(pool);
    for (int i = 0; i < 2; i++)
        assert_int_equal(kill(kids[i], 0), 0);
    const char *cmpl = "{\"prompt\":\"Once upon a time\",\"max_tokens\":4,\"temperature\":0}";
    expect_status(port, "POST", "/v1/completions", AUTH, cmpl, 200);
}

int main(void)
{
    const struct CMUnitTest open[] = {
        cmocka_unit_test(test_no_warning),
        cmocka_unit_test(test_disconnect_frees_sessions),
        cmocka_unit_test(test_concurrent_streams),
        cmocka_unit_test(sv_t_test_stops_cleanly),
    };
    const struct CMUnitTest keyed[] = {
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_local_workers_take_no_orders),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(sv_t_test_stops_cleanly),
    };
    const struct CMUnitTest lossy[] = {
        cmocka_unit_test(test_warns_open),
        cmocka_unit_test(test_worker_killed_recovers),
        cmocka_unit_test(test_worker_stalled),
        cmocka_unit_test(sv_t_test_stops_cleanly),
    };
    const struct CMUnitTest burst[] = {
        cmocka_unit_test(test_burst),
        cmocka_unit_test(sv_t_test_stops_cleanly),
    };
    const struct CMUnitTest deadline[] = {
        cmocka_unit_test(test_step_deadline),
        cmocka_unit_test(sv_t_test_stops_cleanly),
    };
    int failed = cmocka_run_group_tests_name("open pool", open, setup_open, sv_t_fixture_teardown);
    failed += cmocka_run_group_tests_name("a lost step", deadline, setup_deadline,
                                          sv_t_fixture_teardown);
    failed += cmocka_run_group_tests_name("a burst", burst, setup_burst, sv_t_fixture_teardown);
    failed += cmocka_run_group_tests_name("one session, no queue, api_key", keyed, setup_keyed,
                                          sv_t_fixture_teardown);
    return failed + cmocka_run_group_tests_name("a worker lost", lossy, setup_lossy,
                                                sv_t_fixture_teardown);
}
