/* quant_act.c — activation rows to a weight's dot type.
 *
 * The bytes must be those ggml's CPU backend produces on x86 (AVX2 build),
 * because the dot products downstream are only bit-exact if their inputs
 * are. That is NOT ggml's portable *_ref code for Q8_0/Q8_1:
 *
 *   Q8_0/Q8_1 (ggml-cpu/arch/x86/quants.c quantize_row_q8_{0,1}): scale by
 *   id = 127/amax (not 1/d), round with _mm256_round_ps nearest-even (not
 *   roundf, which rounds ties away from zero). Q8_1's s is the f32 product
 *   d * (sum of the 32 quants), then rounded to f16.
 *
 *   Q8_K: x86 calls quantize_row_q8_K_ref (ggml-quants.c, built without
 *   -march, so no FMA): signed max (a scan that skips NaN), iscale =
 *   -127/max, the 1.5*2^23 "nearest_int" trick (ties to even), the int
 *   stored into int8_t (low byte), and bsums of each 16 stored quants.
 *
 *   Inputs with NaN, Inf or a subnormal block max give ggml's bytes too
 *   (checked against ggml on such rows; test_kernels pins one).
 *
 *   F16: F16C with round-to-nearest-even (lp_f32_to_f16); BF16: ggml's
 *   GGML_FP32_TO_BF16 (ggml_cpu_fp32_to_bf16 has no x86 SIMD path). */
#include <math.h>
#include <string.h>

#include "quant_impl.h"

/* _mm256_round_ps(v, _MM_ROUND_NEAREST): nearest integer, ties to even,
 * whatever the current rounding mode. Exact for |v| < 2^23. */
static float round_half_even(float v)
{
    float r = floorf(v);
    float frac = v - r;
    if (frac > 0.5f || (frac == 0.5f && fmodf(r, 2.0f) != 0.0f))
        r += 1.0f;
    return r;
}

/* _mm256_cvtps_epi32 of an already rounded value: NaN and anything
 * outside int32 give INT32_MIN ("integer indefinite"). Finite blocks never
 * get there (|x*id| <= 127); blocks with NaN, Inf or a subnormal max do. */
static int32_t cvt_i32(float r)
{
    if (!(r >= -2147483648.0f && r < 2147483648.0f))
        return INT32_MIN;
    return (int32_t)r;
}

/* The saturating packs (epi32 -> epi16 -> epi8). */
static int8_t sat_i8(int32_t v)
{
    return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
}

/* MAXPS: a > b ? a : b, which returns b when either is NaN. */
static float maxps(float a, float b)
{
    return a > b ? a : b;
}

/* max |x| of a block of 32 by the same tree of maxes as the AVX code
 * (8 lanes over the 4 loads, then 8 -> 4 -> 2 -> 1). The order only
 * matters for NaN, but then it decides which NaN comes out. */
static float max_abs_x86(const float *x)
{
    float lane[8];
    for (int l = 0; l < 8; l++) {
        float m = fabsf(x[l]);
        for (int v = 1; v < 4; v++)
            m = maxps(m, fabsf(x[8 * v + l]));
        lane[l] = m;
    }
    float q[4];
    for (int k = 0; k < 4; k++)
        q[k] = maxps(lane[4 + k], lane[k]);
    float p0 = maxps(q[0], q[2]), p1 = maxps(q[1], q[3]);
    return maxps(p0, p1);
}

/* One block of 32 as the x86 kernels do it: returns the scale d in f32
 * and writes the quants and (for Q8_1) the sum of the int32 lanes before
 * packing, which wraps like the SIMD adds. */
static float q8_x86_block(const float *x, int8_t qs[32], int32_t *sum)
{
    const float amax = max_abs_x86(x);
    const float d = amax / 127.f;
    const float id = (amax != 0.0f) ? 127.f / amax : 0.0f;
    uint32_t acc = 0;
    for (int j = 0; j < 32; j++) {
        int32_t v = cvt_i32(round_half_even(x[j] * id));
        acc += (uint32_t)v;
        qs[j] = sat_i8(v);
    }
    *sum = (int32_t)acc; /* two's complement, as gcc defines it */
    return d;
}

