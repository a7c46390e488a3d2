/* hparams.c — a model's hyperparameters from its GGUF metadata, checked. */
#include "hparams.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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
