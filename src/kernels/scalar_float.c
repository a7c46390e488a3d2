/* scalar_float.c — the float kernels in portable C, bit for bit what
 * llama.cpp's CPU backend (ggml of Feb 2025, built -O3 -march=native
 * -std=gnu11 with llamafile's sgemm, on an AVX-512 + AVX512_BF16 CPU)
 * computes. The SIMD tables (avx2_float.c, avx512_float.c) reproduce these
 * bits with vectors; tests/test_ops.c holds them to it.
 *
 * Why emulate: a model's layers amplify a last-bit difference into
 * different logits, so "close to llama.cpp" is not enough to reproduce its
 * greedy tokens. ggml's orders, per output element:
 *
 * dot     ggml_vec_dot_{f32,f16,bf16}, used for a matmul of ONE activation
 *         row (decode) or when llamafile's sgemm declines the shape:
 *   f32/f16: 4 accumulators of 16 lanes over chunks of 64 (acc j takes
 *         elements 16j..16j+15 of each chunk, fused multiply-add), summed
 *         (a0+a2)+(a1+a3) lane-wise, then red16 (below). The n % 64 tail:
 *         f16 adds each (exact) product in double; f32 adds in float, in
 *         order, and gcc's vectorised epilogue rounds each product before
 *         adding for groups of 16, then one group of 8, and fuses the last
 *         n % 8 (see f32_tail).
 *   bf16: 2 accumulators of 16 lanes, each VDPBF16PS over 32 elements of
 *         a chunk of 64; red16 of each added in double, then the tail's
 *         exact products in double.
 * gemm    llamafile's tinyBLAS, used by ggml for matmuls of >= 2 rows when
 *         it accepts the shape (matmul.c): ONE 16-lane accumulator over
 *         the whole row, fused multiply-add (f32, f16: 16 elements a
 *         step) or VDPBF16PS (bf16: 32 a step), then red16.
 * red16   gcc's _mm512_reduce_add_ps: v[i]+v[i+8], then +[i+4], then
 *         (0+2)+(1+3).
 * dpbf16  VDPBF16PS as Intel documents it and this Zen4 does it: per lane
 *         acc = fma(a[2l+1], b[2l+1], acc), then fma(a[2l], b[2l], acc);
 *         denormal inputs read as zero, denormal results flushed to zero.
 * exp     ggml_v_expf (the AVX-512 one: polynomial, then VSCALEFPS) on
 *         every full chunk of 16, libm expf on the rest; see v_expf.
 *
 * The library is ISO C (-std=c17), so gcc fuses nothing by itself: every
 * fma below is one of ggml's, and every a*b+c is two roundings in ggml. */
#include <math.h>
#include <string.h>

#include "float_impl.h"

/* ---- lanes ------------------------------------------------------------- */

static float red16(const float v[16])
{
    float a[8], b[4];
    for (int i = 0; i < 8; i++)
        a[i] = v[i] + v[i + 8];
    for (int i = 0; i < 4; i++)
        b[i] = a[i] + a[i + 4];
    return (b[0] + b[2]) + (b[1] + b[3]);
}

static float ld_f16(const uint8_t *p)
{
    lp_half h;
    memcpy(&h, p, sizeof h);
    return lp_f16_to_f32(h);
}

static uint32_t ld_u16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return h;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float ld_bf16(const uint8_t *p)
{
    return bits_f32(ld_u16(p) << 16);
}

static float ld_f32(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

typedef float (*ld_fn)(const uint8_t *p);

/* ---- ggml_vec_dot_* ---------------------------------------------------- */

/* The 64-element chunks of ggml_vec_dot_f32/f16; returns red16 of the
 * combined accumulators and sets *done to the elements consumed. */
static float chunks64(int64_t n, const uint8_t *x, const uint8_t *y, size_t es, ld_fn ld,
                      int64_t *done)
{
    float acc[4][16] = {{0}};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 16; l++) {
                const size_t o = (size_t)(i + 16 * j + l) * es;
                acc[j][l] = fmaf(ld(x + o), ld(y + o), acc[j][l]);
            }
    *done = i;
    float s[16];
    for (int l = 0; l < 16; l++)
        s[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    return red16(s);
}

static float dot_f32(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    int64_t i;
    const float s = chunks64(n, x, y, 4, ld_f32, &i);
    /* With no whole chunk, ggml starts the tail from 0.0f (s is +0 too). */
    return lp_f32_tail(s, x + 4 * i, y + 4 * i, n - i);
}

static float dot_f16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    int64_t i;
    double sum = chunks64(n, x, y, 2, ld_f16, &i);
    for (; i < n; i++)
        sum += (double)(ld_f16(x + 2 * i) * ld_f16(y + 2 * i));
    return (float)sum;
}

