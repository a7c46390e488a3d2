/* scalar_impl.h — internal to src/kernels: the scalar emulations of the
 * x86 quantized dots (scalar_qdot.c, scalar_kdot.c) and the lane sums
 * they share.
 *
 * Why emulations: llama.cpp's results on x86 are those of ggml's AVX2
 * kernels (ggml-cpu-quants.c), whose f32 steps are not ggml's portable
 * generic code: each block's integer dot is split into eight i32 lanes
 * (lane l = values 4l..4l+3 of every 32-value chunk), converted to f32
 * and accumulated per lane with a fused multiply-add, and the eight lanes
 * are summed by one fixed tree at the end. Models with many layers
 * amplify a last-bit difference into different tokens, so every table
 * (scalar included, for CPUs without AVX2) computes exactly those bits.
 * The scalar code does it with float[8] "lanes" and fmaf() wherever ggml
 * fuses; the library is ISO C (-std=c17), so the compiler fuses nothing
 * on its own.
 *
 * lp_vec_dot_ref (quant.h) stays ggml's generic definition: the tests
 * check these emulations against it to float tolerance, and every SIMD
 * table against these emulations bit for bit. */
#ifndef LP_SCALAR_IMPL_H
#define LP_SCALAR_IMPL_H

#include "kernels.h"

/* ggml's hsum_float_8 of a __m256: high half plus low half, then
 * (0 + 2) + (1 + 3). */
static inline float lp_lanes8_hsum(const float v[8])
{
    float t[4];
    for (int i = 0; i < 4; i++)
        t[i] = v[4 + i] + v[i];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

/* The same tree on a __m128 (the last two steps). */
static inline float lp_lanes4_hsum(const float v[4])
{
    return (v[0] + v[2]) + (v[1] + v[3]);
}

void lp_scalar_fill_qdot(lp_kernels *k); /* scalar_qdot.c: Q4_0..Q8_0 */
void lp_scalar_fill_kdot(lp_kernels *k); /* scalar_kdot.c: Q2_K..Q6_K */

#endif
