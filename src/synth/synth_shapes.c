/* synth_shapes.c — the shapes coord synth copies (each real model's
 * config.json) and the tensors such a model has. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "synth_internal.h"

/* Llama 3.x configs carry rope_scaling {factor, low_freq_factor,
 * high_freq_factor, original_max_position_embeddings}; only Llama 3.2's
 * carries head_dim, which convert_hf_to_gguf.py then writes as key_length. */
static const lp_synth_shape k_shapes[] = {
    {.name = "tiny", .desc = "a small llama for tests (4 layers, n_embd 256)",
     .arch = "llama", .n_embd = 256, .n_layer = 4, .n_head = 8, .n_head_kv = 4,
     .head_dim = 32, .n_ff = 768, .n_vocab = 512, .n_ctx = 2048,
     .rope_base = 10000.0f, .rms_eps = 1e-5f},
    {.name = "llama3-1b", .desc = "Llama-3.2-1B", .arch = "llama", .n_embd = 2048,
     .n_layer = 16, .n_head = 32, .n_head_kv = 8, .head_dim = 64, .n_ff = 8192,
     .n_vocab = 128256, .n_ctx = 131072, .rope_base = 500000.0f, .rms_eps = 1e-5f,
     .tied = true, .head_dim_kv = true, .rope_factor = 32.0f, .rope_low = 1.0f,
     .rope_high = 4.0f, .rope_orig_ctx = 8192},
    {.name = "llama3-8b", .desc = "Llama-3.1-8B", .arch = "llama", .n_embd = 4096,
     .n_layer = 32, .n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_ff = 14336,
     .n_vocab = 128256, .n_ctx = 131072, .rope_base = 500000.0f, .rms_eps = 1e-5f,
     .rope_factor = 8.0f, .rope_low = 1.0f, .rope_high = 4.0f, .rope_orig_ctx = 8192},
    {.name = "llama3-70b", .desc = "Llama-3.1-70B", .arch = "llama", .n_embd = 8192,
     .n_layer = 80, .n_head = 64, .n_head_kv = 8, .head_dim = 128, .n_ff = 28672,
     .n_vocab = 128256, .n_ctx = 131072, .rope_base = 500000.0f, .rms_eps = 1e-5f,
     .rope_factor = 8.0f, .rope_low = 1.0f, .rope_high = 4.0f, .rope_orig_ctx = 8192},
    {.name = "qwen2.5-7b", .desc = "Qwen2.5-7B-Instruct", .arch = "qwen2", .n_embd = 3584,
     .n_layer = 28, .n_head = 28, .n_head_kv = 4, .head_dim = 128, .n_ff = 18944,
     .n_vocab = 152064, .n_ctx = 32768, .rope_base = 1000000.0f, .rms_eps = 1e-6f,
     .qkv_bias = true},
};

const lp_synth_shape *lp_synth_shape_at(int i)
{
    if (i < 0 || (size_t)i >= sizeof k_shapes / sizeof k_shapes[0])
        return NULL;
    return &k_shapes[i];
}

const lp_synth_shape *lp_synth_shape_find(const char *name)
{
    for (int i = 0; lp_synth_shape_at(i); i++)
        if (!strcmp(k_shapes[i].name, name))
            return &k_shapes[i];
    return NULL;
}

/* 4 non-layer tensors and 12 per layer at most. */
size_t synth_max_tensors(uint32_t n_layer)
{
    return 4 + 12 * (size_t)n_layer;
}

static void add(synth_tensor *t, size_t *n, const char *name, int layer, synth_kind kind,
                uint64_t ne0, uint64_t ne1)
{
    synth_tensor *x = &t[(*n)++];
    memset(x, 0, sizeof *x);
    if (layer >= 0)
        snprintf(x->name, sizeof x->name, "blk.%d.%s", layer, name);
    else
        snprintf(x->name, sizeof x->name, "%s", name);
    x->layer = layer;
    x->kind = kind;
    x->n_dims = ne1 ? 2 : 1;
    x->ne[0] = ne0;
    x->ne[1] = ne1 ? ne1 : 1;
    /* A trained model's weights: about N(0, 1/n_in), so each matmul keeps
     * its input's scale and 80 layers of residual sums grow only as sqrt. */
    x->sigma = kind == SYNTH_MATRIX ? (float)(1.0 / sqrt((double)ne0))
             : kind == SYNTH_BIAS   ? 0.02f : 0.0f;
}

