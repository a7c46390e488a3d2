/* compute.h — the compute thread's state, shared by its files: compute.c
 * (the loop and control requests), load.c (LoadShard), forward.c
 * (Forward). Everything here is owned by the compute thread. */
#ifndef WK_COMPUTE_H
#define WK_COMPUTE_H

#include "loop.h"
#include "model_id.h"
#include "ratelog.h"
#include "sessions.h"
#include "worker.h"

typedef struct wk_compute {
    wk_ctx *ctx;
    void *pull;            /* data endpoint (owned) */
    void *pair;            /* line to the control thread (owned) */
    void *next;            /* PUSH to the next worker, NULL on the last (owned) */
    void *result;          /* PUSH to the coordinator's result endpoint (owned) */
    char next_ep[LP_WIRE_MAX_STR];
    Lp__HiddenDtype wire_dtype; /* what hidden states are sent on in */
    uint8_t *wire_buf;     /* [n_batch] rows of wire_dtype when not f32 (owned) */
    char result_ep[LP_WIRE_MAX_STR];
    lp_shard *shard;       /* NULL until a LoadShard succeeds (owned) */
    char shard_path[4096]; /* the file it was opened from */
    Lp__HiddenDtype shard_dtype; /* and the wire dtype it was loaded with */
    uint8_t model_id[LP_SHA256_BYTES];
    wk_sessions *sessions; /* sessions of the shard (owned) */
    lp_loop *loop;         /* serves pull and pair, and the TTL timer (owned) */
    lp_ratelog unsent_log; /* errors with no coordinator to tell: a few lines a minute */
    uint64_t forwards_in;  /* Forward messages received */
    uint64_t drop_at;      /* the failpoint (compute.c): drop that one; 0: none */
} wk_compute;

/* load.c: handle LoadShard. On success the new shard replaces the old one
 * (whose sessions end) and *ready is filled; on failure nothing changes
 * and *code / err say why. */
int wk_load(wk_compute *c, const Lp__LoadShard *ls, Lp__ShardReady *ready, uint32_t *code,
            lp_err *err);
/* Free the shard and everything tied to it. */
void wk_unload(wk_compute *c);

/* forward.c: run one Forward and send what follows from it (Forward
 * downstream, or Result / Error to the coordinator). */
void wk_forward(wk_compute *c, const Lp__Envelope *env);

/* One Forward on its way through the shard, and forward.c's steps for it,
 * which batch.c runs for several at once: check it against the shard and
 * its session (slot set; 0, or -1 once refused), make the session's
 * sampler where it brings the settings, send its row of the output on
 * (hidden states to the next worker, or a sampled Result), or refuse it
 * with an Error naming its session. */
typedef struct wk_step {
    const Lp__Forward *f;
    uint64_t request_id;
    int slot;
    bool opened; /* this step opened the session */
} wk_step;

int wk_step_check(wk_compute *c, wk_step *s);
int wk_step_sampler(wk_compute *c, wk_step *s);
int wk_step_pass_on(wk_compute *c, const wk_step *s, const float *out, uint64_t us);
int wk_step_answer(wk_compute *c, const wk_step *s, const float *logits, uint64_t us);
int wk_step_refuse(wk_compute *c, const wk_step *s, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Are these steps (just drained) all single-token decode steps, fewer
 * than the sessions decoding here? Then the others' steps may be a moment
 * behind (a coordinator answers results one by one), and compute.c waits
 * up to WK_BATCH_WAIT_MS for one more before running them. */
#define WK_BATCH_WAIT_MS 1
bool wk_batch_may_grow(const wk_compute *c, Lp__Envelope *const *envs, int n);

/* batch.c: the Forwards that came in together, in order; single-token
 * steps of different sessions run as one decode batch (lp_forward_batch),
 * everything else one by one (wk_forward). */
enum { WK_MAX_BATCH = 32 };
void wk_forward_all(wk_compute *c, Lp__Envelope *const *envs, int n);

/* Send an Error for request_id (about session, 0 if none) to the
 * coordinator's result endpoint; printed on stderr when there is none. */
void wk_send_error(wk_compute *c, uint64_t request_id, uint64_t session, uint32_t code,
                   const char *msg);

/* Publish sessions / KV use into ctx->stats. */
void wk_publish_stats(wk_compute *c);

#endif
