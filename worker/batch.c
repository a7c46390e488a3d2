/* batch.c — decode batches: of the Forwards that came in together, the
 * single-token steps of different sessions (each already holding its KV
 * here) run as one lp_forward_batch, reading the shard's weights once for
 * all of them instead of once each; every session's output stays bit for
 * bit what its step alone gives (model.h).
 *
 * The worker never waits for a batch to fill: it takes what is queued at
 * the data endpoint when it is free (compute.c drains it), so a lone
 * session runs at once, and sessions pile up into batches exactly when
 * the worker is the pipeline's bottleneck. One wait: a coordinator answers
 * results one by one, so the steps of sessions that left the last worker
 * together reach the first a few microseconds apart; when fewer steps are
 * queued than sessions decode here, compute.c gives the rest up to 1 ms
 * to arrive (wk_batch_may_grow). Measured on the 1B shape, 4 sessions
 * through 2 workers: 95 % of steps batched with it, 66 % without.
 *
 * Messages keep their order: anything that cannot join (a prompt chunk, a
 * new session, scoring, a session already in the batch, another wire
 * dtype) ends the batch and runs on its own. */
#include <stdatomic.h>

#include "clock.h"
#include "compute.h"

typedef struct batch {
    wk_step s[WK_MAX_BATCH];
    int n;
    uint32_t hidden_type;
} batch;

/* One token of a session already open here, not scored: a decode step. */
static bool decode_step(const Lp__Forward *f)
{
    return f->n_tokens == 1 && !f->new_session && f->n_score_targets == 0;
}

/* Can this Forward be one row of a decode batch (given what b holds)? */
static bool joins(const wk_compute *c, const batch *b, const Lp__Forward *f)
{
    if (!decode_step(f) || b->n == WK_MAX_BATCH || b->n >= c->shard->opts.n_batch)
        return false;
    if (!c->shard->model->has_embed && b->n > 0 && lp_wire_dtype_type(f->dtype) != b->hidden_type)
        return false;
    for (int i = 0; i < b->n; i++)
        if (b->s[i].f->session == f->session)
            return false;
    return lp_kv_find(c->shard->kv, f->session) >= 0;
}

/* Checked members only: a refused one has had its Error and drops out. */
static void keep_checked(wk_compute *c, batch *b)
{
    int n = 0;
    for (int i = 0; i < b->n; i++)
        if (wk_step_check(c, &b->s[i]) == 0 &&
            (!c->shard->model->has_head || wk_step_sampler(c, &b->s[i]) == 0))
            b->s[n++] = b->s[i];
    b->n = n;
}

static void run_batch(wk_compute *c, batch *b)
{
    keep_checked(c, b);
    if (b->n == 0)
        return;
    const lp_model *m = c->shard->model;
    int slot[WK_MAX_BATCH], pos[WK_MAX_BATCH];
    int32_t tok[WK_MAX_BATCH];
    const void *rows[WK_MAX_BATCH];
    const int64_t now = lp_now_ms();
    for (int i = 0; i < b->n; i++) {
        const Lp__Forward *f = b->s[i].f;
        slot[i] = b->s[i].slot;
        pos[i] = (int)f->pos0;
        tok[i] = m->has_embed ? f->token_ids[0] : 0;
        rows[i] = f->hidden.data;
        c->sessions->s[slot[i]].last_used_ms = now;
    }
    lp_fwd_in in = {.n = b->n, .tokens = m->has_embed ? tok : NULL,
                    .hidden_rows = m->has_embed ? NULL : rows, .hidden_type = b->hidden_type};
    const float *out;
    lp_err err = {0};
    int64_t t0 = lp_now_us();
    if (lp_forward_batch(c->shard->run, c->shard->kv, slot, pos, &in, &out, &err) != 0) {
        for (int i = 0; i < b->n; i++)
            wk_step_refuse(c, &b->s[i], LP_WIRE_EINTERNAL, "forward: %s", err.msg);
        return;
    }
    /* each session's step took the batch's time: that is its latency */
    const uint64_t us = (uint64_t)(lp_now_us() - t0);
    atomic_fetch_add(&c->ctx->stats.tokens_processed, (uint64_t)b->n);
    atomic_fetch_add(&c->ctx->stats.compute_us, us);
    atomic_fetch_add(&c->ctx->stats.batches, 1);
    atomic_fetch_add(&c->ctx->stats.batched_steps, (uint64_t)b->n);
    wk_publish_stats(c);
    const size_t row = m->has_head ? m->hp.n_vocab : m->hp.n_embd;
    for (int i = 0; i < b->n; i++) {
        if (m->has_head)
            wk_step_answer(c, &b->s[i], out + i * row, us);
        else
            wk_step_pass_on(c, &b->s[i], out + i * row, us);
    }
}

/* Sessions decoding here: open and stepped within the last second. */
static int active_sessions(const wk_compute *c)
{
    const int64_t since = lp_now_ms() - 1000;
    int active = 0;
    for (int i = 0; i < c->sessions->n; i++)
        active += c->sessions->s[i].open && c->sessions->s[i].last_used_ms >= since;
    return active;
}

bool wk_batch_may_grow(const wk_compute *c, Lp__Envelope *const *envs, int n)
{
    if (!c->shard || n < 1 || n >= WK_MAX_BATCH)
        return false;
    for (int i = 0; i < n; i++)
        if (!decode_step(envs[i]->forward))
            return false;
    return n < active_sessions(c);
}

/* The batch as it stands: one member runs as a plain step. */
static void flush(wk_compute *c, batch *b, Lp__Envelope *const *envs, const int *idx)
{
    if (b->n == 1)
        wk_forward(c, envs[idx[0]]);
    else if (b->n > 1)
        run_batch(c, b);
    b->n = 0;
}

void wk_forward_all(wk_compute *c, Lp__Envelope *const *envs, int n)
{
    batch b = {.n = 0};
    int idx[WK_MAX_BATCH];
    for (int i = 0; i < n; i++) {
        const Lp__Forward *f = envs[i]->forward;
        if (!c->shard) {
            wk_forward(c, envs[i]); /* refused there, with the reason */
            continue;
        }
        if (!joins(c, &b, f)) {
            flush(c, &b, envs, idx);
            if (!joins(c, &b, f)) {
                wk_forward(c, envs[i]);
                continue;
            }
        }
        if (b.n == 0)
            b.hidden_type = lp_wire_dtype_type(f->dtype);
        idx[b.n] = i;
        b.s[b.n++] = (wk_step){.f = f, .request_id = envs[i]->request_id, .slot = -1};
    }
    flush(c, &b, envs, idx);
}
