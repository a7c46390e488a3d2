/* serve_hub.h — where `coord serve`'s HTTP threads meet the one thread that
 * owns the pool (lp_cluster and its sockets).
 *
 * An HTTP thread submits a job (a tokenized prompt, a budget, sampling
 * settings, stop strings) and then reads its tokens and their text as they
 * come with sv_job_next, which blocks; the pool thread takes new jobs
 * (sv_hub_take), starts their sessions, runs each sampled token through the
 * job's generation (gen.h: where it ends, what text it shows) and delivers
 * it (sv_job_deliver), then the end (sv_job_finish). A client that goes away cancels its job; the pool
 * thread sees it (sv_hub_cancelled) and ends the session on every worker.
 * The pool thread sleeps in a poll that includes sv_hub_fd, which the hub
 * signals whenever there is something for it.
 *
 * The hub also carries what the HTTP side shows but must not ask the pool
 * for itself: counters for /metrics and a snapshot of the workers for
 * /v1/pool and /health, published by the pool thread.
 *
 * Ownership: the serve command owns the hub (sv_hub_new / sv_hub_free,
 * after both sides stopped). A job has two owners, the HTTP thread that
 * submitted it and the pool thread; each lets go with sv_job_release (the
 * pool side through sv_job_finish) and the last one frees it. */
#ifndef LP_COORD_SERVE_HUB_H
#define LP_COORD_SERVE_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "err.h"
#include "sampler.h"
#include "stopstr.h"

typedef struct sv_hub sv_hub;
typedef struct sv_job sv_job;

/* max_live: jobs running or waiting at once (the pool's sessions plus the
 * queue); more get refused (HTTP 503 + Retry-After). */
sv_hub *sv_hub_new(int max_live, lp_err *err);
void sv_hub_free(sv_hub *h);

/* ---- HTTP side -------------------------------------------------------- */

typedef struct sv_job_req {
    const int32_t *prompt; /* copied */
    int n_prompt;
    int n_predict;
    lp_sampler_params sampling;
    bool logprob;
    int top_logprobs;
    const char *const *stops; /* copied; at most LP_STOPSTR_MAX */
    size_t n_stops;
} sv_job_req;

/* NULL when the hub is full (*busy true: answer 503) or on error (err). */
sv_job *sv_hub_submit(sv_hub *h, const sv_job_req *r, bool *busy, lp_err *err);

typedef enum sv_event {
    SV_TOKEN,   /* *out holds the next token, *text what it released */
    SV_END,     /* no more tokens: *text the held-back tail, and
                   sv_job_finish_reason why it ended */
    SV_FAILED,  /* the pool failed the job: sv_job_error says why */
    SV_TIMEOUT, /* nothing within timeout_ms; ask again */
} sv_event;

/* Text pointers stay valid until the next call or the release. */
sv_event sv_job_next(sv_job *j, lp_sampled *out, const char **text, size_t *len,
                     int timeout_ms);
const char *sv_job_finish_reason(const sv_job *j); /* after SV_END */
const char *sv_job_error(const sv_job *j); /* valid after SV_FAILED */
void sv_job_cancel(sv_job *j);             /* the client is gone, or has enough */
void sv_job_release(sv_job *j);

/* ---- pool side --------------------------------------------------------- */

int sv_hub_fd(const sv_hub *h);

/* Drain the wake-up and take up to max newly submitted jobs. */
int sv_hub_take(sv_hub *h, sv_job **out, int max);
const sv_job_req *sv_job_request(const sv_job *j);
void sv_job_set_session(sv_job *j, uint64_t session);

/* Up to max sessions of jobs cancelled since the last call (their jobs
 * are finished and released here). */
int sv_hub_cancelled(sv_hub *h, uint64_t *sessions, int max);

/* Deliver a token and the text it released (lp_gen on the pool side
 * decided both); false if the job was cancelled (stop its session). */
bool sv_job_deliver(sv_job *j, const lp_sampled *s, const char *text, size_t len);
/* The last word from the pool side: error NULL for a normal end, with the
 * text held back till then (copied) and the finish reason (a static
 * string: "stop" or "length"). */
void sv_job_finish(sv_job *j, const char *error, const char *tail, size_t tail_len,
                   const char *finish);

/* ---- shared state for /metrics, /health, /v1/pool ----------------------- */

/* Answers of 4xx and 5xx counted per route (sv_route's values, below
 * SV_STAT_ROUTES) and status (one of sv_hub_error_codes'). */
enum { SV_STAT_ROUTES = 8, SV_STAT_CODES = 9 };

typedef struct sv_stats {
    uint64_t requests, requests_failed, refused_busy;
    uint64_t requests_cancelled;      /* their clients left before the answer was whole */
    uint64_t tokens_in, tokens_out;
    int live, queued;                 /* jobs now running, and waiting */
    bool ready;                       /* every worker loaded */
    double tok_per_s;                 /* generated tokens per second, last 10 s */
    uint64_t results_dropped;         /* Results not from their session's last worker */
    lp_pool_state state;              /* ready, loading, recovering, down */
    char state_why[512];              /* recovering or down: which worker, what */
    lp_cluster_recovery rec;          /* sessions replayed, their tokens, gave up */
    uint64_t errors[SV_STAT_ROUTES][SV_STAT_CODES]; /* HTTP answers >= 400 */
    int n_workers;
    lp_cluster_worker workers[LP_CLUSTER_MAX_WORKERS];
} sv_stats;

/* Pool thread: replace the worker snapshot and readiness. */
void sv_hub_publish(sv_hub *h, const lp_cluster *cl);
/* Any thread: a consistent copy. */
void sv_hub_stats(sv_hub *h, sv_stats *out);
/* A completion request done: failed by the server (>= 500, not counted by
 * the pool already), or cancelled (its client left first). */
void sv_hub_count_request(sv_hub *h, int tokens_in, bool failed, bool cancelled);
/* Count an answer of status (>= 400) on route; others are not counted. */
void sv_hub_count_status(sv_hub *h, int route, int status);
/* The statuses counted, SV_STAT_CODES of them. */
const int *sv_hub_error_codes(void);

#endif
