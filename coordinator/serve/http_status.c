#include "http_status.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "serve_route.h"

/* Seconds since the worker last answered (CLOCK_MONOTONIC, as the pool's). */
static double heartbeat_age(const lp_cluster_worker *w)
{
    return w->last_seen_ms > 0 ? (double)(lp_now_ms() - w->last_seen_ms) / 1e3 : -1;
}

static sv_stats *snapshot(sv_hub *h)
{
    sv_stats *st = malloc(sizeof *st); /* ~50 KB: not for a thread's stack */
    if (st)
        sv_hub_stats(h, st);
    return st;
}

/* What /health and /v1/pool say of the pool: ok, loading, degraded (a
 * worker lost: requests wait for it, then are replayed) or down (lost
 * longer than recover_timeout: requests fail). */
static const char *health_name(lp_pool_state s)
{
    return s == LP_POOL_READY ? "ok" : s == LP_POOL_LOADING ? "loading"
         : s == LP_POOL_RECOVERING ? "degraded" : "down";
}

char *sv_status_health(sv_hub *h, int *status)
{
    sv_stats *st = snapshot(h);
    cJSON *o = cJSON_CreateObject();
    *status = st && st->ready ? 200 : 503;
    char *out = NULL;
    if (st && o && cJSON_AddStringToObject(o, "status", health_name(st->state)) &&
        (!st->state_why[0] || cJSON_AddStringToObject(o, "reason", st->state_why)))
        out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(st);
    return out;
}

char *sv_status_models(const char *model, long long created)
{
    cJSON *o = cJSON_CreateObject(), *m = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data"); /* NULL if o is */
    if (!data || !m || !cJSON_AddItemToArray(data, m)) {
        cJSON_Delete(m);
        cJSON_Delete(o);
        return NULL;
    }
    bool ok = cJSON_AddStringToObject(o, "object", "list") &&
              cJSON_AddStringToObject(m, "id", model) &&
              cJSON_AddStringToObject(m, "object", "model") &&
              cJSON_AddNumberToObject(m, "created", (double)created) &&
              cJSON_AddStringToObject(m, "owned_by", "layerpool");
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* ---- /v1/pool ------------------------------------------------------------ */

static bool num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* The addresses a worker is reached on and sends to, for a caller who
 * showed the API key only: anyone else could aim at the workers' ports. */
static bool endpoints_json(cJSON *o, const lp_cluster_worker *w)
{
    return cJSON_AddStringToObject(o, "endpoint", w->control) &&
           cJSON_AddStringToObject(o, "data_endpoint", w->data) &&
           cJSON_AddStringToObject(o, "reached_from", w->via) &&
           cJSON_AddStringToObject(o, "sends_to", w->sends_to) &&
           cJSON_AddStringToObject(o, "result_endpoint", w->result);
}

static bool worker_json(cJSON *arr, const lp_cluster_worker *w, bool endpoints)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return false;
    }
    double ms = w->steps ? (double)w->compute_us / (double)w->steps / 1000.0 : 0;
    return cJSON_AddStringToObject(o, "name", w->name) && (!endpoints || endpoints_json(o, w)) &&
           num(o, "first_layer", w->first) && num(o, "last_layer", w->last - 1) &&
           num(o, "n_layers", w->last - w->first) && num(o, "mem_limit", (double)w->mem_limit) &&
           num(o, "mem_available", (double)w->ram_available) &&
           num(o, "ram_total", (double)w->ram_total) && num(o, "cores", w->cores) &&
           cJSON_AddStringToObject(o, "isa", w->isa) && num(o, "gflops", w->gflops) &&
           cJSON_AddStringToObject(o, "state", w->alive ? "alive" : "lost") &&
           num(o, "compute_ms_per_step", ms) && num(o, "compute_s", (double)w->compute_us / 1e6) &&
           num(o, "steps", (double)w->steps) && num(o, "busy_s", (double)w->busy_us / 1e6) &&
           num(o, "batches", (double)w->batches) &&
           num(o, "batched_steps", (double)w->batched_steps) &&
           num(o, "refused", (double)w->refused) &&
           num(o, "bytes_in", (double)w->bytes_in) &&
           num(o, "bytes_out", (double)w->bytes_out) &&
           num(o, "sessions_open", w->sessions_open) &&
           num(o, "kv_bytes_used", (double)w->kv_bytes_used) &&
           num(o, "kv_bytes_reserved", (double)w->kv_bytes_reserved) &&
           num(o, "last_heartbeat_s", heartbeat_age(w));
}

