/* ppl.h — the pieces of `coord perplexity`: its options, the sources that
 * score a window of text (a model in this process, or a pool of workers),
 * and the report.
 *
 * A source runs a window (n_ctx tokens, the first already replaced by
 * BOS) from an empty context and hands the scored positions — window
 * positions first = n_ctx/2 .. n_ctx-2, each predicting the window's next
 * token — to a sink, in one or more calls, in either of two forms:
 *   scores: per position, -log p(next token) and the top token, computed
 *           where the logits are (on the last worker, in a pool);
 *   rows:   per position, the full logit row (for the KL divergence).
 * Both forms come from the same forward pass and the same arithmetic
 * (perplexity.h), so a pool and this process print the same figures.
 *
 * Ownership: each *_open fills a caller-owned struct that *_close frees. */
#ifndef LP_COORD_PPL_H
#define LP_COORD_PPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "perplexity.h"
#include "shard.h"
#include "tokenizer.h"

typedef struct ppl_opts {
    const char *model;    /* -m */
    const char *file;     /* -f */
    const char *kl_base;  /* --kl-base BASE.gguf, or NULL */
    const char *config;   /* --config FILE, or NULL */
    int local_workers;    /* --local-workers N, or 0 */
    int n_ctx;            /* -c, even */
    int n_batch;          /* -b: tokens per forward step */
    int n_threads;        /* -t */
    int n_windows;        /* --chunks: at most this many windows; 0 = all */
} ppl_opts;

/* 0 ok; 1 help was printed; -1 usage error (printed). */
int ppl_opts_parse(int argc, char **argv, ppl_opts *o);

typedef struct ppl_sink {
    /* scores of positions pos .. pos+n-1 */
    int (*scores)(void *user, int pos, int n, const double *nll, const int32_t *top,
                  lp_err *err);
    /* logit rows [n][n_vocab] of positions pos .. pos+n-1; when set, the
     * source delivers rows instead of scores */
    int (*rows)(void *user, int pos, int n, const float *rows, lp_err *err);
    void *user;
} ppl_sink;

#define PPL_MAX_GROUP 16 /* max_windows is at most this */

/* windows(): run n <= max_windows windows, each into its own sink; a pool
 * runs them at once (one session each), so every worker has work. */
typedef struct ppl_source {
    int (*windows)(void *self, const int32_t *const *wins, int n, int n_ctx,
                   const ppl_sink *sinks, lp_err *err);
    void *self;
    const lp_hparams *hp; /* the model's, borrowed from the source */
    int max_windows;
} ppl_source;

/* ---- a model in this process (ppl_local.c) ---- */

typedef struct ppl_local {
    lp_shard *shard;
    int slot;     /* the one session: each window starts it afresh */
    int n_batch;
    double *nll;  /* [n_batch] scores of one step */
    int32_t *top;
} ppl_local;

/* Open path for windows of n_ctx tokens run n_batch at a time. */
int ppl_local_open(ppl_local *l, const char *path, int n_ctx, int n_batch, int n_threads,
                   lp_err *err);
void ppl_local_close(ppl_local *l);
ppl_source ppl_local_source(ppl_local *l);

/* ---- a pool of workers (ppl_pool.c) ---- */

typedef struct ppl_pool ppl_pool;

/* Bring up the pool --config or --local-workers describes, with the model
 * -m names (if given), able to hold a window of n_ctx tokens. */
ppl_pool *ppl_pool_open(const ppl_opts *o, lp_err *err);
void ppl_pool_close(ppl_pool *p);
ppl_source ppl_pool_source(ppl_pool *p);
/* The pool's view of the model: its GGUF header and tokenizer. */
const lp_gguf *ppl_pool_gguf(const ppl_pool *p);
const lp_tokenizer *ppl_pool_tokenizer(const ppl_pool *p);
int ppl_pool_n_ctx(const ppl_pool *p);

/* ---- the KL-divergence report, as llama.cpp lays it out (ppl_report.c) ---- */

void ppl_report_kld_header(FILE *f);
void ppl_report_kld_chunk(FILE *f, int chunk, const lp_kld_acc *k);
/* The final statistics; sorts kld and p_diff (n values each) in place. */
void ppl_report_kld_final(FILE *f, const lp_kld_acc *k, float *kld, float *p_diff, size_t n);

#endif
