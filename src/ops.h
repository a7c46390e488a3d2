/* ops.h — the non-matmul steps of a llama layer, on f32 rows, each mirroring
 * how ggml's CPU backend computes it (so we land far inside the tolerance of
 * llama.cpp's logits). Nothing here allocates; scratch is the caller's. */
#ifndef LP_OPS_H
#define LP_OPS_H

#include <stdint.h>

#include "kernels/kernels.h"
#include "quant.h"

/* out = x / sqrt(mean(x^2) + eps) * w. Sum of squares in double, as ggml. */
void lp_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* cos/sin table for one position: cache[2i] = cos, cache[2i+1] = sin of
 * pos * base^(-2i/n_rot) * freq_scale / freq_factor[i], built by repeated
 * multiplication exactly like ggml_rope_cache_init. freq_factors may be
 * NULL. cache has n_rot floats. */
void lp_rope_cache(float *cache, int pos, int n_rot, float base,
                   float freq_scale, const float *freq_factors);

/* Rotate the first n_rot dims of one head in place. neox pairs (i, i+n/2);
 * otherwise adjacent pairs (2i, 2i+1). */
void lp_rope_apply(float *x, const float *cache, int n_rot, int neox);

/* x <- softmax(x * scale) over n entries, in place. Sum in double. */
void lp_softmax(float *x, int n, float scale);

/* out[i] = silu(gate[i]) * up[i]. */
void lp_swiglu(float *out, const float *gate, const float *up, int n);

/* out[i] += x[i] */
void lp_add(float *out, const float *x, int n);

/* One query head attending over positions 0..n_kv-1 of one kv head:
 *   K:  n_kv rows of head_dim f16, row stride k_stride (elements)
 *   Vt: head_dim rows of n_kv f16 (transposed V), row stride v_stride
 * As llama.cpp without flash attention: q is rounded to f16 for Q.K, and
 * the softmax weights to f16 for the product with V. scratch must hold
 * n_kv floats; q16 head_dim halves; p16 n_kv halves. */
typedef struct lp_attn_scratch {
    float *scores;
    lp_half *q16;
    lp_half *p16;
} lp_attn_scratch;

void lp_attend_head(const lp_kernels *k, const float *q, const lp_half *K,
                    int64_t k_stride, const lp_half *Vt, int64_t v_stride,
                    int n_kv, int head_dim, float scale, float *out,
                    lp_attn_scratch *s);

#endif