static bool pool_json(cJSON *o, const sv_stats *st, const char *model, int n_ctx,
                      bool endpoints)
{
    int n_layers = 0;
    for (int i = 0; i < st->n_workers; i++)
        n_layers = st->workers[i].last > n_layers ? st->workers[i].last : n_layers;
    cJSON *rq = cJSON_AddObjectToObject(o, "requests");
    cJSON *tk = cJSON_AddObjectToObject(o, "tokens");
    cJSON *ws = cJSON_AddArrayToObject(o, "workers");
    bool ok = cJSON_AddStringToObject(o, "model", model) &&
              cJSON_AddBoolToObject(o, "ready", st->ready) &&
              cJSON_AddStringToObject(o, "status", health_name(st->state)) &&
              cJSON_AddStringToObject(o, "reason", st->state_why) &&
              num(o, "sessions_replayed", (double)st->rec.replays) &&
              num(o, "tokens_replayed", (double)st->rec.replayed_tokens) &&
              num(o, "n_layers", n_layers) &&
              num(o, "n_ctx", n_ctx) && num(o, "tokens_per_second", st->tok_per_s) && rq && tk &&
              ws && num(rq, "total", (double)st->requests) &&
              num(rq, "failed", (double)st->requests_failed) &&
              num(rq, "cancelled", (double)st->requests_cancelled) &&
              num(rq, "refused", (double)st->refused_busy) &&
              num(rq, "running", st->live - st->queued) && num(rq, "queued", st->queued) &&
              num(tk, "prompt", (double)st->tokens_in) &&
              num(tk, "generated", (double)st->tokens_out);
    for (int i = 0; ok && i < st->n_workers; i++)
        ok = worker_json(ws, &st->workers[i], endpoints);
    return ok;
}

char *sv_status_pool(sv_hub *h, const char *model, int n_ctx, bool endpoints)
{
    sv_stats *st = snapshot(h);
    cJSON *o = st ? cJSON_CreateObject() : NULL;
    char *s = o && pool_json(o, st, model, n_ctx, endpoints) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    free(st);
    return s;
}

/* ---- /metrics ------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (int tries = 0; !b->failed && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
        } else if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        } else {
            size_t cap = b->cap * 2 + (size_t)n + 4096;
            char *q = realloc(b->p, cap);
            b->failed = !q;
            b->p = q ? q : b->p;
            b->cap = q ? cap : b->cap;
        }
    }
}

static void metric(sbuf *b, const char *name, const char *type, const char *help, double v)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* Prometheus label values escape \, " and newline. */
static void label(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    for (; *in && k + 3 < cap; in++) {
        char c = *in == '\n' ? 'n' : *in;
        if (*in == '\\' || *in == '"' || *in == '\n')
            out[k++] = '\\';
        out[k++] = c;
    }
    out[k] = 0;
}

typedef double (*worker_val)(const lp_cluster_worker *w);
static double w_up(const lp_cluster_worker *w) { return w->alive; }
static double w_layers(const lp_cluster_worker *w) { return w->last - w->first; }
static double w_compute(const lp_cluster_worker *w) { return (double)w->compute_us / 1e6; }
static double w_steps(const lp_cluster_worker *w) { return (double)w->steps; }
static double w_in(const lp_cluster_worker *w) { return (double)w->bytes_in; }
static double w_out(const lp_cluster_worker *w) { return (double)w->bytes_out; }
static double w_sessions(const lp_cluster_worker *w) { return w->sessions_open; }
static double w_kv(const lp_cluster_worker *w) { return (double)w->kv_bytes_used; }
static double w_mem(const lp_cluster_worker *w) { return (double)w->mem_limit; }
static double w_age(const lp_cluster_worker *w) { return heartbeat_age(w); }

