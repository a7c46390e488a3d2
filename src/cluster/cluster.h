/* cluster.h — the coordinator's side of the pool: connect to workers,
 * learn what they offer, have them load their layer ranges, and drive
 * sessions through the pipeline, several in flight at once.
 *
 * One thread owns an lp_cluster and calls lp_cluster_poll in a loop; every
 * socket (one DEALER per worker for control, a PUSH to worker 0's data
 * endpoint, a PULL for results) belongs to that thread, served by the
 * cluster's event loop (loop.h) along with its heartbeat timer. A session is a
 * prompt plus a token budget: the cluster sends its prompt in chunks of
 * n_batch (worker 0 starts chunk c+1 while worker 1 runs chunk c), then one
 * Forward per generated token, and reports each sampled token through the
 * session's callback, which decides whether to go on. Heartbeats run on
 * the control sockets; a worker silent for dead_after_ms fails every live
 * session with an error naming it, and is loaded again once it answers.
 *
 * Ownership: lp_cluster_new returns a cluster the caller owns
 * (lp_cluster_free); it borrows the lp_wire, which must outlive it. */
#ifndef LP_CLUSTER_H
#define LP_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "loop.h"
#include "model_id.h"
#include "sampler.h"
#include "wire.h"

#define LP_CLUSTER_MAX_WORKERS 64

typedef struct lp_cluster lp_cluster;

typedef struct lp_cluster_opts {
    int n_ctx;          /* positions per session */
    int n_slots;        /* sessions each worker holds at once */
    int n_batch;        /* the most tokens one Forward carries */
    int prompt_chunk;   /* prompt tokens per Forward (<= n_batch); 0: chosen
                           per prompt from the steps measured so far
                           (lp_cluster_prompt_chunk) */
    int n_threads;      /* per worker; 0 = each worker's own -t */
    int heartbeat_ms;   /* how often to ask */
    int dead_after_ms;  /* silence that counts as lost */
    int step_timeout_ms; /* the least time a step may take before it counts as
                            lost (its session then fails, naming the step);
                            a step of many tokens gets 10x what the workers'
                            measured speed says it needs, when that is more.
                            0: no deadline */
    int recover_ms;     /* how long a session whose worker was lost waits for
                           the pool to be whole again (the worker back, and
                           loaded), then is replayed: its prompt and every
                           token so far as one prefill, generation going on
                           where it stopped (greedy: the very same text).
                           0: it fails at once, naming the lost worker */
    int load_timeout_ms;
    int wire_dtype;     /* hidden states between workers: Lp__HiddenDtype
                           (0: f32, exact; f16, bf16, q8_0 smaller) */
    const lp_keypair *key; /* ours with CURVE links (borrowed; NULL: plain):
                              every worker is then added with its public key */
    /* Events worth a line in a log (a worker lost, back, refusing; a replay;
     * a step past its deadline), one line each without a newline; NULL:
     * none (the library itself never prints). */
    void (*log)(void *user, const char *line);
    void *log_user;
    char advertise[300];   /* the address workers send results to, "HOST" or
                              "HOST:PORT" (NAT, several interfaces); "" (the
                              default): for each worker, our address on the
                              interface that reaches it (cluster_route.c) */
} lp_cluster_opts;

void lp_cluster_opts_default(lp_cluster_opts *o);

/* What a worker told us (Capabilities) and what it holds. */
typedef struct lp_cluster_worker {
    char name[64];
    char control[256];    /* its --listen endpoint, as we reach it */
    char data[256];       /* its data endpoint, as we reach it */
    char via[64];         /* our address on the interface that reaches it */
    char result[256];     /* the result endpoint it is told (at load) */
    char sends_to[256];   /* the next worker's data endpoint as it is told,
                             "" for the last (which sends to result) */
    uint64_t ram_total, ram_available, mem_limit;
    uint32_t cores;
    char isa[32];
    double gflops;
    int first, last;      /* layers it holds once loaded */
    uint32_t load_ms;     /* its last load took (ShardReady) */
    bool kept;            /* and it held those layers already: only relinked */
    bool alive;
    /* counters for the speed report (from Result.compute_us and Stats):
     * every step, and the decode steps alone (one token each) */
    uint64_t compute_us, steps;
    uint64_t decode_us, decode_steps;
    uint64_t prompt_us, prompt_tokens; /* prompt steps': compute, tokens */
    uint64_t bytes_in, bytes_out;
    uint64_t decode_bytes_out, decode_msgs_out; /* single-token steps' share */
    uint64_t batches, batched_steps;            /* decode steps run together */
    uint64_t refused;   /* messages it answered with an Error (Stats) */
    uint64_t busy_us;   /* its own compute time (Stats): a batch counts once,
                           where compute_us counts it in each member's Result */
    uint32_t sessions_open;       /* from the last Stats */
    uint64_t kv_bytes_used, kv_bytes_reserved;
    int64_t last_seen_ms;         /* CLOCK_MONOTONIC ms of its last answer */
} lp_cluster_worker;

