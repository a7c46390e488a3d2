/* ppl_local.c — scoring windows with the whole model in this process. */
#include <stdlib.h>

#include "perplexity.h"
#include "ppl.h"

/* llama.cpp rounds its KV cache up to a multiple of 32 cells (its padding
 * without flash attention); the attention window is capped by that size,
 * so ours is rounded the same way. */
static int padded_ctx(int n_ctx)
{
    return (n_ctx + 31) / 32 * 32;
}

int ppl_local_open(ppl_local *l, const char *path, int n_ctx, int n_batch, int n_threads,
                   lp_err *err)
{
    *l = (ppl_local){0};
    lp_shard_opts so;
    lp_shard_opts_default(&so);
    so.n_ctx = padded_ctx(n_ctx);
    so.n_batch = n_batch < n_ctx ? n_batch : n_ctx;
    so.n_threads = n_threads;
    if (!(l->shard = lp_shard_open(path, &so, err)))
        return -1;
    l->n_batch = so.n_batch;
    l->nll = malloc(sizeof *l->nll * (size_t)l->n_batch);
    l->top = malloc(sizeof *l->top * (size_t)l->n_batch);
    if (!l->nll || !l->top)
        return lp_err_set(err, "out of memory");
    return (l->slot = lp_kv_open(l->shard->kv, 1, err)) < 0 ? -1 : 0;
}

void ppl_local_close(ppl_local *l)
{
    lp_shard_close(l->shard);
    free(l->nll);
    free(l->top);
    *l = (ppl_local){0};
}

/* Hand the scored positions pos .. pos+n-1 of one step to the sink; rows
 * are their logits, window the whole window (for the next tokens). */
static int deliver(ppl_local *l, const ppl_sink *sink, const int32_t *win, int pos, int n,
                   const float *rows, lp_err *err)
{
    const int nv = (int)l->shard->model->hp.n_vocab;
    if (sink->rows)
        return sink->rows(sink->user, pos, n, rows, err);
    for (int i = 0; i < n; i++)
        lp_ppl_score_row(rows + (size_t)i * nv, nv, win[pos + i + 1], &l->nll[i], &l->top[i]);
    return sink->scores(sink->user, pos, n, l->nll, l->top, err);
}

/* The window in steps of n_batch tokens, as llama.cpp splits a batch into
 * micro-batches; each step asks logits for its positions from `first` on
 * (llama.cpp's outputs), so the last layer runs on exactly those rows. */
static int local_window(ppl_local *l, const int32_t *win, int n_ctx, const ppl_sink *sink,
                        lp_err *err)
{
    const int first = lp_ppl_first(n_ctx);
    if (lp_kv_set_len(l->shard->kv, l->slot, 0, err) != 0)
        return -1;
    for (int pos = 0; pos < n_ctx;) {
        const int n = n_ctx - pos < l->n_batch ? n_ctx - pos : l->n_batch;
        const int from = pos > first ? pos : first;
        const int n_out = pos + n - from;
        lp_fwd_in in = {.n = n, .pos0 = pos, .tokens = win + pos,
                        .n_logits = n_out > 0 ? n_out : 1};
        const float *logits;
        if (lp_forward(l->shard->run, l->shard->kv, l->slot, &in, &logits, err) != 0)
            return -1;
        pos += n;
        /* the window's last position has no next token to score */
        const int n_scored = (pos < n_ctx ? pos : n_ctx - 1) - from;
        if (n_scored > 0 && deliver(l, sink, win, from, n_scored, logits, err) != 0)
            return -1;
    }
    return 0;
}

static int local_windows(void *self, const int32_t *const *wins, int n, int n_ctx,
                         const ppl_sink *sinks, lp_err *err)
{
    for (int i = 0; i < n; i++)
        if (local_window(self, wins[i], n_ctx, &sinks[i], err) != 0)
            return -1;
    return 0;
}

ppl_source ppl_local_source(ppl_local *l)
{
    return (ppl_source){.windows = local_windows, .self = l, .hp = &l->shard->model->hp,
                        .max_windows = 1};
}
