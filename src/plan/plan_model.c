/* plan_model.c — the planner's view of a model (bytes per layer, ends, KV
 * per position) from a GGUF header or from a list of tensors, and what
 * one shard of it needs. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "kv.h"
#include "model.h"
#include "plan_internal.h"
#include "quant.h"
#include "shard_info.h"

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

/* A tied head multiplies with token_embd (embed_row: its dot row); every
 * layer the model holds, [lo, hi), must have had tensors. */
static int finish(lp_plan_model *m, uint32_t lo, uint32_t hi, uint64_t embed_row, lp_err *err)
{
    if (m->output_tied)
        m->head_dot_row = embed_row;
    for (uint32_t il = lo; il < hi; il++)
        if (m->layer_bytes[il] == 0) {
            lp_plan_model_free(m);
            return lp_err_set(err, "plan: layer %u has no tensors", il);
        }
    return 0;
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
    const lp_gguf_tensor *emb = lp_gguf_find_tensor(g, "token_embd.weight");
    m->embed_dot_row = emb ? dot_row(emb) : 0;
    return finish(m, lo, hi, m->embed_dot_row, err);
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

/* ---- from a list of tensors ----------------------------------------------- */

int lp_plan_model_begin(lp_plan_model *m, const lp_hparams *hp, lp_err *err)
{
    memset(m, 0, sizeof *m);
    set_dims(m, hp);
    if (alloc_layers(m, err) != 0)
        return -1;
    m->output_tied = true; /* until output.weight turns up */
    return 0;
}

void lp_plan_model_add(lp_plan_model *m, const lp_gguf_tensor *t)
{
    add_tensor(m, t);
    if (lp_str_eq(t->name, "token_embd.weight"))
        m->embed_dot_row = dot_row(t);
}

int lp_plan_model_end(lp_plan_model *m, lp_err *err)
{
    return finish(m, 0, m->n_layer, m->embed_dot_row, err);
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

/* calloc(n ? n : 1, size), as lp_run_new asks for its matmul scratch. */
static uint64_t alloc_bytes(uint64_t n, uint64_t size)
{
    return lp_plan_sat_mul(n ? n : 1, size);
}

uint64_t lp_plan_run_fixed_bytes(const lp_plan_model *m, int n_batch, int n_ctx,
                                 int n_threads, bool flash)
{
    const lp_hparams hp = {.n_vocab = m->n_vocab, .n_embd = m->n_embd, .n_ff = m->n_ff,
                           .n_head = m->n_head, .n_head_kv = m->n_head_kv,
                           .head_dim = m->head_dim, .n_rot = m->n_rot};
    uint64_t bytes[LP_RUN_N_BUFS], sum = 0;
    lp_run_buffer_bytes(&hp, n_batch, n_ctx, n_threads, flash, bytes);
    for (int i = 0; i < LP_RUN_N_BUFS; i++)
        sum = lp_plan_sat_add(sum, bytes[i]);
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
