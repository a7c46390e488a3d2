/* flash.h — the per-position steps of flash attention (attn_flash.c), per
 * ISA. Every entry gives the same bits in every table: each is an
 * element-wise formula (one product, or one fused multiply-add, then a
 * rounding to f16 where ggml stores f16), so lanes and order do not matter.
 *
 * Those formulas are ggml's ggml_vec_scale_f16 / ggml_vec_mad_f16 (f16
 * converted to f32, x * s or fma(x, s, y), rounded back to f16 to nearest
 * even), ggml_vec_scale_f32 / ggml_vec_mad_f32 (the same in f32) and
 * dequantize_row_q8_0 (q * d). */
#ifndef LP_FLASH_H
#define LP_FLASH_H

#include "kernels.h"

/* One position for the g query heads that share its V row: for each head
 * h, first acc[h] *= ms[h] when ms[h] != 1 (ggml rescales exactly when a
 * new maximum arrived, and then ms < 1 or a product by 1, which changes
 * nothing), then acc[h] += v * vs[h]. acc is [g][d]. */
typedef void (*lp_flash_acc16_fn)(int d, int g, lp_half *acc, const lp_half *v, const float *ms,
                                  const float *vs);
typedef void (*lp_flash_acc32_fn)(int d, int g, float *acc, const float *v, const float *ms,
                                  const float *vs);
/* d values of a q8_0 row (d a multiple of 32) to f32. */
typedef void (*lp_flash_deq_fn)(const void *row, float *out, int d);

typedef struct lp_flash_kernels {
    lp_flash_acc16_fn acc16;
    lp_flash_acc32_fn acc32;
    lp_flash_deq_fn deq_q8_0;
} lp_flash_kernels;

/* The table for isa (the scalar entries, overridden by what the ISA's
 * files implement; an ISA this build has no code for keeps scalar ones). */
void lp_flash_kernels_init(lp_flash_kernels *f, lp_isa isa);

void lp_flash_fill_avx2(lp_flash_kernels *f);
void lp_flash_fill_avx512(lp_flash_kernels *f);

#endif
