/* model.c — the forward pass of a llama-family layer range, top to bottom as
 * the math goes. Every buffer lives in lp_run, allocated once; a step
 * allocates nothing. Matmuls and attention run on the thread pool. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attn_flash.h"
#include "attn_kq8.h"
#include "ops.h"

struct lp_run {
    const lp_model *m;
    const lp_kernels *k;
    lp_threadpool *tp;
    int max_batch, max_ctx;
    float *x;       /* [B][n_embd]   the residual stream */
    float *xb;      /* [B][n_embd]   normed input of a block / block output */
    float *q;       /* [B][n_head * head_dim] */
    float *kn, *vn; /* [B][kv_dim]   this step's keys and values */
    float *att;     /* [B][n_head * head_dim] attention output */
    float *hb;      /* [B][n_ff]     gate, then silu(gate) * up */
    float *hb2;     /* [B][n_ff]     up */
    float *rope;    /* [B][n_rot]    cos/sin per token position */
    float *logits;  /* [logit_rows][n_vocab] */
    int logit_rows;               /* rows logits holds: 1, more once scoring asks */
    void *mm_scratch;             /* activations in a dot type, widest input */
    size_t mm_scratch_bytes;
    bool flash;                   /* -fa: attn_flash.c, else the buffers below */
    float *att_scores;            /* [nth][max_ctx] */
    lp_half *att_q16, *att_p16;   /* [nth][head_dim], [nth][max_ctx] */
    void *fa_scratch;             /* -fa: lp_attn_flash_scratch_bytes */
};

/* ---- setup ------------------------------------------------------------- */

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

static size_t widest_scratch(const lp_model *m, int batch)
{
    size_t best = 0;
    for (int l = 0; l < m->last - m->first; l++) {
        const lp_layer *L = &m->layers[l];
        const lp_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                 &L->w_down};
        for (size_t i = 0; i < sizeof lw / sizeof lw[0]; i++)
            best = max_sz(best, lp_matmul_scratch_bytes(lw[i]->type, lw[i]->cols, batch));
    }
    if (m->has_head)
        best = max_sz(best, lp_matmul_scratch_bytes(m->output.type, m->output.cols, 1));
    return best;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* n elements of size bytes, at least one element. */
static uint64_t elems(uint64_t n, uint64_t size)
{
    return sat_mul(n ? n : 1, size);
}

void lp_run_buffer_bytes(const lp_hparams *hp, int max_batch, int max_ctx, int n_threads,
                         bool flash, uint64_t bytes[LP_RUN_N_BUFS])
{
    const uint64_t B = (uint64_t)max_batch, nth = (uint64_t)n_threads, ctx = (uint64_t)max_ctx,
                   f = sizeof(float), h = sizeof(lp_half);
    const uint64_t qd = (uint64_t)hp->n_head * hp->head_dim,
                   kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    bytes[LP_RUN_X] = bytes[LP_RUN_XB] = elems(sat_mul(B, hp->n_embd), f);
    bytes[LP_RUN_Q] = bytes[LP_RUN_ATT] = elems(sat_mul(B, qd), f);
    bytes[LP_RUN_KN] = bytes[LP_RUN_VN] = elems(sat_mul(B, kvd), f);
    bytes[LP_RUN_HB] = bytes[LP_RUN_HB2] = elems(sat_mul(B, hp->n_ff), f);
    bytes[LP_RUN_ROPE] = elems(sat_mul(B, hp->n_rot), f);
    bytes[LP_RUN_LOGITS] = elems(hp->n_vocab, f); /* one row; scoring grows it */
    bytes[LP_RUN_ATT_SCORES] = flash ? 0 : elems(sat_mul(nth, ctx), f);
    bytes[LP_RUN_ATT_Q16] = flash ? 0 : elems(sat_mul(nth, hp->head_dim), h);
    bytes[LP_RUN_ATT_P16] = flash ? 0 : elems(sat_mul(nth, ctx), h);
    bytes[LP_RUN_FA_SCRATCH] =
        flash ? elems(lp_attn_flash_scratch_bytes((int)hp->n_head, (int)hp->n_head_kv,
                                                  (int)hp->head_dim, n_threads), 1)
              : 0;
}

/* A buffer of lp_run_buffer_bytes' size; NULL for one left out. */
static void *take(const uint64_t *bytes, lp_run_buf b, bool *ok)
{
    if (bytes[b] == 0)
        return NULL;
    void *p = bytes[b] <= SIZE_MAX ? calloc((size_t)bytes[b], 1) : NULL;
    if (!p)
        *ok = false;
    return p;
}

