/* flash.h — the V side of flash attention (attn_flash.c) over a block of
 * positions, per ISA. Every entry gives the same bits in every table: the
 * work is element-wise (one product, or one fused multiply-add, then a
 * rounding to f16 where ggml stores f16), so lanes and order across
 * elements do not matter, only the order over positions, which is fixed.
 *
 * Those formulas are ggml's ggml_vec_scale_f16 / ggml_vec_mad_f16 (f16
 * converted to f32, x * s or fma(x, s, y), rounded back to f16 to nearest
 * even), ggml_vec_scale_f32 / ggml_vec_mad_f32 (the same in f32) and
 * dequantize_row_q8_0 (q * d). */
#ifndef LP_FLASH_H
#define LP_FLASH_H

#include <stddef.h>

#include "kernels.h"

/* n positions for the g query heads that share the V rows v + j * v_stride
 * (j < n; a row holds d values, f16 or q8_0 blocks): for each j in order
 * and each head h, first acc[h] *= ms[j * g + h] when that is not 1 (ggml
 * rescales exactly when a new maximum arrived, and then ms < 1 or a
 * product by 1, which changes nothing), then acc[h] += v_j * vs[j * g + h].
 * acc is [g][d]: f16 for an f16 V (ggml's VKQ16), f32 for q8_0 (VKQ32;
 * d a multiple of 32). */
typedef void (*lp_flash_v16_fn)(int d, int g, int n, const uint8_t *v, size_t v_stride,
                                const float *ms, const float *vs, lp_half *acc);
typedef void (*lp_flash_vq8_fn)(int d, int g, int n, const uint8_t *v, size_t v_stride,
                                const float *ms, const float *vs, float *acc);

/* y[i] = expf(x[i]) for i < n, the bits of the C library's expf: the
 * scalar table calls it; the SIMD tables (which need FMA, so glibc's
 * ifunc picks its __expf_fma) run glibc's algorithm (2.27 and later:
 * 32-entry 2^(k/32) table, a cubic in double with those FMAs) on vectors,
 * and call expf for the lanes it sends to its special cases (|x| >= 88,
 * inf, NaN). ggml's flash attention calls expf once per position; this is
 * the same function, several positions at a time. */
typedef void (*lp_flash_exp_fn)(const float *x, float *y, int n);

/* scores[h * s_stride + j] = ggml_vec_dot_f16(d, K_j, q_h) for the n f16
 * K rows K + j * k_stride and the g queries q ([g][d], the f16 query's
 * values in f32), the bits of kernels.h's dot[LP_TYPE_F16]: each K row is
 * converted once for the g heads, and 16 (row, head) sums are reduced at a
 * time by a transposed tree that adds the same pairs _mm512_reduce_add_ps
 * adds. Only for LP_FLASH_QK16_TAKES(d) (no tail, K chunks in registers);
 * NULL in tables without it. */
typedef void (*lp_flash_qk16_fn)(int d, int g, int n, const uint8_t *K, size_t k_stride,
                                 const float *q, float *scores, size_t s_stride);
#define LP_FLASH_QK16_TAKES(d) ((d) % 64 == 0 && (d) <= 256)

/* y[i] = the f16 x[i] in f32 (exact). */
typedef void (*lp_flash_f16_fn)(const lp_half *x, float *y, int n);

typedef struct lp_flash_kernels {
    lp_flash_v16_fn v16;
    lp_flash_vq8_fn vq8;
    lp_flash_exp_fn exp;
    lp_flash_qk16_fn qk16;
    lp_flash_f16_fn f16_to_f32;
} lp_flash_kernels;

/* glibc's expf data (e_exp2f_data.c, N = 32), for the SIMD tables:
 * tab[i] = bits of 2^(i/32) minus i << 47. */
extern const uint64_t lp_expf_tab[32];
#define LP_EXPF_INVLN2N 0x1.71547652b82fep+0 * 32 /* 32 / ln 2 */
#define LP_EXPF_SHIFT 0x1.8p+52
#define LP_EXPF_C0 (0x1.c6af84b912394p-5 / 32 / 32 / 32)
#define LP_EXPF_C1 (0x1.ebfce50fac4f3p-3 / 32 / 32)
#define LP_EXPF_C2 (0x1.62e42ff0c52d6p-1 / 32)
/* Lanes whose top 12 bits (sign cleared) reach this go to expf itself. */
#define LP_EXPF_SPECIAL_TOP 0x42b

/* The table for isa (the scalar entries, overridden by what the ISA's
 * files implement; an ISA this build has no code for keeps scalar ones). */
void lp_flash_kernels_init(lp_flash_kernels *f, lp_isa isa);

void lp_flash_fill_avx2(lp_flash_kernels *f);
void lp_flash_fill_avx512(lp_flash_kernels *f);

#endif