lp_cluster *lp_cluster_new(lp_wire *w, const lp_cluster_opts *o, lp_err *err);
void lp_cluster_free(lp_cluster *c);

/* Connect to a worker's control endpoint and ask Hello (waiting at most
 * 3 x dead_after_ms); fills its entry from Capabilities, and `via` from
 * the routing table (a host name that does not resolve is an error here).
 * Workers are pipeline stages in the order added. */
int lp_cluster_add_worker(lp_cluster *c, const char *endpoint, lp_err *err);
/* The same over CURVE (opts.key set): pub is the worker's public key (Z85);
 * only it may connect to our result endpoint, and a Result counts only
 * from the worker that ends its session's pipeline. */
int lp_cluster_add_worker_keyed(lp_cluster *c, const char *endpoint, const char *pub,
                                lp_err *err);
int lp_cluster_n_workers(const lp_cluster *c);
/* A spare (after the pipeline's workers, usually after lp_cluster_load):
 * heartbeated, holding nothing, until a worker of the pipeline is lost;
 * then it takes that worker's layers from model_path (its own copy), the
 * lost one becomes a spare, and the waiting sessions are replayed. */
int lp_cluster_add_spare(lp_cluster *c, const char *endpoint, const char *pub,
                         const char *model_path, lp_err *err);

/* Tokens per Forward for a prompt of n_prompt tokens: opts.prompt_chunk if
 * set, else lp_pipe_chunk of the pipeline as measured (each stage's decode
 * step and prompt compute per token, from the Results so far), 64 until a
 * prompt and a decode step have been measured; at most n_batch. */
int lp_cluster_prompt_chunk(const lp_cluster *c, int n_prompt);
const lp_cluster_worker *lp_cluster_get_worker(const lp_cluster *c, int i);

/* Fill every worker's `result` and `sends_to` (binding our result
 * endpoint on each address that faces a worker) without loading
 * anything: what lp_cluster_load will tell them, e.g. for `coord plan
 * --live`. 0, or -1 with err (advertise cannot be bound). */
int lp_cluster_routes(lp_cluster *c, lp_err *err);

/* Have worker i hold layers [first[i], last[i]) of the model whose id is
 * given, reading it from model_path[i] on that worker, or, where
 * shard_id[i] is non-NULL (shard_id itself may be NULL), from the shard
 * file with that id in its cache (see lp_cluster_send_shard). Each is told
 * the addresses lp_cluster_routes gives, and checks before it loads that
 * they answer; our own link to worker 0 is checked too. Blocks until
 * every worker is ready (or load_timeout_ms); a worker that cannot reach
 * an address it was given fails the load within seconds, naming it. */
int lp_cluster_load(lp_cluster *c, const uint8_t model_id[LP_SHA256_BYTES],
                    const char *const *model_path, const uint8_t *const *shard_id,
                    const int *first, const int *last, uint32_t n_vocab, lp_err *err);

/* Stream the shard file at path (SHA-256 shard_id) into worker i's cache,
 * resuming from what it already holds (transfer.h). */
int lp_cluster_send_shard(lp_cluster *c, int i, const char *path,
                          const uint8_t shard_id[LP_SHA256_BYTES],
                          bool (*progress)(void *ctx, uint64_t done, uint64_t total, double mb_s),
                          void *ctx, lp_err *err);

#define LP_CLUSTER_MAX_TOP 20

/* One sampled token, with, if asked, its log-probability (0 when not) and
 * the most likely alternatives (from the last worker's logits). */
typedef struct lp_sampled {
    int32_t token;
    float logprob;
    int n_top;
    int32_t top_token[LP_CLUSTER_MAX_TOP];
    float top_logprob[LP_CLUSTER_MAX_TOP];
} lp_sampled;