/* VDPBF16PS's DAZ (inputs) and FTZ (results): denormals become zeros of
 * their sign. */
static float flush(float x)
{
    return fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x;
}

/* One VDPBF16PS lane: the odd element's product first. */
static float dp_pair(float acc, const uint8_t *x, const uint8_t *y)
{
    acc = flush(fmaf(flush(ld_bf16(x + 2)), flush(ld_bf16(y + 2)), acc));
    return flush(fmaf(flush(ld_bf16(x)), flush(ld_bf16(y)), acc));
}

/* acc[l] over 32 elements at x, y (16 pairs). */
static void dp32(float acc[16], const uint8_t *x, const uint8_t *y)
{
    for (int l = 0; l < 16; l++)
        acc[l] = dp_pair(acc[l], x + 4 * l, y + 4 * l);
}

static float dot_bf16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    float c1[16] = {0}, c2[16] = {0};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        dp32(c1, x + 2 * i, y + 2 * i);
        dp32(c2, x + 2 * (i + 32), y + 2 * (i + 32));
    }
    double sum = 0.0;
    sum += red16(c1);
    sum += red16(c2);
    for (; i < n; i++)
        sum += (double)(ld_bf16(x + 2 * i) * ld_bf16(y + 2 * i));
    return (float)sum;
}

/* ---- llamafile tinyBLAS ------------------------------------------------ */

static float gemm16(int64_t n, const uint8_t *x, const uint8_t *y, size_t es, ld_fn ld)
{
    float acc[16] = {0};
    for (int64_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) {
            const size_t o = (size_t)(i + l) * es;
            acc[l] = fmaf(ld(x + o), ld(y + o), acc[l]);
        }
    return red16(acc);
}

static float gemm_f32(int64_t n, const void *w, const void *a)
{
    return gemm16(n, w, a, 4, ld_f32);
}

static float gemm_f16(int64_t n, const void *w, const void *a)
{
    return gemm16(n, w, a, 2, ld_f16);
}

static float gemm_bf16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    float acc[16] = {0};
    for (int64_t i = 0; i < n; i += 32)
        dp32(acc, x + 2 * i, y + 2 * i);
    return red16(acc);
}

/* ---- exp, softmax, silu ------------------------------------------------- */

/* x * 2^n for integral |n| <= 192 with ONE rounding, as VSCALEFPS: the
 * first product is exact (|x| is near 1 and |n/2| <= 96), the second
 * rounds (to a denormal or to infinity when it must). */
float lp_scalef(float x, float n)
{
    const int k = (int)n, k1 = k / 2, k2 = k - k1;
    const float p1 = bits_f32((uint32_t)(k1 + 127) << 23);
    const float p2 = bits_f32((uint32_t)(k2 + 127) << 23);
    return x * p1 * p2;
}

/* ggml_v_expf on one lane: exp(x) = 2^n * e^b with n = round(x / ln2),
 * e^b by a degree-5 polynomial; |n| > 192 saturates to 0 or infinity. */
float lp_v_expf(float x)
{
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                              fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (isnan(n))
        return j; /* NaN in, NaN out */
    if (fabsf(n) > 192)
        return n <= 0 ? 0.0f : INFINITY;
    return lp_scalef(j, n);
}

static double exp_sum(float *y, const float *x, float max, int64_t n)
{
    double sum = 0.0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 16; l++)
            y[i + l] = lp_v_expf(x[i + l] - max);
        sum += red16(y + i);
    }
    for (; i < n; i++) {
        y[i] = expf(x[i] - max);
        sum += y[i];
    }
    return sum;
}

static void silu(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            y[i + l] = x[i + l] / (1.0f + lp_v_expf(0.0f - x[i + l]));
    for (; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

void lp_scalar_fill_float(lp_kernels *k)
{
    k->dot[LP_TYPE_F32] = dot_f32;
    k->dot[LP_TYPE_F16] = dot_f16;
    k->dot[LP_TYPE_BF16] = dot_bf16;
    k->dot_gemm[LP_TYPE_F32] = gemm_f32;
    k->dot_gemm[LP_TYPE_F16] = gemm_f16;
    k->dot_gemm[LP_TYPE_BF16] = gemm_bf16;
    k->exp_sum = exp_sum;
    k->silu = silu;
}
