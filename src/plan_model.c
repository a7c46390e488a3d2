/* plan_model.c — the planner's view of a model (bytes per layer, ends, KV
 * per position) from a GGUF header or from a shape, and what one shard of
 * it needs. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_flash.h"
#include "kernels/matmul.h"
#include "kv.h"
#include "model.h"
#include "plan_internal.h"
#include "shard_info.h"
#include "quant.h"

uint64_t lp_plan_sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t lp_plan_sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

void lp_plan_model_free(lp_plan_model *m)
{
    if (!m)
        return;
    free(m->layer_bytes);
    free(m->layer_dot_row);
    m->layer_bytes = m->layer_dot_row = NULL;
}

static int alloc_layers(lp_plan_model *m, lp_err *err)
{
    m->layer_bytes = calloc(m->n_layer, sizeof *m->layer_bytes);
    m->layer_dot_row = calloc(m->n_layer, sizeof *m->layer_dot_row);
    if (!m->layer_bytes || !m->layer_dot_row) {
        lp_plan_model_free(m);
        return lp_err_set(err, "plan: out of memory");
    }
    return 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- from a GGUF --------------------------------------------------------- */

/* "blk.N.rest" -> N and rest; -1 if the name is not of that form. */
static long layer_of(lp_str name, const char **rest, size_t *rest_len)
{
    static const char pre[] = "blk.";
    const size_t np = sizeof pre - 1;
    if (name.len <= np || memcmp(name.ptr, pre, np) != 0)
        return -1;
    size_t i = np;
    long n = 0;
    for (; i < name.len && name.ptr[i] >= '0' && name.ptr[i] <= '9'; i++) {
        if (n > 100000)
            return -1;
        n = n * 10 + (name.ptr[i] - '0');
    }
    if (i == np || i >= name.len || name.ptr[i] != '.')
        return -1;
    *rest = name.ptr + i + 1;
    *rest_len = name.len - i - 1;
    return n;
}

