/* model_load.c — hyperparameters from GGUF metadata, and binding the
 * tensors of a layer range with every shape and type checked. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "shard_info.h"

static int get_arch_u32(const lp_gguf *g, const char *arch, const char *suffix,
                        uint32_t *out, bool required, lp_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (lp_gguf_get_u32(g, key, out) == 0)
        return 0;
    if (!required && !lp_gguf_find(g, key))
        return 0;
    return lp_err_set(err, "model: metadata '%s' is %s", key,
                      lp_gguf_find(g, key) ? "not an unsigned integer" : "missing");
}

static int get_arch_f32(const lp_gguf *g, const char *arch, const char *suffix,
                        float *out, bool required, lp_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (lp_gguf_get_f32(g, key, out) == 0)
        return 0;
    if (!required && !lp_gguf_find(g, key))
        return 0;
    return lp_err_set(err, "model: metadata '%s' is %s", key,
                      lp_gguf_find(g, key) ? "not a float" : "missing");
}

static int read_arch(const lp_gguf *g, lp_hparams *hp, lp_err *err)
{
    lp_str a;
    if (lp_gguf_get_str(g, "general.architecture", &a) != 0)
        return lp_err_set(err, "model: metadata 'general.architecture' missing");
    if (a.len >= sizeof hp->arch_name)
        return lp_err_set(err, "model: architecture name too long");
    memcpy(hp->arch_name, a.ptr, a.len);
    hp->arch_name[a.len] = 0;
    if (!strcmp(hp->arch_name, "llama")) {
        hp->arch = LP_ARCH_LLAMA;
        hp->rope_mode = LP_ROPE_NORM;
    } else if (!strcmp(hp->arch_name, "qwen2")) {
        hp->arch = LP_ARCH_QWEN2;
        hp->rope_mode = LP_ROPE_NEOX;
    } else {
        return lp_err_set(err, "model: architecture '%s' is not supported (llama, qwen2 are)",
                          hp->arch_name);
    }
    return 0;
}

static int read_rope_scaling(const lp_gguf *g, lp_hparams *hp, lp_err *err)
{
    char key[128];
    float factor = 0.0f;
    lp_str type = {0};
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch_name);
    if (lp_gguf_get_str(g, key, &type) == 0 && !lp_str_eq(type, "none") &&
        !lp_str_eq(type, "linear"))
        return lp_err_set(err, "model: rope scaling '%.*s' is not supported (none, linear are)",
                          (int)type.len, type.ptr);
    if (get_arch_f32(g, hp->arch_name, "rope.scaling.factor", &factor, false, err) != 0 ||
        (factor == 0.0f &&
         get_arch_f32(g, hp->arch_name, "rope.scale_linear", &factor, false, err) != 0))
        return -1;
    if (type.len && lp_str_eq(type, "none"))
        factor = 0.0f;
    if (factor != 0.0f && !(factor > 0.0f && isfinite(factor)))
        return lp_err_set(err, "model: rope scaling factor %g is invalid", (double)factor);
    hp->rope_freq_scale = factor != 0.0f ? 1.0f / factor : 1.0f;
    return 0;
}

static int check_hparams(const lp_hparams *hp, lp_err *err)
{
    if (hp->n_embd == 0 || hp->n_layer == 0 || hp->n_head == 0 || hp->n_ff == 0)
        return lp_err_set(err, "model: zero embedding, layer, head or ffn count");
    if (hp->n_layer > 4096 || hp->n_embd > 1u << 20 || hp->n_ff > 1u << 22 ||
        hp->n_head > 4096)
        return lp_err_set(err, "model: implausible hyperparameters");
    if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0)
        return lp_err_set(err, "model: head_count %u is not a multiple of head_count_kv %u",
                          hp->n_head, hp->n_head_kv);
    if (hp->head_dim == 0 || hp->head_dim > 1024 || hp->n_rot > hp->head_dim ||
        hp->n_rot % 2 != 0)
        return lp_err_set(err, "model: head size %u / rope dimensions %u are invalid",
                          hp->head_dim, hp->n_rot);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f) || !(hp->rope_base > 0.0f))
        return lp_err_set(err, "model: rms epsilon %g or rope base %g is invalid",
                          (double)hp->rms_eps, (double)hp->rope_base);
    return 0;
}

int lp_hparams_read(const lp_gguf *g, lp_hparams *hp, lp_err *err)
{
    memset(hp, 0, sizeof *hp);
    if (read_arch(g, hp, err) != 0)
        return -1;
    const char *a = hp->arch_name;
    hp->rope_base = 10000.0f;
    hp->rms_eps = 1e-5f;
    if (get_arch_u32(g, a, "embedding_length", &hp->n_embd, true, err) ||
        get_arch_u32(g, a, "block_count", &hp->n_layer, true, err) ||
        get_arch_u32(g, a, "feed_forward_length", &hp->n_ff, true, err) ||
        get_arch_u32(g, a, "attention.head_count", &hp->n_head, true, err) ||
        get_arch_u32(g, a, "context_length", &hp->n_ctx_train, false, err) ||
        get_arch_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, true, err) ||
        get_arch_f32(g, a, "rope.freq_base", &hp->rope_base, false, err) ||
        read_rope_scaling(g, hp, err))
        return -1;
    hp->n_head_kv = hp->n_head;
    hp->head_dim = hp->n_head ? hp->n_embd / hp->n_head : 0;
    if (get_arch_u32(g, a, "attention.head_count_kv", &hp->n_head_kv, false, err) ||
        get_arch_u32(g, a, "attention.key_length", &hp->head_dim, false, err))
        return -1;
    uint32_t v_len = hp->head_dim;
    if (get_arch_u32(g, a, "attention.value_length", &v_len, false, err))
        return -1;
    if (v_len != hp->head_dim)
        return lp_err_set(err, "model: key length %u != value length %u is not supported",
                          hp->head_dim, v_len);
    hp->n_rot = hp->head_dim;
    if (get_arch_u32(g, a, "rope.dimension_count", &hp->n_rot, false, err))
        return -1;
    const lp_gguf_tensor *emb = lp_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) {
        /* A shard file of later layers (coord split) has no embedding; it
         * names the vocabulary's size instead. */
        lp_shard_info si;
        if (lp_shard_info_read(g, &si, err) != 0)
            return -1;
        if (!si.is_shard)
            return lp_err_set(err, "model: tensor 'token_embd.weight' is missing");
        hp->n_vocab = si.n_vocab;
        return check_hparams(hp, err);
    }
    if (emb->n_dims != 2 || emb->ne[1] > UINT32_MAX)
        return lp_err_set(err, "model: tensor 'token_embd.weight' is not 2-D");
    hp->n_vocab = (uint32_t)emb->ne[1];
    return check_hparams(hp, err);
}

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
