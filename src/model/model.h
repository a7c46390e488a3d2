/* model.h — weight bindings for a layer range of a llama-family model
 * (hyperparameters: hparams.h), and the forward pass over that range.
 *
 * A shard is the contiguous layer range [first, last) of a model, plus the
 * token embedding if first == 0 (has_embed) and the output norm + head if
 * last == n_layer (has_head). The single-process path is the shard
 * [0, n_layer), and it is the same code as every distributed shard.
 *
 * Ownership: lp_model_load returns a model the caller owns (lp_model_free).
 * It borrows the lp_gguf: weight pointers point into its mapping, so the
 * gguf must outlive the model. lp_run_new returns a run state the caller owns
 * (lp_run_free); it borrows the model, the thread pool and the kv cache. */
#ifndef LP_MODEL_H
#define LP_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"
#include "hparams.h"
#include "kernels.h"
#include "matmul.h"
#include "kv.h"
#include "threadpool.h"

typedef struct lp_layer {
    const float *attn_norm;          /* [n_embd] */
    lp_weight wq, wk, wv, wo;
    const float *bq, *bk, *bv;       /* qwen2 only, else NULL */
    const float *ffn_norm;           /* [n_embd] */
    lp_weight w_gate, w_up, w_down;
} lp_layer;

typedef struct lp_model {
    lp_hparams hp;
    int first, last;     /* layer range [first, last) */
    bool has_embed, has_head;
    lp_weight tok_embd;  /* [n_vocab rows x n_embd] if has_embed */
    const float *output_norm;
    lp_weight output;    /* the head; token_embd itself when tied */
    bool output_tied;
    const float *rope_freqs; /* [n_rot/2] or NULL (Llama 3.1+) */
    lp_layer *layers;    /* last - first entries, owned */
} lp_model;

/* Bind and check every tensor of layers [first, last) (and embed/head as
 * the range implies). last == -1 means n_layer. */
lp_model *lp_model_load(const lp_gguf *g, int first, int last, lp_err *err);
void lp_model_free(lp_model *m);

/* Make every weight the model binds resident now (the pages of its
 * mapping read in), as llama.cpp's warm-up does: otherwise the first step
 * faults them in one by one, and a pool's first token waits for every
 * worker's disk. Best effort: a page it cannot bring in is faulted later. */
void lp_model_prefault(const lp_model *m);

/* ---- the forward pass -------------------------------------------------- */

typedef struct lp_run lp_run;

/* max_batch: the most tokens one lp_forward call takes (prefill chunk);
 * max_ctx: the most positions a session may reach (the kv cache's n_ctx). */
lp_run *lp_run_new(const lp_model *m, const lp_kernels *k, lp_threadpool *tp,
                   int max_batch, int max_ctx, lp_err *err);
/* The same for a cache with these attention options (kv.h): with -fa the
 * run holds flash attention's scratch instead of a score row per thread,
 * and steps on a cache of the other layout fail. NULL = the defaults. */
lp_run *lp_run_new_attn(const lp_model *m, const lp_kernels *k, lp_threadpool *tp, int max_batch,
                        int max_ctx, const lp_attn_opts *attn, lp_err *err);
void lp_run_free(lp_run *r);

/* The buffers an lp_run holds besides the matmul scratch (which depends on
 * the layers' weight types: lp_matmul_scratch_bytes), in bytes, for a model
 * of hyperparameters hp: lp_run_new allocates exactly these, and the
 * planner counts them without one, so the two cannot drift apart. A buffer
 * the attention options leave out is 0; the others at least one element
 * (calloc of none would be no buffer at all). Saturates at UINT64_MAX. */
typedef enum lp_run_buf {
    LP_RUN_X, LP_RUN_XB, LP_RUN_Q, LP_RUN_KN, LP_RUN_VN, LP_RUN_ATT, LP_RUN_HB, LP_RUN_HB2,
    LP_RUN_ROPE, LP_RUN_LOGITS,
    LP_RUN_ATT_SCORES, LP_RUN_ATT_Q16, LP_RUN_ATT_P16, /* without -fa */
    LP_RUN_FA_SCRATCH,                                 /* with -fa */
    LP_RUN_N_BUFS
} lp_run_buf;

void lp_run_buffer_bytes(const lp_hparams *hp, int max_batch, int max_ctx, int n_threads,
                         bool flash, uint64_t bytes[LP_RUN_N_BUFS]);

/* One step over the shard for n tokens of one session at positions
 * pos0 .. pos0+n-1 (the kv slot must already hold positions < pos0).
 * Input: token ids if the shard has_embed, else hidden states [n][n_embd].
 * Output: if has_head, the logits of the last n_logits tokens
 * [n_logits][n_vocab] (by default only the LAST token's), else the hidden
 * states [n][n_embd]. Both output buffers belong to the lp_run and stay
 * valid until the next call.
 *
 * n_logits > 1 is for scoring (perplexity): as llama.cpp with outputs for
 * those tokens only, the last layer's feed-forward and the head run on
 * those rows alone, so the logits equal llama.cpp's for the same batch. The
 * run grows its logits buffer on the first such call (the only allocation
 * a step may make; a step of n_logits <= 1 allocates nothing). */
typedef struct lp_fwd_in {
    int n;
    int pos0;
    const int32_t *tokens;  /* has_embed: checked against the vocabulary here */
    const void *hidden;     /* !has_embed: [n][n_embd] rows of hidden_type at
                               any alignment (a message's bytes), copied or
                               converted once, into the run */
    uint32_t hidden_type;   /* LP_TYPE_F32 (the zero default), F16, BF16 or
                               Q8_0: what the wire carried */
    const void *const *hidden_rows; /* instead of hidden: row t at hidden_rows[t]
                                       (a batch's rows from separate messages) */
    int n_logits;           /* has_head: 0 or 1 = the last token's, at most n */
} lp_fwd_in;

int lp_forward(lp_run *r, lp_kv *kv, int slot, const lp_fwd_in *in,
               const float **out, lp_err *err);

/* A decode batch: one token each of n different sessions at once, row t
 * at position pos[t] of slot[t] (in->pos0 and in->n_logits unused). The
 * weights are read once for all rows (lp_matmul_solo: every output as the
 * row's own one-token step computes it), each row's attention runs over
 * its own session's cache, so every row comes out bit for bit as its
 * session's step alone would. Output as lp_forward's, row t being session
 * t's: the hidden states [n][n_embd], or the logits [n][n_vocab] on the
 * last shard (the run grows its logits room on the first batch). */
int lp_forward_batch(lp_run *r, lp_kv *kv, const int *slot, const int *pos,
                     const lp_fwd_in *in, const float **out, lp_err *err);

/* The input checks lp_forward makes before anything else (the kind of
 * input the shard takes, every token id within the vocabulary: the one
 * place they are checked), for a caller that must refuse a step before it
 * changes any state of its own (a worker opening a session). 0, or -1 with
 * err. */
int lp_forward_check_input(const lp_run *r, const lp_fwd_in *in, lp_err *err);

#endif