static void quant_q8_0(const float *x, void *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK8_0) {
        lp_block_q8_0 b;
        int32_t unused;
        b.d = lp_f32_to_f16(q8_x86_block(x, b.qs, &unused));
        memcpy((uint8_t *)dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

static void quant_q8_1(const float *x, void *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK8_1) {
        lp_block_q8_1 b;
        int32_t sum;
        const float d = q8_x86_block(x, b.qs, &sum);
        b.d = lp_f32_to_f16(d);
        b.s = lp_f32_to_f16(d * (float)sum);
        memcpy((uint8_t *)dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

/* ggml's nearest_int: adding 1.5*2^23 leaves the rounded (ties-to-even)
 * integer in the low mantissa bits. Valid for |v| <= 2^22 - 1. The caller's
 * iscale*x must be rounded before the add (no FMA contraction: -std=c17). */
static int nearest_int(float v)
{
    float biased = v + 12582912.f;
    int32_t bits;
    memcpy(&bits, &biased, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

/* ggml stores the int into an int8_t, which on x86 keeps the low byte.
 * Only Inf, NaN or a subnormal max get outside -128..127 (nearest_int of
 * Inf is -2^22, of NaN a payload); say it without implementation-defined
 * conversions. */
static int8_t low_byte(int v)
{
    const int b = (int)((uint32_t)v & 0xffu);
    return (int8_t)(b > 127 ? b - 256 : b);
}

static void quant_q8_K(const float *x, void *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK_K) {
        lp_block_q8_K b;
        memset(&b, 0, sizeof b);
        /* The signed value of largest magnitude; the first one wins ties. */
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < LP_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax != 0.0f) {
            /* The sign flip puts max at -127, never -128 (ggml keeps this
             * for its IQ kernels); so d is negative when max is positive. */
            const float iscale = -127.f / max;
            for (int j = 0; j < LP_QK_K; j++) {
                int v = nearest_int(iscale * x[j]);
                b.qs[j] = low_byte(v < 127 ? v : 127);
            }
            for (int g = 0; g < LP_QK_K / 16; g++) {
                int sum = 0;
                for (int j = 0; j < 16; j++)
                    sum += b.qs[16 * g + j];
                b.bsums[g] = (int16_t)sum;
            }
            b.d = 1 / iscale;
        }
        /* An all-zero block: d = 0 and zero quants, as ggml writes; ggml
         * leaves bsums unwritten there, we zero them (any value gives the
         * same dot, since d = 0 multiplies them). */
        memcpy((uint8_t *)dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

static void quant_f32(const float *x, void *dst, int64_t n)
{
    memcpy(dst, x, (size_t)n * sizeof(float));
}

static void quant_f16(const float *x, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        lp_half h = lp_f32_to_f16(x[i]);
        memcpy((uint8_t *)dst + 2 * i, &h, 2);
    }
}

static void quant_bf16(const float *x, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        lp_bf16 h = lp_f32_to_bf16(x[i]);
        memcpy((uint8_t *)dst + 2 * i, &h, 2);
    }
}

int lp_quantize_row(lp_type dot_type, const float *src, void *dst, int64_t n)
{
    void (*fn)(const float *, void *, int64_t);
    switch (dot_type) {
    case LP_TYPE_F32: fn = quant_f32; break;
    case LP_TYPE_F16: fn = quant_f16; break;
    case LP_TYPE_BF16: fn = quant_bf16; break;
    case LP_TYPE_Q8_0: fn = quant_q8_0; break;
    case LP_TYPE_Q8_1: fn = quant_q8_1; break;
    case LP_TYPE_Q8_K: fn = quant_q8_K; break;
    default: return -1;
    }
    const lp_type_traits *t = lp_type_traits_get((uint32_t)dot_type);
    if (n < 0 || n % t->blck_size != 0)
        return -1;
    fn(src, dst, n / t->blck_size);
    return 0;
}
