/* float_impl.h — internal to src/kernels: the scalar pieces of ggml's
 * float arithmetic (scalar_float.c) that the SIMD float kernels share.
 * See scalar_float.c for what each reproduces and why. */
#ifndef LP_FLOAT_IMPL_H
#define LP_FLOAT_IMPL_H

#include <stdbool.h>

#include "kernels.h"

/* sum + x·y over n < 64 f32 (any alignment) in ggml_vec_dot_f32's tail
 * order. */
float lp_f32_tail(float sum, const uint8_t *x, const uint8_t *y, int64_t n);

/* ggml_v_expf (AVX-512) on one value. */
float lp_v_expf(float x);

/* VSCALEFPS: x * 2^n rounded once, for integral |n| <= 192. */
float lp_scalef(float x, float n);

/* The AVX-512 table's BF16 dots: with the VDPBF16PS instruction (native,
 * needs AVX512_BF16) or its rebuild; lp_avx512_fill_float picks by cpuid.
 * Public for tests, which hold both to the scalar emulation. */
void lp_avx512_fill_bf16(lp_kernels *k, bool native);

#endif