/* Called for every sampled token (s non-NULL); return true to go on: the
 * callback decides where a generation ends (gen.h), the cluster only
 * stops one that would outgrow the context. Then once more with s NULL
 * when the session ends: error NULL after a normal end (the callback said
 * stop, or the context is full), else why it failed. After that call the
 * session is gone. */
typedef bool (*lp_session_cb)(void *user, uint64_t session, const lp_sampled *s,
                              const char *error);

/* Scores of prompt positions pos .. pos+n-1 (a scoring session): each
 * position's -log p(next prompt token) and top token, or, with score_rows,
 * its logit row. The pointers are valid during the call only. */
typedef struct lp_scored {
    int pos, n;
    const double *nll;   /* [n], NULL with rows */
    const int32_t *top;  /* [n], NULL with rows */
    const float *rows;   /* [n][n_vocab], NULL without */
} lp_scored;

/* Called as a scoring session's results arrive; return true to go on. */
typedef bool (*lp_score_cb)(void *user, uint64_t session, const lp_scored *sc);

typedef struct lp_session_req {
    const int32_t *prompt; /* copied */
    int n_prompt;
    lp_sampler_params sampling;
    bool logprob;          /* each token's log-probability in lp_sampled */
    int top_logprobs;      /* alternatives per token, 0..LP_CLUSTER_MAX_TOP (implies logprob) */
    lp_session_cb cb;
    void *user;
    /* Scoring instead of generating (coord perplexity), when score_cb is
     * set: the prompt (which may fill the context) runs, nothing is
     * sampled, and every position p >= score_from with p + 1 < n_prompt is
     * scored against prompt[p + 1] on the last worker and reported through
     * score_cb, in order; then cb(s NULL) ends the session. sampling and
     * logprob and top_logprobs are not used. */
    lp_score_cb score_cb;
    int score_from;
    bool score_rows;
} lp_session_req;

/* Queue a session; its id is returned (random, never 0 nor one in use:
 * a peer cannot guess it), or 0 on error. */
uint64_t lp_cluster_start(lp_cluster *c, const lp_session_req *req, lp_err *err);

/* End a session early (client went away): its KV is freed everywhere. */
void lp_cluster_cancel(lp_cluster *c, uint64_t session);

/* One turn of the cluster's loop: send what sessions can send, wait at
 * most timeout_ms (-1: until something happens; the heartbeat timer fires
 * every heartbeat_ms) for answers, results or a due timer, handle them,
 * and send again. Returns the number of live sessions, or -1 if the
 * cluster cannot go on (err). */
int lp_cluster_poll(lp_cluster *c, int timeout_ms, lp_err *err);

/* The loop the cluster runs on (loop.h), for a caller's own sources and
 * timers (coord serve: its hub, its signals, its periodic stats), which
 * lp_cluster_poll then serves with the cluster's. */
lp_loop *lp_cluster_loop(lp_cluster *c);

/* Results dropped because a worker other than their session's last sent
 * them (CURVE pools: each sender is known by its key). */
uint64_t lp_cluster_results_dropped(const lp_cluster *c);

/* Recovery so far: sessions replayed after a lost worker, the tokens
 * their replays carried, and the sessions that waited in vain. */
typedef struct lp_cluster_recovery {
    uint64_t replays, replayed_tokens, gave_up;
} lp_cluster_recovery;
lp_cluster_recovery lp_cluster_get_recovery(const lp_cluster *c);

/* Whether the pool can serve: every worker loaded (READY); starting
 * (LOADING); a worker lost, sessions waiting for it (RECOVERING: why says
 * which worker and what happened); lost longer than recover_ms (DOWN). */
typedef enum lp_pool_state {
    LP_POOL_READY, LP_POOL_LOADING, LP_POOL_RECOVERING, LP_POOL_DOWN
} lp_pool_state;
lp_pool_state lp_cluster_state(const lp_cluster *c, char *why, size_t cap);
const char *lp_pool_state_name(lp_pool_state s); /* "ready", "loading", ... */

/* Ask every live worker for Stats without waiting: the answers update the
 * counters below as lp_cluster_poll receives them. */
void lp_cluster_request_stats(lp_cluster *c);

/* Per-worker counters (sessions, KV bytes, bytes in/out) via Stats.
 * Blocks for at most ~2 s per worker. */
int lp_cluster_refresh_stats(lp_cluster *c, lp_err *err);

/* True once every worker holds its layers (again, after a loss). */
bool lp_cluster_ready(const lp_cluster *c);

/* Ask every worker to exit. */
void lp_cluster_shutdown_workers(lp_cluster *c);

#endif
