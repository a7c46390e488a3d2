/* float_impl.h — internal to src/kernels: the scalar pieces of ggml's
 * float arithmetic (scalar_float.c) that the SIMD float kernels share.
 * See scalar_float.c for what each reproduces and why. */
#ifndef LP_FLOAT_IMPL_H
#define LP_FLOAT_IMPL_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels.h"

static inline float lp_ld_f32u(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

/* The number of leading tail elements whose products ggml rounds before
 * adding (the rest it fuses): see lp_f32_tail. A multiple of 8. */
static inline int64_t lp_f32_tail_unfused(int64_t n)
{
    return n / 16 * 16 + (n % 16 >= 8 ? 8 : 0);
}

/* sum + x·y over n < 64 f32 (any alignment) in ggml_vec_dot_f32's tail
 * order: gcc 12 vectorised ggml's `sumf += x[i]*y[i]` to multiply 16 (then
 * 8) at a time and add the rounded products in order; its scalar epilogue
 * fuses. Inline, so each ISA's file gets its own FMA (fmaf). */
static inline float lp_f32_tail(float sum, const uint8_t *x, const uint8_t *y, int64_t n)
{
    const int64_t unfused = lp_f32_tail_unfused(n);
    int64_t i = 0;
    for (; i < unfused; i++)
        sum += lp_ld_f32u(x + 4 * i) * lp_ld_f32u(y + 4 * i);
    for (; i < n; i++)
        sum = fmaf(lp_ld_f32u(x + 4 * i), lp_ld_f32u(y + 4 * i), sum);
    return sum;
}

/* ggml_v_expf (AVX-512) on one value. */
float lp_v_expf(float x);

/* VSCALEFPS: x * 2^n rounded once, for integral |n| <= 192. */
float lp_scalef(float x, float n);

/* The AVX-512 table's BF16 dots: with the VDPBF16PS instruction (native,
 * needs AVX512_BF16) or its rebuild; lp_avx512_fill_float picks by cpuid.
 * Public for tests, which hold both to the scalar emulation. */
void lp_avx512_fill_bf16(lp_kernels *k, bool native);

#endif
