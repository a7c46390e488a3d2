/* quantize_internal.h — what the quantize_*.c files share (not public).
 *
 * Every routine here reproduces a piece of llama.cpp's reference
 * quantizers (ggml-quants.c, built without -march: SSE2 only, no FMA)
 * operation for operation, because the goal is the same bytes. So the
 * float expressions keep ggml's evaluation order exactly, and the build's
 * -std=c17 keeps GCC from fusing a*b+c (-ffp-contract=off). */
#ifndef LP_QUANTIZE_INTERNAL_H
#define LP_QUANTIZE_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

/* ggml's nearest_int: add 1.5 * 2^23 so the FPU rounds to an integer (ties
 * to even) in the low mantissa bits, and read them back. Only meaningful
 * for |v| < 2^22; ggml calls it on anything (its assert is compiled out),
 * and so do we, getting the same bits for the same garbage. */
static inline int lp_qz_nearest_int(float v)
{
    float biased = v + 12582912.f;
    int32_t bits;
    memcpy(&bits, &biased, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

/* Below this largest magnitude a group counts as all zero (ggml's
 * GROUP_MAX_EPS). */
#define LP_QZ_GROUP_MAX_EPS 1e-15f

/* The value of largest magnitude in x[0..n), with its sign: the first one
 * wins a tie, NaNs never win, 0 if nothing beats 0. ggml's symmetric
 * quantizers (Q4_0, Q5_0, and Q3_K/Q6_K per group and per super-block)
 * divide by it, so the scale takes its sign. */
static inline float lp_qz_signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* GGML_FP32_TO_FP16 as ggml-base is built (no F16C): round to nearest
 * even, and every NaN becomes the quiet NaN 0x7e00 with its sign. */
lp_half lp_qz_f16(float f);

/* A k-quant row function: nb super-blocks of 256 from x into dst (any
 * alignment). quantize_kquant.c. */
void lp_qz_q2_K(const float *x, uint8_t *dst, int64_t nb);
void lp_qz_q3_K(const float *x, uint8_t *dst, int64_t nb);
void lp_qz_q4_K(const float *x, uint8_t *dst, int64_t nb);
void lp_qz_q5_K(const float *x, uint8_t *dst, int64_t nb);
void lp_qz_q6_K(const float *x, uint8_t *dst, int64_t nb);

/* ---- the scale searches (quantize_kquant_search.c) ---------------------
 * n is at most 32 everywhere. */

/* make_qx_quants with rmse_type 1 and no importance weights (Q6_K): a
 * symmetric scale for levels -nmax..nmax-1, tried at 19 nudges of the
 * largest value's level and kept by weighted (x^2) error. L gets the
 * levels biased by nmax. Returns the scale (0 for an all-zero group). */
float lp_qz_make_qx(int n, int nmax, const float *x, int8_t *L);

/* make_q3_quants with do_rmse (Q3_K): a symmetric scale, then up to five
 * passes moving single levels while the weighted error drops. L gets the
 * levels biased by nmax (or all 0 for an all-zero group). */
float lp_qz_make_q3(int n, int nmax, const float *x, int8_t *L);

/* make_qkx2_quants' search parameters: the nudges rmin + rdelta*is for
 * is = 0..nstep, and absolute (use_mad) or squared error. */
typedef struct lp_qz_search {
    float rmin, rdelta;
    int nstep;
    bool use_mad;
} lp_qz_search;

/* make_qkx2_quants (Q2_K, Q4_K, Q5_K): scale and min for levels 0..nmax
 * minimising the weighted error over the nudges of s. L gets the levels,
 * *the_min the (non-negative) min to subtract. Returns the scale. */
float lp_qz_make_qkx2(int n, int nmax, const float *x, const float *w, uint8_t *L,
                      float *the_min, const lp_qz_search *s);

#endif
