/* attn_flash.c — flash attention over fixed KV blocks (attn_flash.h says
 * what it computes and why the blocks are fixed).
 *
 * A block's result for one query head is a "partial": [M, S, V[head_dim]]
 * in f32, the state ggml's loop would hold after those positions (its f16
 * V accumulator converted to f32). Partials fold left to right in block
 * order; the last fold is scaled by 1/S. */
#include "attn_flash.h"

#include <math.h>
#include <string.h>

#include "flash.h"

/* One share's buffers, g = query heads per kv head. */
typedef struct flash_thread {
    uint8_t *qq;    /* [g][q_row] the queries in K's dot type */
    float *scores;  /* [g][LP_FLASH_BLOCK] */
    lp_half *acc16; /* [g][hd] ggml's f16 V accumulator */
    float *acc32;   /* [g][hd] its f32 one (q8_0 V) */
    float *part;    /* [g][hd + 2] a block's partials */
    float *run;     /* [g][hd + 2] the fold so far (prompt steps) */
    float *M, *S;   /* [g] the online softmax state */
    float *ms, *vs; /* [LP_FLASH_BLOCK][g] its steps' V scales and weights */
    float *x, *ex;  /* [LP_FLASH_BLOCK] one head's exponents and their expf */
    float *qf;      /* [g][hd] f16 queries in f32 (fk.qk16) */
    uint8_t *up;    /* [LP_FLASH_BLOCK] which steps raised the maximum */
} flash_thread;

typedef struct flash_ctx {
    const lp_kernels *k;
    const lp_flash_args *a;
    lp_flash_kernels fk;
    const float *q;
    float *out;
    int g;
    size_t q_row;      /* bytes of one query in K's dot type */
    size_t k_head, v_head; /* bytes of one kv head within a K (V) row */
    uint8_t *base;     /* scratch, 64-aligned */
    float *wave;       /* [n_head][LP_FLASH_WAVE][hd + 2] decode partials */
    float *fold;       /* [n_head][hd + 2] the decode fold */
    int w0, nb;        /* this round's first block and block count */
    bool group_qk;     /* fk.qk16 takes this head size */
    bool last_round;
} flash_ctx;

/* ---- scratch layout ------------------------------------------------------- */

static size_t up64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static size_t query_row_bytes(int hd)
{
    const size_t f16 = (size_t)hd * sizeof(lp_half);
    const size_t q8 = (size_t)hd / LP_QK8_0 * sizeof(lp_block_q8_0);
    return f16 > q8 ? f16 : q8;
}

/* Takes the next piece of `bytes` at *off (64-aligned) from base; with a
 * NULL base it only measures. */
static void *carve(uint8_t *base, size_t *off, size_t bytes)
{
    void *r = base ? base + *off : NULL;
    *off += up64(bytes);
    return r;
}

/* One share's buffers at base (NULL: none), *bytes their extent: the one
 * place the layout is written, for sizing and for use. */
static flash_thread thread_layout(uint8_t *base, int g, int hd, size_t *bytes)
{
    const size_t G = (size_t)g, H = (size_t)hd, B = LP_FLASH_BLOCK, f = sizeof(float);
    size_t o = 0;
    flash_thread t;
    t.qq = carve(base, &o, G * up64(query_row_bytes(hd)));
    t.scores = carve(base, &o, G * B * f);
    t.acc16 = carve(base, &o, G * H * sizeof(lp_half));
    t.acc32 = carve(base, &o, G * H * f);
    t.part = carve(base, &o, G * (H + 2) * f);
    t.run = carve(base, &o, G * (H + 2) * f);
    t.M = carve(base, &o, G * f);
    t.S = carve(base, &o, G * f);
    t.ms = carve(base, &o, G * B * f);
    t.vs = carve(base, &o, G * B * f);
    t.x = carve(base, &o, B * f);
    t.ex = carve(base, &o, B * f);
    t.up = carve(base, &o, B);
    t.qf = carve(base, &o, G * H * f);
    *bytes = o;
    return t;
}

static size_t thread_bytes(int g, int hd)
{
    size_t bytes;
    thread_layout(NULL, g, hd, &bytes);
    return bytes;
}