/* The tensors lp_model_load multiplies with (model_load.c bind_layer). */
static bool is_layer_matmul(const char *rest, size_t len)
{
    static const char *const names[] = {"attn_q.weight",      "attn_k.weight",
                                        "attn_v.weight",      "attn_output.weight",
                                        "ffn_gate.weight",    "ffn_up.weight",
                                        "ffn_down.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], rest, len) == 0)
            return true;
    return false;
}

static uint64_t dot_row(const lp_gguf_tensor *t)
{
    return lp_matmul_scratch_bytes(t->type, (int64_t)t->ne[0], 1);
}

static void add_tensor(lp_plan_model *m, const lp_gguf_tensor *t)
{
    const char *rest;
    size_t rest_len;
    long il = layer_of(t->name, &rest, &rest_len);
    if (il >= 0) {
        if (il >= (long)m->n_layer)
            return; /* not a layer the model has: nobody loads it */
        m->layer_bytes[il] = lp_plan_sat_add(m->layer_bytes[il], t->nbytes);
        if (is_layer_matmul(rest, rest_len))
            m->layer_dot_row[il] = max_u64(m->layer_dot_row[il], dot_row(t));
    } else if (lp_str_eq(t->name, "token_embd.weight")) {
        m->embed_bytes = t->nbytes;
    } else if (lp_str_eq(t->name, "output.weight")) {
        m->output_bytes = t->nbytes;
        m->head_dot_row = dot_row(t);
        m->output_tied = false;
    } else if (lp_str_eq(t->name, "output_norm.weight")) {
        m->output_norm_bytes = t->nbytes;
    } else if (lp_str_eq(t->name, "rope_freqs.weight")) {
        m->rope_freqs_bytes = t->nbytes;
    }
}

static void set_dims(lp_plan_model *m, const lp_hparams *hp)
{
    snprintf(m->arch, sizeof m->arch, "%s", hp->arch_name);
    m->n_layer = hp->n_layer;
    m->n_embd = hp->n_embd;
    m->n_ff = hp->n_ff;
    m->n_head = hp->n_head;
    m->n_head_kv = hp->n_head_kv;
    m->head_dim = hp->head_dim;
    m->n_rot = hp->n_rot;
    m->n_vocab = hp->n_vocab;
    m->n_ctx_train = hp->n_ctx_train;
    m->kv_bytes_token_layer = 2ull * hp->n_head_kv * hp->head_dim * sizeof(lp_half);
}

int lp_plan_model_from_gguf(const lp_gguf *g, lp_plan_model *m, lp_err *err)
{
    memset(m, 0, sizeof *m);
    lp_hparams hp;
    lp_shard_info si;
    if (lp_hparams_read(g, &hp, err) != 0 || lp_shard_info_read(g, &si, err) != 0)
        return -1;
    set_dims(m, &hp);
    if (alloc_layers(m, err) != 0)
        return -1;
    /* A shard file (coord split) holds layers [first, last) only, and a
     * head without output.weight only if the output is tied. */
    const uint32_t lo = si.is_shard ? si.first : 0, hi = si.is_shard ? si.last : m->n_layer;
    m->output_tied = !si.is_shard || si.has_head;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        add_tensor(m, &g->tensors[i]);
    if (m->output_tied) {
        const lp_gguf_tensor *emb = lp_gguf_find_tensor(g, "token_embd.weight");
        m->head_dot_row = emb ? dot_row(emb) : 0;
    }
    for (uint32_t il = lo; il < hi; il++)
        if (m->layer_bytes[il] == 0) {
            lp_plan_model_free(m);
            return lp_err_set(err, "plan: layer %u has no tensors", il);
        }
    return 0;
}

int lp_plan_model_open(const char *path, lp_plan_model *m, lp_err *err)
{
    memset(m, 0, sizeof *m);
    lp_gguf *g = lp_gguf_open(path, err);
    if (!g)
        return -1;
    int rc = lp_plan_model_from_gguf(g, m, err);
    lp_gguf_close(g);
    return rc;
}

/* ---- synthetic shapes ---------------------------------------------------- */

const lp_plan_shape LP_PLAN_SHAPE_LLAMA70B_Q4_K_M = {
    .n_layer = 80, .n_embd = 8192, .n_ff = 28672, .n_head = 64, .n_head_kv = 8,
    .n_vocab = 128256, .n_ctx_train = 131072, .mix = LP_PLAN_MIX_Q4_K_M,
    .tied = false, .rope_freqs = true};

/* llama.cpp's use_more_bits: the first and last eighth of the layers, and
 * every third layer between. */
static bool use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* K-quants need rows of whole 256-blocks; llama.cpp falls back. */
static lp_type fallback(lp_type t, uint64_t cols)
{
    if (cols % LP_QK_K == 0)
        return t;
    switch (t) {
    case LP_TYPE_Q4_K: return LP_TYPE_Q5_0;
    case LP_TYPE_Q5_K: return LP_TYPE_Q5_1;
    case LP_TYPE_Q6_K: return LP_TYPE_Q8_0;
    default: return t;
    }
}

typedef enum { T_Q, T_K, T_V, T_O, T_GATE, T_UP, T_DOWN, T_EMBD, T_OUT } tensor_role;

static lp_type mix_type(const lp_plan_shape *s, tensor_role r, int il, uint64_t cols)
{
    if (s->mix == LP_PLAN_MIX_Q8_0)
        return LP_TYPE_Q8_0;
    lp_type t = LP_TYPE_Q4_K;
    const int n = (int)s->n_layer;
    const bool is_70b = s->n_layer == 80 && s->n_head != s->n_head_kv;
    if (r == T_OUT || (r == T_EMBD && s->tied))
        t = LP_TYPE_Q6_K;
    else if (r == T_V)
        t = use_more_bits(il, n) ? LP_TYPE_Q6_K : is_70b ? LP_TYPE_Q5_K : LP_TYPE_Q4_K;
    else if (r == T_DOWN && use_more_bits(il, n))
        t = LP_TYPE_Q6_K;
    return fallback(t, cols);
}

/* Bytes of a rows x cols tensor of type t (0 if cols is not whole blocks). */
static uint64_t tensor_bytes(lp_type t, uint64_t cols, uint64_t rows)
{
    return lp_plan_sat_mul(lp_type_row_bytes(t, (int64_t)cols), rows);
}

static int check_shape(const lp_plan_shape *s, lp_err *err)
{
    if (s->n_layer == 0 || s->n_layer > 4096 || s->n_embd == 0 || s->n_embd > (1u << 20) ||
        s->n_ff == 0 || s->n_ff > (1u << 22) || s->n_head == 0 || s->n_head > 4096 ||
        s->n_head_kv == 0 || s->n_vocab == 0 || s->n_vocab > (1u << 24))
        return lp_err_set(err, "plan: implausible model shape");
    if (s->n_embd % s->n_head != 0 || s->n_head % s->n_head_kv != 0)
        return lp_err_set(err, "plan: n_embd %u / heads %u / kv heads %u do not divide",
                          s->n_embd, s->n_head, s->n_head_kv);
    const uint32_t hd = s->n_embd / s->n_head;
    if (s->n_embd % 32 || s->n_ff % 32 || (hd * s->n_head_kv) % 32 || hd % 2)
        return lp_err_set(err, "plan: rows must be whole 32-element blocks");
    return 0;
}

static void synth_layer(const lp_plan_shape *s, lp_plan_model *m, int il)
{
    const uint64_t e = s->n_embd, kvd = (uint64_t)m->head_dim * s->n_head_kv, ff = s->n_ff;
    const struct { tensor_role r; uint64_t cols, rows; } mats[] = {
        {T_Q, e, e},      {T_K, e, kvd},     {T_V, e, kvd},      {T_O, e, e},
        {T_GATE, e, ff},  {T_UP, e, ff},     {T_DOWN, ff, e},
    };
    uint64_t bytes = 2 * e * sizeof(float); /* attn_norm, ffn_norm */
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
        lp_type t = mix_type(s, mats[i].r, il, mats[i].cols);
        bytes = lp_plan_sat_add(bytes, tensor_bytes(t, mats[i].cols, mats[i].rows));
        m->layer_dot_row[il] = max_u64(m->layer_dot_row[il],
                                       lp_matmul_scratch_bytes(t, (int64_t)mats[i].cols, 1));
    }
    m->layer_bytes[il] = bytes;
}