lp_run *lp_run_new(const lp_model *m, const lp_kernels *k, lp_threadpool *tp,
                   int max_batch, int max_ctx, lp_err *err)
{
    return lp_run_new_attn(m, k, tp, max_batch, max_ctx, NULL, err);
}

lp_run *lp_run_new_attn(const lp_model *m, const lp_kernels *k, lp_threadpool *tp, int max_batch,
                        int max_ctx, const lp_attn_opts *attn, lp_err *err)
{
    if (max_batch < 1 || max_batch > 65536 || max_ctx < 1 || max_ctx > (1 << 24)) {
        lp_err_set(err, "run: batch %d / context %d out of range", max_batch, max_ctx);
        return NULL;
    }
    lp_run *r = calloc(1, sizeof *r);
    if (!r) {
        lp_err_set(err, "run: out of memory");
        return NULL;
    }
    uint64_t b[LP_RUN_N_BUFS];
    bool ok = true;
    *r = (lp_run){.m = m, .k = k, .tp = tp, .max_batch = max_batch, .max_ctx = max_ctx,
                  .flash = attn && attn->flash, .logit_rows = 1};
    lp_run_buffer_bytes(&m->hp, max_batch, max_ctx, lp_threadpool_size(tp), r->flash, b);
    r->x = take(b, LP_RUN_X, &ok);
    r->xb = take(b, LP_RUN_XB, &ok);
    r->q = take(b, LP_RUN_Q, &ok);
    r->kn = take(b, LP_RUN_KN, &ok);
    r->vn = take(b, LP_RUN_VN, &ok);
    r->att = take(b, LP_RUN_ATT, &ok);
    r->hb = take(b, LP_RUN_HB, &ok);
    r->hb2 = take(b, LP_RUN_HB2, &ok);
    r->rope = take(b, LP_RUN_ROPE, &ok);
    r->logits = take(b, LP_RUN_LOGITS, &ok);
    r->att_scores = take(b, LP_RUN_ATT_SCORES, &ok);
    r->att_q16 = take(b, LP_RUN_ATT_Q16, &ok);
    r->att_p16 = take(b, LP_RUN_ATT_P16, &ok);
    r->fa_scratch = take(b, LP_RUN_FA_SCRATCH, &ok);
    r->mm_scratch_bytes = widest_scratch(m, max_batch);
    r->mm_scratch = calloc(r->mm_scratch_bytes ? r->mm_scratch_bytes : 1, 1);
    if (!ok || !r->mm_scratch) {
        lp_run_free(r);
        lp_err_set(err, "run: out of memory for batch %d, context %d", max_batch, max_ctx);
        return NULL;
    }
    return r;
}