static const struct {
    const char *name, *type, *help;
    worker_val val;
} WORKER_METRICS[] = {
    {"layerpool_worker_up", "gauge", "1 while the worker answers heartbeats, 0 once lost", w_up},
    {"layerpool_worker_layers", "gauge", "Layers the worker holds", w_layers},
    {"layerpool_worker_compute_seconds_total", "counter", "Time the worker spent computing steps",
     w_compute},
    {"layerpool_worker_steps_total", "counter", "Steps the worker computed", w_steps},
    {"layerpool_worker_received_bytes_total", "counter", "Bytes the worker received on its data "
     "link", w_in},
    {"layerpool_worker_sent_bytes_total", "counter", "Bytes the worker sent to the next hop",
     w_out},
    {"layerpool_worker_sessions_open", "gauge", "Sessions holding KV on the worker", w_sessions},
    {"layerpool_worker_kv_bytes", "gauge", "KV cache bytes in use on the worker", w_kv},
    {"layerpool_worker_memory_limit_bytes", "gauge", "Memory the worker may use", w_mem},
    {"layerpool_worker_heartbeat_age_seconds", "gauge", "Seconds since the worker last answered",
     w_age},
};

static void worker_metrics(sbuf *b, const sv_stats *st)
{
    char name[3 * sizeof st->workers[0].name];
    for (size_t m = 0; m < sizeof WORKER_METRICS / sizeof WORKER_METRICS[0]; m++) {
        sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", WORKER_METRICS[m].name,
                  WORKER_METRICS[m].help, WORKER_METRICS[m].name, WORKER_METRICS[m].type);
        for (int i = 0; i < st->n_workers; i++) {
            label(st->workers[i].name, name, sizeof name);
            sb_printf(b, "%s{worker=\"%s\"} %.17g\n", WORKER_METRICS[m].name, name,
                      WORKER_METRICS[m].val(&st->workers[i]));
        }
    }
}

/* Answers >= 400 by route and status, those seen. */
static void error_metrics(sbuf *b, const sv_stats *st)
{
    const char *name = "layerpool_http_errors_total";
    const int *codes = sv_hub_error_codes();
    sb_printf(b, "# HELP %s HTTP answers of 4xx and 5xx by route and status\n# TYPE %s counter\n",
              name, name);
    for (int r = 0; r < SV_STAT_ROUTES; r++)
        for (int k = 0; k < SV_STAT_CODES; k++)
            if (st->errors[r][k])
                sb_printf(b, "%s{route=\"%s\",code=\"%d\"} %llu\n", name,
                          sv_route_name((sv_route)r), codes[k],
                          (unsigned long long)st->errors[r][k]);
}

char *sv_status_metrics(sv_hub *h)
{
    sv_stats *st = snapshot(h);
    if (!st)
        return NULL;
    sbuf b = {0};
    metric(&b, "layerpool_ready", "gauge", "1 once every worker holds its layers", st->ready);
    metric(&b, "layerpool_requests_total", "counter", "Completion requests answered",
           (double)st->requests);
    metric(&b, "layerpool_requests_failed_total", "counter",
           "Requests the server failed (a worker lost past recover_timeout, a step past its "
           "deadline, an internal error); a client's own errors are in "
           "layerpool_http_errors_total", (double)st->requests_failed);
    metric(&b, "layerpool_requests_cancelled_total", "counter",
           "Requests whose client left before the answer was whole",
           (double)st->requests_cancelled);
    metric(&b, "layerpool_requests_refused_total", "counter",
           "Requests refused because every session and queue slot was taken",
           (double)st->refused_busy);
    metric(&b, "layerpool_prompt_tokens_total", "counter", "Prompt tokens submitted",
           (double)st->tokens_in);
    metric(&b, "layerpool_generated_tokens_total", "counter", "Tokens generated",
           (double)st->tokens_out);
    metric(&b, "layerpool_tokens_per_second", "gauge", "Tokens generated per second, last 10 s",
           st->tok_per_s);
    metric(&b, "layerpool_requests_running", "gauge", "Requests generating now",
           st->live - st->queued);
    metric(&b, "layerpool_requests_queued", "gauge", "Requests waiting for a session",
           st->queued);
    metric(&b, "layerpool_sessions_replayed_total", "counter",
           "Sessions replayed after a lost worker came back (or was replaced)",
           (double)st->rec.replays);
    metric(&b, "layerpool_replayed_tokens_total", "counter",
           "Tokens those replays carried through the pipeline again",
           (double)st->rec.replayed_tokens);
    metric(&b, "layerpool_recoveries_given_up_total", "counter",
           "Sessions that waited for a lost worker longer than recover_timeout",
           (double)st->rec.gave_up);
    metric(&b, "layerpool_results_dropped_total", "counter",
           "Results dropped: sent by a worker other than their session's last",
           (double)st->results_dropped);
    error_metrics(&b, st);
    worker_metrics(&b, st);
    free(st);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