int lp_plan_model_synth(const lp_plan_shape *s, lp_plan_model *m, lp_err *err)
{
    memset(m, 0, sizeof *m);
    if (check_shape(s, err) != 0)
        return -1;
    lp_hparams hp = {.n_layer = s->n_layer, .n_embd = s->n_embd, .n_ff = s->n_ff,
                     .n_head = s->n_head, .n_head_kv = s->n_head_kv,
                     .head_dim = s->n_embd / s->n_head, .n_vocab = s->n_vocab,
                     .n_ctx_train = s->n_ctx_train};
    hp.n_rot = hp.head_dim;
    snprintf(hp.arch_name, sizeof hp.arch_name, "llama");
    set_dims(m, &hp);
    if (alloc_layers(m, err) != 0)
        return -1;
    for (int il = 0; il < (int)s->n_layer; il++)
        synth_layer(s, m, il);
    const lp_type te = mix_type(s, T_EMBD, -1, s->n_embd);
    m->embed_bytes = tensor_bytes(te, s->n_embd, s->n_vocab);
    m->output_norm_bytes = (uint64_t)s->n_embd * sizeof(float);
    m->output_tied = s->tied;
    lp_type th = te;
    if (!s->tied) {
        th = mix_type(s, T_OUT, -1, s->n_embd);
        m->output_bytes = tensor_bytes(th, s->n_embd, s->n_vocab);
    }
    m->head_dot_row = lp_matmul_scratch_bytes(th, s->n_embd, 1);
    m->rope_freqs_bytes = s->rope_freqs ? (uint64_t)m->head_dim / 2 * sizeof(float) : 0;
    return 0;
}

/* ---- what a shard needs ------------------------------------------------- */

static bool range_ok(const lp_plan_model *m, int first, int last)
{
    return first >= 0 && first < last && last <= (int)m->n_layer;
}

uint64_t lp_plan_weight_bytes(const lp_plan_model *m, int first, int last)
{
    if (!range_ok(m, first, last))
        return UINT64_MAX;
    uint64_t w = m->rope_freqs_bytes;
    for (int il = first; il < last; il++)
        w = lp_plan_sat_add(w, m->layer_bytes[il]);
    return lp_plan_sat_add(w, lp_plan_ends_bytes(m, first, last));
}

uint64_t lp_plan_ends_bytes(const lp_plan_model *m, int first, int last)
{
    uint64_t w = first == 0 ? m->embed_bytes : 0;
    if (last == (int)m->n_layer) {
        w = lp_plan_sat_add(w, m->output_norm_bytes);
        /* A tied head is token_embd: counted once when this shard embeds too. */
        w = lp_plan_sat_add(w, m->output_tied ? (first == 0 ? 0 : m->embed_bytes)
                                              : m->output_bytes);
    }
    return w;
}

