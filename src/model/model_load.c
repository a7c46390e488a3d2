/* model_load.c — binding the tensors of a layer range with every shape
 * and type checked. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include "quant.h"
#include "shard_info.h"

/* ---- tensor binding ---------------------------------------------------- */

static const lp_gguf_tensor *find(const lp_gguf *g, const char *name, int layer)
{
    char full[96];
    if (layer >= 0)
        snprintf(full, sizeof full, "blk.%d.%s", layer, name);
    else
        snprintf(full, sizeof full, "%s", name);
    return lp_gguf_find_tensor(g, full);
}

static int bind_matrix(const lp_gguf *g, const char *name, int layer, int64_t cols,
                       int64_t rows, lp_weight *w, lp_err *err)
{
    const lp_gguf_tensor *t = find(g, name, layer);
    const char *pre = layer >= 0 ? "blk.N." : "";
    if (!t)
        return lp_err_set(err, "model: tensor '%s%s' (layer %d) is missing", pre, name, layer);
    const lp_type_traits *tr = lp_type_traits_get(t->type);
    if (t->n_dims != 2 || (int64_t)t->ne[0] != cols || (int64_t)t->ne[1] != rows)
        return lp_err_set(err, "model: tensor '%s%s' (layer %d) has shape [%llu, %llu], "
                          "expected [%lld, %lld]", pre, name, layer,
                          (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                          (long long)cols, (long long)rows);
    if (!tr || !tr->can_matmul)
        return lp_err_set(err, "model: tensor '%s%s' (layer %d) has type %s, which layerpool "
                          "cannot compute with yet", pre, name, layer, tr ? tr->name : "?");
    *w = (lp_weight){.type = t->type, .rows = rows, .cols = cols,
                     .row_bytes = lp_type_row_bytes(t->type, cols), .data = t->data};
    return 0;
}

static int bind_vector(const lp_gguf *g, const char *name, int layer, int64_t n,
                       const float **out, bool required, lp_err *err)
{
    const lp_gguf_tensor *t = find(g, name, layer);
    *out = NULL;
    if (!t)
        return required ? lp_err_set(err, "model: tensor '%s' (layer %d) is missing", name, layer)
                        : 0;
    if (t->type != LP_TYPE_F32 || t->ne[0] != (uint64_t)n || t->ne[1] != 1 || t->ne[2] != 1 ||
        t->ne[3] != 1)
        return lp_err_set(err, "model: tensor '%s' (layer %d) must be f32 of %lld elements",
                          name, layer, (long long)n);
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return lp_err_set(err, "model: tensor '%s' is not 4-byte aligned", name);
    *out = t->data;
    return 0;
}

static int bind_layer(const lp_gguf *g, const lp_hparams *hp, int il, lp_layer *L,
                      lp_err *err)
{
    const int64_t e = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim,
                  kv = (int64_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    const bool bias = hp->arch == LP_ARCH_QWEN2;
    if (bind_vector(g, "attn_norm.weight", il, e, &L->attn_norm, true, err) ||
        bind_matrix(g, "attn_q.weight", il, e, q, &L->wq, err) ||
        bind_matrix(g, "attn_k.weight", il, e, kv, &L->wk, err) ||
        bind_matrix(g, "attn_v.weight", il, e, kv, &L->wv, err) ||
        bind_matrix(g, "attn_output.weight", il, q, e, &L->wo, err) ||
        bind_vector(g, "attn_q.bias", il, q, &L->bq, bias, err) ||
        bind_vector(g, "attn_k.bias", il, kv, &L->bk, bias, err) ||
        bind_vector(g, "attn_v.bias", il, kv, &L->bv, bias, err) ||
        bind_vector(g, "ffn_norm.weight", il, e, &L->ffn_norm, true, err) ||
        bind_matrix(g, "ffn_gate.weight", il, e, ff, &L->w_gate, err) ||
        bind_matrix(g, "ffn_up.weight", il, e, ff, &L->w_up, err) ||
        bind_matrix(g, "ffn_down.weight", il, ff, e, &L->w_down, err))
        return -1;
    return 0;
}

static int bind_ends(const lp_gguf *g, lp_model *m, lp_err *err)
{
    const lp_hparams *hp = &m->hp;
    /* The head reads token_embd only when the output is tied to it. */
    m->output_tied = m->has_head && lp_gguf_find_tensor(g, "output.weight") == NULL;
    if ((m->has_embed || m->output_tied) &&
        bind_matrix(g, "token_embd.weight", -1, hp->n_embd, hp->n_vocab, &m->tok_embd, err))
        return -1;
    m->tok_embd.gathered = true; /* the embedding lookup reads its rows */
    if (bind_vector(g, "rope_freqs.weight", -1, hp->n_rot / 2, &m->rope_freqs, false, err))
        return -1;
    if (!m->has_head)
        return 0;
    if (bind_vector(g, "output_norm.weight", -1, hp->n_embd, &m->output_norm, true, err))
        return -1;
    if (m->output_tied) {
        m->output = m->tok_embd;
        return 0;
    }
    return bind_matrix(g, "output.weight", -1, hp->n_embd, hp->n_vocab, &m->output, err);
}

lp_model *lp_model_load(const lp_gguf *g, int first, int last, lp_err *err)
{
    lp_hparams hp;
    if (lp_hparams_read(g, &hp, err) != 0)
        return NULL;
    if (last == -1)
        last = (int)hp.n_layer;
    if (first < 0 || first >= last || last > (int)hp.n_layer) {
        lp_err_set(err, "model: layer range [%d, %d) is not inside [0, %u)", first, last,
                   hp.n_layer);
        return NULL;
    }
    lp_shard_info si;
    if (lp_shard_info_read(g, &si, err) != 0)
        return NULL;
    if (si.is_shard && (first < (int)si.first || last > (int)si.last)) {
        lp_err_set(err, "model: layer range [%d, %d) is not inside this shard file's "
                   "[%u, %u)", first, last, si.first, si.last);
        return NULL;
    }
    lp_model *m = calloc(1, sizeof *m);
    if (!m || !(m->layers = calloc((size_t)(last - first), sizeof *m->layers))) {
        free(m);
        lp_err_set(err, "model: out of memory");
        return NULL;
    }
    m->hp = hp;
    m->first = first;
    m->last = last;
    m->has_embed = first == 0;
    m->has_head = last == (int)hp.n_layer;
    for (int il = first; il < last; il++) {
        if (bind_layer(g, &hp, il, &m->layers[il - first], err) != 0) {
            lp_model_free(m);
            return NULL;
        }
    }
    if (bind_ends(g, m, err) != 0) {
        lp_model_free(m);
        return NULL;
    }
    return m;
}

void lp_model_free(lp_model *m)
{
    if (!m)
        return;
    free(m->layers);
    free(m);
}

/* ---- residency ---------------------------------------------------------- */

/* The pages of [p, p + n) read in: MADV_POPULATE_READ where the kernel has
 * it (5.14+), else a read of one byte a page. */
static void prefault(const void *p, size_t n)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!p || n == 0 || page == 0)
        return;
    const uintptr_t lo = (uintptr_t)p & ~(page - 1), hi = (uintptr_t)p + n;
#ifdef MADV_POPULATE_READ
    if (madvise((void *)lo, hi - lo, MADV_POPULATE_READ) == 0)
        return;
#endif
    volatile const uint8_t *b = (const uint8_t *)p;
    uint8_t sink = 0;
    for (uintptr_t a = lo < (uintptr_t)p ? (uintptr_t)p : lo; a < hi; a += page)
        sink ^= b[a - (uintptr_t)p];
    (void)sink;
}

static void prefault_weight(const lp_weight *w)
{
    prefault(w->data, (size_t)w->rows * w->row_bytes);
}

void lp_model_prefault(const lp_model *m)
{
    const size_t e = (size_t)m->hp.n_embd * sizeof(float);
    for (int l = 0; l < m->last - m->first; l++) {
        const lp_layer *L = &m->layers[l];
        const lp_weight *w[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                &L->w_down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            prefault_weight(w[i]);
        prefault(L->attn_norm, e);
        prefault(L->ffn_norm, e);
    }
    if (m->has_head) {
        prefault(m->output_norm, e);
        prefault_weight(&m->output); /* token_embd itself when tied */
    }
}
