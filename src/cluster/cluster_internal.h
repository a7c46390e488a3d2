/* cluster_internal.h — the state behind lp_cluster, shared by the files
 * that implement it (cluster.c: workers and loading; cluster_session.c:
 * sessions and the data path; cluster_health.c: heartbeats). */
#ifndef LP_CLUSTER_INTERNAL_H
#define LP_CLUSTER_INTERNAL_H

#include "cluster.h"
#include "zap.h"
#include "loop.h"
#include "route.h"

typedef struct cl_worker {
    lp_cluster_worker info;
    lp_cluster *c;        /* the cluster it belongs to (for loop callbacks) */
    int index;            /* its stage in the pipeline */
    void *ctl;            /* DEALER to the worker's control endpoint, owned */
    bool loaded;          /* ShardReady received for the current plan */
    uint64_t incarnation; /* the worker process's (Capabilities, Heartbeat); 0: unknown */
    char load_error[256]; /* the last reload's refusal, logged once */
    bool reloading;       /* lost, then heard again: LoadShard sent */
    char model_path[1024];
    uint8_t shard_id[LP_SHA256_BYTES];
    bool from_shard;      /* load shard_id from its cache, not model_path */
    char pub[LP_KEY_Z85 + 1]; /* its CURVE public key ("" with plain links) */
} cl_worker;

typedef struct cl_session {
    uint64_t id;          /* the caller's handle */
    uint64_t wire;        /* the id its steps carry (a replay takes a new one,
                             so the old one's Results in flight are not its) */
    int32_t *prompt;      /* owned */
    int n_prompt, n_gen;
    int chunk;            /* the prompt's chunk size, once sent (a replay uses it) */
    int32_t *gen;         /* the tokens generated, owned: a replay sends the
                             very steps the session took, so every worker's
                             KV is computed as it was, bit for bit */
    int swallow;          /* Results of replayed steps still due: their tokens
                             are gen's, checked, not delivered again */
    size_t cap_gen;
    int64_t lost_ms;      /* > 0: waiting since then for the pool to recover */
    char lost_why[512];
    lp_sampler_params sampling;
    bool logprob;
    int top_logprobs;
    lp_session_cb cb;
    void *user;
    lp_score_cb score_cb; /* a scoring session (lp_session_req) */
    int score_from;
    bool score_rows;
    bool started;         /* prompt sent: holds KV slots on the workers */
    int pending;          /* Results still due (one per Forward sent) */
    int64_t sent_ms;      /* when the awaited step was sent */
    int step_tokens;      /* tokens the steps still due carry (the deadline's size) */
    uint64_t step_sent_us;
    uint32_t acct_pos;    /* positions whose steps' compute is counted */
} cl_session;

/* A session being ended: its KV slots count as taken until every worker
 * has answered the EndSession (which travels on the control line, so a new
 * prompt on the data line could otherwise reach a worker first). */
typedef struct cl_closing {
    uint64_t session;
    uint64_t req[LP_CLUSTER_MAX_WORKERS]; /* EndSession request id per worker */
    int pending;
    int64_t since_ms;
} cl_closing;

/* One address our result PULL listens on, and the endpoint a worker that
 * reaches us there is told. */
typedef struct cl_bound {
    char host[LP_ROUTE_HOST_MAX]; /* the address workers dial (advertise, or via) */
    char endpoint[300];   /* tcp://host:port as told */
} cl_bound;

struct lp_cluster {
    lp_wire *wire;        /* borrowed */
    lp_loop *loop;        /* owned: every socket below, the heartbeat timer */
    lp_cluster_opts o;
    cl_worker w[LP_CLUSTER_MAX_WORKERS]; /* the pipeline's, then the spares */
    int n_workers;
    int n_spares;
    void *data_push;      /* to worker 0's data endpoint, owned */
    void *result_pull;    /* bound on each address that faces a worker, owned */
    cl_bound bound[LP_CLUSTER_MAX_WORKERS]; /* those addresses (cluster_route.c) */
    int n_bound;
    cl_session *s;        /* live sessions, owned */
    int n_s;
    size_t cap_s;
    cl_closing *closing;  /* owned */
    int n_closing;
    size_t cap_closing;
    uint64_t hb_seq;
    uint8_t model_id[LP_SHA256_BYTES];
    uint32_t n_vocab;
    bool ready;           /* every worker loaded */
    lp_zap *zap;          /* with o.key: who may send us results (owned) */
    uint64_t forged;      /* Results dropped: not from their session's last worker */
    lp_cluster_recovery rec;
    int64_t lost_since_ms; /* > 0: a worker was lost then, the pool not whole since */
    char lost_why[512];
};

/* A worker lost and the pool within o.recover_ms of it: new sessions wait
 * too, instead of being refused. */
bool cl_recovering(const lp_cluster *c, int64_t now);

/* cluster_session.c */
void cl_on_end_ack(lp_cluster *c, int worker, uint64_t request_id);
void cl_expire_closing(lp_cluster *c);
void cl_fail_all(lp_cluster *c, const char *why);
/* Worker i (lost) handed to the first live spare, which takes its layers
 * (routes recomputed; loading it is the caller's). false: no live spare. */
bool cl_promote_spare(lp_cluster *c, int i);
/* A line to o.log, if there is one. */
void cl_log(const lp_cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sessions whose step is overdue (o.step_timeout_ms) fail, naming it. */
void cl_check_deadlines(lp_cluster *c, int64_t now);
/* A worker was lost (why): sessions wait to be replayed (o.recover_ms),
 * or fail with why. */
void cl_interrupt_all(lp_cluster *c, const char *why);
int cl_drive_sessions(lp_cluster *c, lp_err *err);
/* from: the sender's ZAP user id (its stage, "0".."N-1") with CURVE, else "". */
int cl_on_result(lp_cluster *c, const Lp__Envelope *env, const char *from);

/* cluster_score.c: scoring sessions. fill: the scoring fields of the
 * Forward for prompt positions pos0 .. pos0+n-1; deliver: hand a Result's
 * scores to score_cb: 0 go on, 1 the callback said stop, -1 a bad Result
 * (why says what). */
void cl_score_fill(const cl_session *s, Lp__Forward *f, int pos0, int n);
int cl_score_deliver(lp_cluster *c, cl_session *s, const Lp__Result *r, char *why, size_t cap);

/* cluster_route.c: the addresses a worker is given. via: at Hello; data:
 * its data endpoint as we reach it (a wildcard bind at the host we reached
 * its control port at); routes: result and sends_to of every worker. */
int cl_route_via(cl_worker *w, lp_err *err);
void cl_route_data(cl_worker *w, const char *reported);
int cl_route_all(lp_cluster *c, lp_err *err);

/* cluster_health.c: the heartbeat timer (every heartbeat_ms: ask every
 * worker, and lose those silent for dead_after_ms). */
int64_t cl_heartbeat_timer(void *cluster, int64_t now);
void cl_on_control(lp_cluster *c, int i, const Lp__Envelope *env);
int cl_send_load(lp_cluster *c, int i, uint64_t *request_id, lp_err *err);

#endif