uint64_t lp_plan_kv_bytes_attn(const lp_plan_model *m, int first, int last, int n_ctx,
                               int n_sessions, const lp_attn_opts *attn)
{
    if (!range_ok(m, first, last))
        return UINT64_MAX;
    lp_kv_shape s = {.n_layer = last - first, .n_ctx = n_ctx,
                     .kv_dim = (int)(m->n_head_kv * m->head_dim), .n_slots = n_sessions,
                     .attn = *attn};
    size_t b = lp_kv_bytes(&s);
    return b ? (uint64_t)b : UINT64_MAX;
}

uint64_t lp_plan_kv_bytes(const lp_plan_model *m, int first, int last, int n_ctx,
                          int n_sessions)
{
    const lp_attn_opts f16 = {0};
    return lp_plan_kv_bytes_attn(m, first, last, n_ctx, n_sessions, &f16);
}

/* calloc(n ? n : 1, size), as model.c's xcalloc asks. */
static uint64_t alloc_bytes(uint64_t n, uint64_t size)
{
    return lp_plan_sat_mul(n ? n : 1, size);
}

uint64_t lp_plan_run_fixed_bytes(const lp_plan_model *m, int n_batch, int n_ctx,
                                 int n_threads, bool flash)
{
    const uint64_t B = (uint64_t)n_batch, nth = (uint64_t)n_threads, ctx = (uint64_t)n_ctx,
                   f = sizeof(float), h = sizeof(lp_half);
    const uint64_t qd = (uint64_t)m->n_head * m->head_dim,
                   kvd = (uint64_t)m->n_head_kv * m->head_dim;
    const uint64_t parts[] = {
        alloc_bytes(B * m->n_embd, f), alloc_bytes(B * m->n_embd, f), /* x, xb */
        alloc_bytes(B * qd, f), alloc_bytes(B * qd, f),                 /* q, att */
        alloc_bytes(B * kvd, f), alloc_bytes(B * kvd, f),               /* kn, vn */
        alloc_bytes(B * m->n_ff, f), alloc_bytes(B * m->n_ff, f),       /* hb, hb2 */
        alloc_bytes(B * m->n_rot, f),      /* rope */
        alloc_bytes(m->n_vocab, f),        /* logits (every shard allocates them) */
        flash ? 0 : alloc_bytes(nth * ctx, f),         /* att_scores */
        flash ? 0 : alloc_bytes(nth * m->head_dim, h), /* att_q16 */
        flash ? 0 : alloc_bytes(nth * ctx, h),         /* att_p16 */
        flash ? alloc_bytes(lp_attn_flash_scratch_bytes((int)m->n_head, (int)m->n_head_kv,
                                                        (int)m->head_dim, n_threads), 1)
              : 0, /* fa_scratch */
    };
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        sum = lp_plan_sat_add(sum, parts[i]);
    return sum;
}

uint64_t lp_plan_scratch_bytes(const lp_plan_model *m, uint64_t widest_layer_row, int n_batch,
                               bool has_head)
{
    uint64_t widest = lp_plan_sat_mul(widest_layer_row, (uint64_t)n_batch);
    if (has_head)
        widest = max_u64(widest, m->head_dot_row);
    return alloc_bytes(widest, 1);
}

uint64_t lp_plan_run_bytes(const lp_plan_model *m, int first, int last, int n_batch,
                           int n_ctx, int n_threads)
{
    const lp_attn_opts def = {0};
    return lp_plan_run_bytes_attn(m, first, last, n_batch, n_ctx, n_threads, &def);
}

uint64_t lp_plan_run_bytes_attn(const lp_plan_model *m, int first, int last, int n_batch,
                                int n_ctx, int n_threads, const lp_attn_opts *attn)
{
    if (!range_ok(m, first, last) || n_batch < 1 || n_batch > 65536 || n_ctx < 1 ||
        n_ctx > (1 << 24) || n_threads < 1 || n_threads > 1024)
        return UINT64_MAX;
    uint64_t row = 0;
    for (int il = first; il < last; il++)
        row = max_u64(row, m->layer_dot_row[il]);
    return lp_plan_sat_add(lp_plan_run_fixed_bytes(m, n_batch, n_ctx, n_threads, attn->flash),
                           lp_plan_scratch_bytes(m, row, n_batch, last == (int)m->n_layer));
}