void lp_run_free(lp_run *r)
{
    if (!r)
        return;
    void *bufs[] = {r->x, r->xb, r->q, r->kn, r->vn, r->att, r->hb, r->hb2, r->rope,
                    r->logits, r->mm_scratch, r->att_scores, r->att_q16, r->att_p16,
                    r->fa_scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(r);
}

/* ---- one step ---------------------------------------------------------- */

/* What a step's rows are: n consecutive positions of one session (a prompt
 * chunk or one token: pos0.., slot0), or, `solo`, one token each of n
 * different sessions (a decode batch: slot[t], pos[t]), each computed as
 * its one-token step would be. */
typedef struct step {
    int n;
    int slot0, pos0;
    const int *slot, *pos; /* solo: [n] */
    bool solo;
} step;

static int row_slot(const step *st, int t)
{
    return st->solo ? st->slot[t] : st->slot0;
}

static int row_pos(const step *st, int t)
{
    return st->solo ? st->pos[t] : st->pos0 + t;
}

/* A decode batch reads each weight once for all its rows, and each output
 * comes out as that row's one-token product would (lp_matmul_solo). */
static void matmul(lp_run *r, const step *st, const lp_weight *w, const float *x, int n,
                   float *y)
{
    if (st->solo)
        lp_matmul_solo(r->tp, r->k, w, x, n, y, r->mm_scratch);
    else
        lp_matmul(r->tp, r->k, w, x, n, y, r->mm_scratch);
}

static void add_bias(float *y, const float *b, int n_tok, int dim)
{
    if (!b)
        return;
    for (int t = 0; t < n_tok; t++)
        lp_add(y + (size_t)t * dim, b, dim);
}

static void rmsnorm_rows(float *out, const float *x, const float *w, int n_tok, int dim,
                         float eps)
{
    for (int t = 0; t < n_tok; t++)
        lp_rmsnorm(out + (size_t)t * dim, x + (size_t)t * dim, w, dim, eps);
}

static void rope_heads(const lp_run *r, float *v, int n_tok, int n_heads)
{
    const lp_hparams *hp = &r->m->hp;
    for (int t = 0; t < n_tok; t++)
        for (int h = 0; h < n_heads; h++)
            lp_rope_apply(v + ((size_t)t * n_heads + h) * hp->head_dim,
                          r->rope + (size_t)t * hp->n_rot, (int)hp->n_rot,
                          hp->rope_mode == LP_ROPE_NEOX);
}

typedef struct attn_task {
    lp_run *r;
    lp_kv *kv;
    const step *st;
    int layer;
} attn_task;

/* The shapes of llama.cpp's two attention products, per head: K (n_kv x
 * head_dim, f16 or q8_0) times q, and V^T (head_dim x n_kv) times p, for
 * n_tok rows of one session whose last sees position last_pos. */
static lp_attn_shape attn_shape(const lp_run *r, const lp_kv *kv, int last_pos, int n_tok)
{
    const lp_hparams *hp = &r->m->hp;
    const int hd = (int)hp->head_dim;
    const int n_kv = lp_kv_window(kv, last_pos + 1);
    const lp_kernels *k = r->k;
    const lp_type kt = lp_kv_type_ggml(lp_kv_get_shape(kv)->attn.type_k);
    const bool qk_gemm = lp_matmul_uses_gemm(k, kt, n_kv, n_tok, hd);
    const bool pv_gemm = lp_matmul_uses_gemm(k, LP_TYPE_F16, hd, n_tok, n_kv);
    return (lp_attn_shape){
        .head_dim = hd,
        .n_kv = n_kv,
        .k_stride = (int64_t)hp->n_head_kv * hd,
        .v_stride = lp_kv_vt_stride(kv),
        .scale = 1.0f / sqrtf((float)hd),
        .qk = qk_gemm ? k->dot_gemm[kt] : k->dot[kt],
        .pv = pv_gemm ? k->dot_gemm[LP_TYPE_F16] : k->dot[LP_TYPE_F16],
        .qk_rows = qk_gemm ? NULL : k->dot_rows[kt],
        .pv_rows = pv_gemm ? NULL : k->dot_rows[LP_TYPE_F16],
    };
}

/* Query head h of row t: lp_attend_head, or its twin for a q8_0 K. */
static void attend(const attn_task *a, const lp_attn_shape *sh, int t, int h,
                   lp_attn_scratch *s)
{
    lp_run *r = a->r;
    const lp_hparams *hp = &r->m->hp;
    const int hd = (int)hp->head_dim, hk = h / (int)(hp->n_head / hp->n_head_kv);
    const int slot = row_slot(a->st, t);
    const size_t qo = ((size_t)t * hp->n_head + h) * hd;
    const lp_half *Vt = lp_kv_vt_at(a->kv, a->layer, slot, hk * hd);
    const uint8_t *K = lp_kv_k_at(a->kv, a->layer, slot, hk * hd);
    if (lp_kv_get_shape(a->kv)->attn.type_k == LP_KV_Q8_0) {
        lp_attend_head_kq8(r->k, sh, r->q + qo, K, lp_kv_k_row_bytes(a->kv), Vt,
                           row_pos(a->st, t) + 1, r->att + qo, s);
        return;
    }
    lp_attend_head(r->k, sh, r->q + qo, (const lp_half *)(const void *)K, Vt,
                   row_pos(a->st, t) + 1, r->att + qo, s);
}

/* Every (row, head) of the step, split over the threads; rows of one
 * session share one shape, a decode batch's rows each have their own. */
static void attn_worker(void *arg, int ith, int nth)
{
    const attn_task *a = arg;
    lp_run *r = a->r;
    const step *st = a->st;
    const int hd = (int)r->m->hp.head_dim, n_head = (int)r->m->hp.n_head;
    lp_attn_shape sh = attn_shape(r, a->kv, row_pos(st, st->n - 1), st->solo ? 1 : st->n);
    lp_attn_scratch s = {r->att_scores + (size_t)ith * r->max_ctx,
                         r->att_q16 + (size_t)ith * hd, r->att_p16 + (size_t)ith * r->max_ctx};
    long lo, hi;
    lp_split_range((long)st->n * n_head, ith, nth, &lo, &hi);
    for (long i = lo; i < hi; i++) {
        const int t = (int)(i / n_head);
        if (st->solo)
            sh = attn_shape(r, a->kv, st->pos[t], 1);
        attend(a, &sh, t, (int)(i % n_head), &s);
    }
}

/* llama.cpp's -fa: attn_flash.c, over the cache's position rows, for n
 * queries of one session from row t0 at positions pos0... */
static void flash_attention(lp_run *r, lp_kv *kv, int il, int slot, int pos0, int t0, int n)
{
    const lp_hparams *hp = &r->m->hp;
    const lp_attn_opts *o = &lp_kv_get_shape(kv)->attn;
    const size_t qd = (size_t)hp->n_head * hp->head_dim;
    const lp_flash_args a = {
        .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
        .head_dim = (int)hp->head_dim, .n_tok = n, .pos0 = pos0, .block = LP_FLASH_BLOCK,
        .scale = 1.0f / sqrtf((float)hp->head_dim), .type_k = o->type_k, .type_v = o->type_v,
        .K = lp_kv_k_rows(kv, il, slot), .V = lp_kv_v_rows(kv, il, slot),
        .k_stride = lp_kv_k_row_bytes(kv), .v_stride = lp_kv_v_row_bytes(kv)};
    lp_attn_flash(r->tp, r->k, &a, r->q + t0 * qd, r->att + t0 * qd, r->fa_scratch);
}

/* K and V of the step into each row's session, then its attention. */
static void attend_rows(lp_run *r, lp_kv *kv, int il, const step *st)
{
    const lp_hparams *hp = &r->m->hp;
    const size_t kvd = (size_t)hp->n_head_kv * hp->head_dim;
    if (st->solo)
        for (int t = 0; t < st->n; t++)
            lp_kv_store(kv, il, st->slot[t], st->pos[t], 1, r->kn + t * kvd, r->vn + t * kvd);
    else
        lp_kv_store(kv, il, st->slot0, st->pos0, st->n, r->kn, r->vn);
    if (!lp_kv_get_shape(kv)->attn.flash) {
        attn_task a = {r, kv, st, il};
        lp_threadpool_run(r->tp, attn_worker, &a);
    } else if (st->solo) {
        for (int t = 0; t < st->n; t++)
            flash_attention(r, kv, il, st->slot[t], st->pos[t], t, 1);
    } else {
        flash_attention(r, kv, il, st->slot0, st->pos0, 0, st->n);
    }
}

static void attention(lp_run *r, lp_kv *kv, int il, const step *st)
{
    const lp_hparams *hp = &r->m->hp;
    const lp_layer *L = &r->m->layers[il];
    const int n = st->n;
    const int qd = (int)(hp->n_head * hp->head_dim), kvd = (int)(hp->n_head_kv * hp->head_dim);

    rmsnorm_rows(r->xb, r->x, L->attn_norm, n, (int)hp->n_embd, hp->rms_eps);
    matmul(r, st, &L->wq, r->xb, n, r->q);
    matmul(r, st, &L->wk, r->xb, n, r->kn);
    matmul(r, st, &L->wv, r->xb, n, r->vn);
    add_bias(r->q, L->bq, n, qd);
    add_bias(r->kn, L->bk, n, kvd);
    add_bias(r->vn, L->bv, n, kvd);
    rope_heads(r, r->q, n, (int)hp->n_head);
    rope_heads(r, r->kn, n, (int)hp->n_head_kv);
    attend_rows(r, kv, il, st);
    matmul(r, st, &L->wo, r->att, n, r->xb);
    lp_add(r->x, r->xb, n * (int)hp->n_embd);
}

/* On the n rows of the residual stream from row t0. */
static void feed_forward(lp_run *r, const step *st, int il, int t0, int n)
{
    const lp_hparams *hp = &r->m->hp;
    const lp_layer *L = &r->m->layers[il];
    const int ff = (int)hp->n_ff;
    float *x = r->x + (size_t)t0 * hp->n_embd;
    rmsnorm_rows(r->xb, x, L->ffn_norm, n, (int)hp->n_embd, hp->rms_eps);
    matmul(r, st, &L->w_gate, r->xb, n, r->hb);
    matmul(r, st, &L->w_up, r->xb, n, r->hb2);
    for (int t = 0; t < n; t++) {
        float *h = r->hb + (size_t)t * ff;
        lp_swiglu(r->k, h, h, r->hb2 + (size_t)t * ff, ff);
    }
    matmul(r, st, &L->w_down, r->hb, n, r->xb);
    lp_add(x, r->xb, n * (int)hp->n_embd);
}

/* The types hidden states may travel in (net/wire's dtypes). */
static bool hidden_type_ok(uint32_t t)
{
    return t == LP_TYPE_F32 || t == LP_TYPE_F16 || t == LP_TYPE_BF16 || t == LP_TYPE_Q8_0;
}

int lp_forward_check_input(const lp_run *r, const lp_fwd_in *in, lp_err *err)
{
    const lp_model *m = r->m;
    if (!m->has_embed && !in->hidden && !in->hidden_rows)
        return lp_err_set(err, "forward: this shard takes hidden states, none given");
    if (!m->has_embed && (!hidden_type_ok(in->hidden_type) ||
                          lp_type_row_bytes(in->hidden_type, m->hp.n_embd) == 0))
        return lp_err_set(err, "forward: hidden states of type %u cannot carry %u-wide rows",
                          in->hidden_type, m->hp.n_embd);
    if (!m->has_embed)
        return 0;
    if (!in->tokens)
        return lp_err_set(err, "forward: this shard takes token ids, none given");
    for (int t = 0; t < in->n; t++)
        if (in->tokens[t] < 0 || (uint32_t)in->tokens[t] >= m->hp.n_vocab)
            return lp_err_set(err, "token id %d outside the vocabulary of %u", in->tokens[t],
                              m->hp.n_vocab);
    return 0;
}

/* Row t of the hidden states the step brought: one array of rows, or a
 * row each (a decode batch whose rows came in separate messages). */
static const uint8_t *hidden_row(const lp_fwd_in *in, int t, size_t row_bytes)
{
    return in->hidden_rows ? in->hidden_rows[t]
                           : (const uint8_t *)in->hidden + (size_t)t * row_bytes;
}

/* The residual stream's first rows: the hop's hidden states (their one
 * copy, or conversion), or the token embeddings. */
static void embed(lp_run *r, const lp_fwd_in *in)
{
    const lp_model *m = r->m;
    const int e = (int)m->hp.n_embd;
    if (!m->has_embed) {
        const size_t row = lp_type_row_bytes(in->hidden_type, e);
        for (int t = 0; t < in->n; t++)
            lp_dequantize_row((lp_type)in->hidden_type, hidden_row(in, t, row),
                              r->x + (size_t)t * e, e);
        return;
    }
    for (int t = 0; t < in->n; t++)
        lp_dequantize_row(m->tok_embd.type,
                          m->tok_embd.data + (size_t)in->tokens[t] * m->tok_embd.row_bytes,
                          r->x + (size_t)t * e, e);
}

static int check_step(const lp_run *r, const lp_kv *kv, int slot, const lp_fwd_in *in,
                      lp_err *err)
{
    const lp_kv_shape *ks = lp_kv_get_shape(kv);
    if (in->n < 1 || in->n > r->max_batch)
        return lp_err_set(err, "forward: %d tokens, but a step takes 1..%d", in->n, r->max_batch);
    if (slot < 0 || slot >= ks->n_slots || ks->n_layer != r->m->last - r->m->first ||
        ks->kv_dim != (int)(r->m->hp.n_head_kv * r->m->hp.head_dim) || ks->n_ctx > r->max_ctx ||
        ks->attn.flash != r->flash)
        return lp_err_set(err, "forward: kv cache does not match this shard");
    if (in->pos0 != lp_kv_len(kv, slot))
        return lp_err_set(err, "forward: step starts at position %d but the session holds %d",
                          in->pos0, lp_kv_len(kv, slot));
    if (in->pos0 + in->n > ks->n_ctx)
        return lp_err_set(err, "forward: positions up to %d exceed the context of %d",
                          in->pos0 + in->n, ks->n_ctx);
    return 0;
}

/* Room for n_out rows of logits and for the head's activations in its dot
 * type: sized for one row at lp_run_new, grown here when scoring asks for
 * more, so generation never pays for a [max_batch][n_vocab] buffer. */
static int ensure_logit_rows(lp_run *r, int n_out, lp_err *err)
{
    const lp_model *m = r->m;
    if (n_out <= r->logit_rows)
        return 0;
    size_t need = lp_matmul_scratch_bytes(m->output.type, m->output.cols, n_out);
    if (need > r->mm_scratch_bytes) {
        void *p = realloc(r->mm_scratch, need);
        if (!p)
            return lp_err_set(err, "forward: out of memory for %d rows of logits", n_out);
        r->mm_scratch = p;
        r->mm_scratch_bytes = need;
    }
    float *l = realloc(r->logits, (size_t)n_out * m->hp.n_vocab * sizeof(float));
    if (!l)
        return lp_err_set(err, "forward: out of memory for %d rows of logits", n_out);
    r->logits = l;
    r->logit_rows = n_out;
    return 0;
}

/* The layers over the step's rows, then the head on the last n_out rows
 * (or the hidden states out). Input checked, logits' room made. */
static void run_step(lp_run *r, lp_kv *kv, const step *st, const lp_fwd_in *in, int n_out,
                     const float **out)
{
    const lp_model *m = r->m;
    const lp_hparams *hp = &m->hp;
    const int n = st->n, e = (int)hp->n_embd;
    embed(r, in);
    for (int t = 0; t < n; t++)
        lp_rope_cache(r->rope + (size_t)t * hp->n_rot, row_pos(st, t), (int)hp->n_rot,
                      hp->rope_base, hp->rope_freq_scale, m->rope_freqs);
    const int n_layer = m->last - m->first;
    for (int il = 0; il < n_layer; il++) {
        attention(r, kv, il, st);
        /* Only the output rows' logits leave the model, so llama.cpp runs
         * the last layer's feed-forward on those rows alone (for the usual
         * one row a one-row product, with ggml's vec_dot order rather than
         * tinyBLAS's). */
        if (m->has_head && il == n_layer - 1)
            feed_forward(r, st, il, n - n_out, n_out);
        else
            feed_forward(r, st, il, 0, n);
    }
    for (int t = 0; t < (st->solo ? n : 1); t++)
        lp_kv_set_len(kv, row_slot(st, t), row_pos(st, st->solo ? t : n - 1) + 1, NULL);
    if (!m->has_head) {
        *out = r->x;
        return;
    }
    rmsnorm_rows(r->xb, r->x + (size_t)(n - n_out) * e, m->output_norm, n_out, e, hp->rms_eps);
    matmul(r, st, &m->output, r->xb, n_out, r->logits);
    *out = r->logits;
}

int lp_forward(lp_run *r, lp_kv *kv, int slot, const lp_fwd_in *in, const float **out,
               lp_err *err)
{
    const lp_model *m = r->m;
    const int n = in->n;
    const int n_out = in->n_logits > 1 ? in->n_logits : 1;
    if (check_step(r, kv, slot, in, err) != 0 || lp_forward_check_input(r, in, err) != 0)
        return -1;
    if (m->has_head && n_out > n)
        return lp_err_set(err, "forward: logits of %d tokens asked from a step of %d", n_out, n);
    if (m->has_head && ensure_logit_rows(r, n_out, err) != 0)
        return -1;
    const step st = {.n = n, .slot0 = slot, .pos0 = in->pos0};
    run_step(r, kv, &st, in, n_out, out);
    return 0;
}

/* Each row's session holds exactly the positions before it, no session
 * twice: its one-token step could run. */
static int check_batch(const lp_run *r, const lp_kv *kv, const lp_fwd_in *in,
                       const int *slot, const int *pos, lp_err *err)
{
    if (in->n < 1 || in->n > r->max_batch)
        return lp_err_set(err, "forward: %d sessions, but a step takes 1..%d", in->n,
                          r->max_batch);
    for (int t = 0; t < in->n; t++) {
        const lp_fwd_in one = {.n = 1, .pos0 = pos[t]};
        if (check_step(r, kv, slot[t], &one, err) != 0)
            return -1;
        for (int u = 0; u < t; u++)
            if (slot[u] == slot[t])
                return lp_err_set(err, "forward: slot %d twice in one batch", slot[t]);
    }
    return 0;
}

int lp_forward_batch(lp_run *r, lp_kv *kv, const int *slot, const int *pos,
                     const lp_fwd_in *in, const float **out, lp_err *err)
{
    if (check_batch(r, kv, in, slot, pos, err) != 0 || lp_forward_check_input(r, in, err) != 0)
        return -1;
    if (r->m->has_head && ensure_logit_rows(r, in->n, err) != 0)
        return -1;
    const step st = {.n = in->n, .slot = slot, .pos = pos, .solo = true};
    run_step(r, kv, &st, in, r->m->has_head ? in->n : 0, out);
    return 0;
}