/* The decode partials ([n_head][LP_FLASH_WAVE][hd + 2]) and fold
 * ([n_head][hd + 2]) come first. */
static size_t shared_bytes(int n_head, int hd)
{
    const size_t part = ((size_t)hd + 2) * sizeof(float) * (size_t)n_head;
    return up64(part * LP_FLASH_WAVE) + up64(part);
}

size_t lp_attn_flash_scratch_bytes(int n_head, int n_head_kv, int head_dim, int n_threads)
{
    if (n_head < 1 || n_head_kv < 1 || n_head % n_head_kv || head_dim < 1 || n_threads < 1)
        return 0;
    const int g = n_head / n_head_kv;
    return 64 + shared_bytes(n_head, head_dim) +
           (size_t)n_threads * thread_bytes(g, head_dim);
}

static flash_thread thread_scratch(const flash_ctx *c, int ith)
{
    const size_t each = thread_bytes(c->g, c->a->head_dim);
    size_t bytes;
    return thread_layout(c->base + shared_bytes(c->a->n_head, c->a->head_dim) + (size_t)ith * each,
                         c->g, c->a->head_dim, &bytes);
}

/* ---- one block: ggml's loop ----------------------------------------------- */

static lp_type dot_type(lp_kv_type t)
{
    return t == LP_KV_Q8_0 ? LP_TYPE_Q8_0 : LP_TYPE_F16;
}

/* The g queries of kv head kvh for token t, in K's dot type (ggml's
 * q_to_vec_dot). */
static void queries(const flash_ctx *c, const flash_thread *ts, int t, int kvh)
{
    const lp_flash_args *a = c->a;
    const lp_quantize_fn quant = c->k->quantize[dot_type(a->type_k)];
    for (int h = 0; h < c->g; h++) {
        const float *qh = c->q + ((size_t)t * a->n_head + (size_t)kvh * c->g + h) * a->head_dim;
        uint8_t *qq = ts->qq + (size_t)h * up64(c->q_row);
        quant(qh, qq, a->head_dim);
        if (c->group_qk) /* qq is 64-aligned f16 */
            c->fk.f16_to_f32((const lp_half *)(void *)qq, ts->qf + (size_t)h * a->head_dim,
                             a->head_dim);
    }
}

/* scores[h][j - j0] = K[j] · q_h for positions [j0, j1): the kernel's
 * group form for f16 K where it has one (the queries' f16 values in f32
 * first), else ggml's vec_dot row by row. */
static void block_scores(const flash_ctx *c, const flash_thread *ts, int kvh, int j0, int j1)
{
    const lp_flash_args *a = c->a;
    const lp_type wt = lp_kv_type_ggml(a->type_k);
    const uint8_t *K = a->K + (size_t)j0 * a->k_stride + (size_t)kvh * c->k_head;
    if (c->group_qk) {
        c->fk.qk16(a->head_dim, c->g, j1 - j0, K, a->k_stride, ts->qf, ts->scores,
                   LP_FLASH_BLOCK);
        return;
    }
    for (int h = 0; h < c->g; h++) {
        const uint8_t *qh = ts->qq + (size_t)h * up64(c->q_row);
        float *s = ts->scores + (size_t)h * LP_FLASH_BLOCK;
        if (c->k->dot_rows[wt]) {
            c->k->dot_rows[wt](a->head_dim, K, a->k_stride, qh, s, j1 - j0);
            continue;
        }
        for (int j = 0; j < j1 - j0; j++)
            s[j] = c->k->dot[wt](a->head_dim, K + (size_t)j * a->k_stride, qh);
    }
}

/* ggml's online softmax of head h over the block's n scores: at each step
 * a new maximum scales the old state by expf(Mold - M) and gives v weight
 * 1, otherwise v weighs expf(s - M); S = S * ms + vs. The maxima depend on
 * the scores alone, so every expf argument is known first and they go to
 * the kernel's expf together (the same function, so the same bits). */
