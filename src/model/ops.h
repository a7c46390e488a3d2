/* ops.h — the non-matmul steps of a llama layer, on f32 rows, each
 * bit-identical to what llama.cpp's CPU backend (ggml, Feb 2025, built
 * -O3 -march=native for AVX-512) computes, whatever kernel table runs
 * them. Nothing here allocates; scratch is the caller's. */
#ifndef LP_OPS_H
#define LP_OPS_H

#include <stdint.h>

#include "kernels.h"
#include "quant.h"

/* out = x / sqrt(mean(x^2) + eps) * w: ggml_rms_norm (sum of squares in
 * double) then ggml_mul by the weight. */
void lp_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* cos/sin table for one position: cache[2i] = cos, cache[2i+1] = sin of
 * pos * base^(-2i/n_rot) * freq_scale / freq_factor[i], built by repeated
 * multiplication exactly like ggml_rope_cache_init. freq_factors may be
 * NULL. cache has n_rot floats. */
void lp_rope_cache(float *cache, int pos, int n_rot, float base,
                   float freq_scale, const float *freq_factors);

/* Rotate the first n_rot dims of one head in place. neox pairs (i, i+n/2);
 * otherwise adjacent pairs (2i, 2i+1). Rounds as ggml's compiled rope does
 * (which of the two products it fuses depends on the pair; see ops.c). */
void lp_rope_apply(float *x, const float *cache, int n_rot, int neox);

/* x <- softmax(x * scale) over n entries, in place: ggml_soft_max_ext
 * (entries of -INFINITY are masked out). */
void lp_softmax(const lp_kernels *k, float *x, int n, float scale);

/* out[i] = silu(gate[i]) * up[i] over one row of n (ggml_silu then
 * ggml_mul: ggml's vector exp runs in chunks of 16 from the row start). */
void lp_swiglu(const lp_kernels *k, float *out, const float *gate, const float *up, int n);

/* out[i] += x[i] */
void lp_add(float *out, const float *x, int n);

/* llama.cpp's attention without flash attention, for one query head:
 * KQ = K·q with q rounded to f16, softmax(KQ * scale + causal mask), then
 * V·p with p rounded to f16. Both products run over n_kv positions, which
 * is llama.cpp's padded window (a multiple of 32, capped by the cache), not
 * just the visible ones: that changes which of ggml's dot orders applies.
 *   K:  n_kv rows of head_dim f16, row stride k_stride (elements)
 *   Vt: head_dim rows (transposed V) of at least n_kv f16, stride v_stride;
 *       positions >= the session's length must read as zeros, as in
 *       llama.cpp's cleared cache.
 * qk / pv are the dots ggml's mul_mat picks for the two products (see
 * lp_matmul_uses_gemm); qk_rows / pv_rows, if not NULL, compute the same
 * over many rows at once. */
typedef struct lp_attn_shape {
    int head_dim;
    int n_kv;
    int64_t k_stride, v_stride;
    float scale;
    lp_vec_dot_fn qk, pv;
    lp_dot_rows_fn qk_rows, pv_rows;
} lp_attn_shape;

/* Per-thread scratch: scores n_kv floats, q16 head_dim halves, p16 n_kv
 * halves. */
typedef struct lp_attn_scratch {
    float *scores;
    lp_half *q16;
    lp_half *p16;
} lp_attn_scratch;

/* The query sees positions 0 .. n_visible-1 (<= n_kv). */
void lp_attend_head(const lp_kernels *k, const lp_attn_shape *sh, const float *q,
                    const lp_half *K, const lp_half *Vt, int n_visible, float *out,
                    lp_attn_scratch *s);

#endif