/* One layer's tensors, names in sorted order as llama-quantize writes them. */
static void plan_layer(const lp_synth_shape *sh, int il, synth_tensor *t, size_t *n)
{
    const uint64_t e = sh->n_embd, q = (uint64_t)sh->n_head * sh->head_dim,
                   kv = (uint64_t)sh->n_head_kv * sh->head_dim, ff = sh->n_ff;
    if (sh->qkv_bias)
        add(t, n, "attn_k.bias", il, SYNTH_BIAS, kv, 0);
    add(t, n, "attn_k.weight", il, SYNTH_MATRIX, e, kv);
    add(t, n, "attn_norm.weight", il, SYNTH_ONES, e, 0);
    add(t, n, "attn_output.weight", il, SYNTH_MATRIX, q, e);
    if (sh->qkv_bias)
        add(t, n, "attn_q.bias", il, SYNTH_BIAS, q, 0);
    add(t, n, "attn_q.weight", il, SYNTH_MATRIX, e, q);
    if (sh->qkv_bias)
        add(t, n, "attn_v.bias", il, SYNTH_BIAS, kv, 0);
    add(t, n, "attn_v.weight", il, SYNTH_MATRIX, e, kv);
    add(t, n, "ffn_down.weight", il, SYNTH_MATRIX, ff, e);
    add(t, n, "ffn_gate.weight", il, SYNTH_MATRIX, e, ff);
    add(t, n, "ffn_norm.weight", il, SYNTH_ONES, e, 0);
    add(t, n, "ffn_up.weight", il, SYNTH_MATRIX, e, ff);
}

/* llama-quantize visits (and writes) tensors ordered by layer, then name
 * (llama_model_loader's weight_name_comparer); its per-layer type rules
 * count attn_v / ffn_down tensors in that order, so we keep it. */
size_t synth_plan_tensors(const lp_synth_shape *sh, uint32_t n_layer, synth_tensor *t)
{
    size_t n = 0;
    if (!sh->tied)
        add(t, &n, "output.weight", -1, SYNTH_MATRIX, sh->n_embd, sh->n_vocab);
    add(t, &n, "output_norm.weight", -1, SYNTH_ONES, sh->n_embd, 0);
    if (sh->rope_factor > 0.0f)
        add(t, &n, "rope_freqs.weight", -1, SYNTH_ROPE, sh->head_dim / 2, 0);
    add(t, &n, "token_embd.weight", -1, SYNTH_MATRIX, sh->n_embd, sh->n_vocab);
    for (uint32_t il = 0; il < n_layer; il++)
        plan_layer(sh, (int)il, t, &n);
    return n;
}

/* convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors) in torch
 * float32: frequencies 1 / base^(2i/dim); wavelengths shorter than
 * orig_ctx / high keep factor 1, longer than orig_ctx / low get `factor`,
 * and those between blend smoothly. Float arithmetic throughout, as torch's
 * (powf may differ from torch's pow in the last bit). */
void synth_rope_factors(const lp_synth_shape *sh, float *out)
{
    const uint32_t dim = sh->head_dim;
    const float factor = sh->rope_factor, low = sh->rope_low, high = sh->rope_high;
    const float old_ctx = (float)sh->rope_orig_ctx;
    const float low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    for (uint32_t i = 0; i < dim / 2; i++) {
        float freq = 1.0f / powf(sh->rope_base, (float)(2 * i) / (float)dim);
        float wavelen = (float)(2.0 * 3.14159265358979323846) / freq;
        if (wavelen < high_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            out[i] = factor;
        } else {
            float smooth = (old_ctx / wavelen - low) / (high - low);
            out[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
}