static void online_block(const flash_ctx *c, const flash_thread *ts, int h, int n)
{
    const int g = c->g;
    const float *sc = ts->scores + (size_t)h * LP_FLASH_BLOCK;
    float M = -INFINITY, S = 0.0f;
    for (int j = 0; j < n; j++) {
        const float s = sc[j] * c->a->scale;
        ts->up[j] = s > M;
        ts->x[j] = ts->up[j] ? M - s : s - M;
        M = ts->up[j] ? s : M;
    }
    c->fk.exp(ts->x, ts->ex, n);
    for (int j = 0; j < n; j++) {
        const float ms = ts->up[j] ? ts->ex[j] : 1.0f, vs = ts->up[j] ? 1.0f : ts->ex[j];
        S = S * ms + vs;
        ts->ms[(size_t)j * g + h] = ms;
        ts->vs[(size_t)j * g + h] = vs;
    }
    ts->M[h] = M;
    ts->S[h] = S;
}

/* The partials of the g heads of kv head kvh over positions [j0, j1), for
 * the queries already in ts->qq, into ts->part. ggml's loop, in three
 * passes that keep its order per head: the scores, then the online softmax
 * over them (which needs nothing of V), then V weighted by its steps. */
static void block_partial(const flash_ctx *c, const flash_thread *ts, int kvh, int j0, int j1)
{
    const lp_flash_args *a = c->a;
    const int g = c->g, hd = a->head_dim, n = j1 - j0;
    const bool v16 = a->type_v == LP_KV_F16;
    block_scores(c, ts, kvh, j0, j1);
    for (int h = 0; h < g; h++)
        online_block(c, ts, h, n);
    const uint8_t *v = a->V + (size_t)j0 * a->v_stride + (size_t)kvh * c->v_head;
    if (v16) {
        memset(ts->acc16, 0, (size_t)g * hd * sizeof(lp_half));
        c->fk.v16(hd, g, n, v, a->v_stride, ts->ms, ts->vs, ts->acc16);
    } else {
        memset(ts->acc32, 0, (size_t)g * hd * sizeof(float));
        c->fk.vq8(hd, g, n, v, a->v_stride, ts->ms, ts->vs, ts->acc32);
    }
    for (int h = 0; h < g; h++) {
        float *p = ts->part + (size_t)h * (hd + 2);
        p[0] = ts->M[h];
        p[1] = ts->S[h];
        if (v16)
            c->fk.f16_to_f32(ts->acc16 + (size_t)h * hd, p + 2, hd);
        else
            memcpy(p + 2, ts->acc32 + (size_t)h * hd, (size_t)hd * sizeof(float));
    }
}

/* ---- folding partials ----------------------------------------------------- */

/* acc <- acc merged with p (the next block); the first block is copied. */
static void fold(float *acc, const float *p, int hd, bool first)
{
    if (first) {
        memcpy(acc, p, ((size_t)hd + 2) * sizeof(float));
        return;
    }
    const float M = acc[0] > p[0] ? acc[0] : p[0];
    const float fa = expf(acc[0] - M), fb = expf(p[0] - M);
    acc[0] = M;
    acc[1] = acc[1] * fa + p[1] * fb;
    for (int d = 0; d < hd; d++)
        acc[2 + d] = acc[2 + d] * fa + p[2 + d] * fb;
}

/* ggml's last step: V times 1/S. */
static void finish(const float *acc, int hd, float *out)
{
    const float inv = 1.0f / acc[1];
    for (int d = 0; d < hd; d++)
        out[d] = acc[2 + d] * inv;
}

static float *out_head(const flash_ctx *c, int t, int h)
{
    return c->out + ((size_t)t * c->a->n_head + h) * c->a->head_dim;
}

/* ---- prompt steps: whole (token, kv head) pairs per share ----------------- */

static void rows_task(void *arg, int ith, int nth)
{
    const flash_ctx *c = arg;
    const lp_flash_args *a = c->a;
    const int hd = a->head_dim, n_items = a->n_tok * a->n_head_kv;
    const flash_thread ts = thread_scratch(c, ith);
    /* Strided, not contiguous: later tokens see more positions, so
     * contiguous ranges would leave the first shares idle. */
    for (int i = ith; i < n_items; i += nth) {
        const int t = i / a->n_head_kv, kvh = i % a->n_head_kv, n_vis = a->pos0 + t + 1;
        queries(c, &ts, t, kvh);
        for (int j0 = 0; j0 < n_vis; j0 += a->block) {
            const int j1 = j0 + a->block < n_vis ? j0 + a->block : n_vis;
            block_partial(c, &ts, kvh, j0, j1);
            for (int h = 0; h < c->g; h++)
                fold(ts.run + (size_t)h * (hd + 2), ts.part + (size_t)h * (hd + 2), hd, j0 == 0);
        }
        for (int h = 0; h < c->g; h++)
            finish(ts.run + (size_t)h * (hd + 2), hd, out_head(c, t, kvh * c->g + h));
    }
}

/* ---- decode steps: blocks across shares, then a fold per head ------------- */

static float *wave_part(const flash_ctx *c, int head, int b)
{
    return c->wave + ((size_t)head * LP_FLASH_WAVE + b) * (c->a->head_dim + 2);
}

static void split_task(void *arg, int ith, int nth)
{
    const flash_ctx *c = arg;
    const lp_flash_args *a = c->a;
    const int hd = a->head_dim, n_vis = a->pos0 + 1;
    const flash_thread ts = thread_scratch(c, ith);
    for (int i = ith; i < a->n_head_kv * c->nb; i += nth) {
        const int kvh = i / c->nb, b = i % c->nb, j0 = (c->w0 + b) * a->block;
        const int j1 = j0 + a->block < n_vis ? j0 + a->block : n_vis;
        queries(c, &ts, 0, kvh);
        block_partial(c, &ts, kvh, j0, j1);
        for (int h = 0; h < c->g; h++)
            memcpy(wave_part(c, kvh * c->g + h, b), ts.part + (size_t)h * (hd + 2),
                   ((size_t)hd + 2) * sizeof(float));
    }
}

static void merge_task(void *arg, int ith, int nth)
{
    const flash_ctx *c = arg;
    const int hd = c->a->head_dim;
    long lo, hi;
    lp_split_range(c->a->n_head, ith, nth, &lo, &hi);
    for (int h = (int)lo; h < (int)hi; h++) {
        float *acc = c->fold + (size_t)h * (hd + 2);
        for (int b = 0; b < c->nb; b++)
            fold(acc, wave_part(c, h, b), hd, c->w0 + b == 0);
        if (c->last_round)
            finish(acc, hd, out_head(c, 0, h));
    }
}

static void decode(lp_threadpool *tp, flash_ctx *c)
{
    const int n_blocks = (c->a->pos0 + 1 + c->a->block - 1) / c->a->block;
    for (c->w0 = 0; c->w0 < n_blocks; c->w0 += LP_FLASH_WAVE) {
        c->nb = n_blocks - c->w0 < LP_FLASH_WAVE ? n_blocks - c->w0 : LP_FLASH_WAVE;
        c->last_round = c->w0 + c->nb == n_blocks;
        lp_threadpool_run(tp, split_task, c);
        lp_threadpool_run(tp, merge_task, c);
    }
}

void lp_attn_flash(lp_threadpool *tp, const lp_kernels *k, const lp_flash_args *a, const float *q,
                   float *out, void *scratch)
{
    const int hd = a->head_dim;
    flash_ctx c = {.k = k, .a = a, .q = q, .out = out, .g = a->n_head / a->n_head_kv,
                   .q_row = query_row_bytes(hd),
                   .k_head = lp_type_row_bytes(lp_kv_type_ggml(a->type_k), hd),
                   .v_head = lp_type_row_bytes(lp_kv_type_ggml(a->type_v), hd),
                   .base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63)};
    lp_flash_kernels_init(&c.fk, k->isa);
    c.group_qk = a->type_k == LP_KV_F16 && c.fk.qk16 && LP_FLASH_QK16_TAKES(hd);
    const size_t part = ((size_t)hd + 2) * sizeof(float) * (size_t)a->n_head;
    size_t off = 0;
    c.wave = carve(c.base, &off, part * LP_FLASH_WAVE);
    c.fold = carve(c.base, &off, part);
    if (a->n_tok == 1)
        decode(tp, &c);
    else
        lp_threadpool_run(tp, rows_task, &c);
}
