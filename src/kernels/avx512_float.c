/* avx512_float.c — the float kernels with 512-bit vectors: F32, F16, BF16
 * dots in ggml's vec_dot and llamafile-tinyBLAS orders, F16 dots over many
 * rows, exp_sum and silu.
 *
 * Bit-identical to scalar_float.c (which says what ggml computes): these
 * are ggml's own AVX-512 instruction sequences. VDPBF16PS is used where
 * the CPU has AVX512_BF16 and rebuilt from FMAs and explicit denormal
 * flushing where it does not. The activation converters stay AVX2's. */
#include "float_impl.h"
#include "kernels_impl.h"

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline __m512 ld_f32(const uint8_t *p)
{
    return _mm512_loadu_ps(p);
}

static inline __m512 ld_f16(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

static inline float bf16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- ggml_vec_dot_f32 / f16 ----------------------------------------------- */

/* 4 accumulators over the chunks of 64, combined (a0+a2)+(a1+a3) and
 * reduced: sets `sum` (float) and `done` (elements consumed). */
#define CHUNKS64(ES, LOAD)                                                      \
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                 \
    int64_t done = 0;                                                           \
    for (; done + 64 <= n; done += 64) {                                        \
        const uint8_t *xp = x + done * ES, *yp = y + done * ES;                 \
        s0 = _mm512_fmadd_ps(LOAD(xp), LOAD(yp), s0);                           \
        s1 = _mm512_fmadd_ps(LOAD(xp + 16 * ES), LOAD(yp + 16 * ES), s1);       \
        s2 = _mm512_fmadd_ps(LOAD(xp + 32 * ES), LOAD(yp + 32 * ES), s2);       \
        s3 = _mm512_fmadd_ps(LOAD(xp + 48 * ES), LOAD(yp + 48 * ES), s3);       \
    }                                                                           \
    const float sum = _mm512_reduce_add_ps(                                     \
        _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3)))

static float dot_f32(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    CHUNKS64(4, ld_f32);
    return lp_f32_tail(sum, x + 4 * done, y + 4 * done, n - done);
}

static float dot_f16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    CHUNKS64(2, ld_f16);
    double acc = sum;
    for (int64_t i = done; i < n; i++)
        acc += (double)(f16_at(x + 2 * i) * f16_at(y + 2 * i));
    return (float)acc;
}

/* ---- ggml_vec_dot_f16 over many rows ----------------------------------------- */

/* Columns of an 8 x 8 block: r[c] becomes (row 0 [c], ..., row 7 [c]). */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        const __m256 *q = t + 4 * i;
        u[4 * i] = _mm256_shuffle_ps(q[0], q[2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(q[0], q[2], 0xee);
        u[4 * i + 2] = _mm256_shuffle_ps(q[1], q[3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(q[1], q[3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
        r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
    }
}

/* CHUNKS64 of two rows (x, x + stride) at once, sharing the loads of y;
 * n a multiple of 64. */
static void chunks64_f16x2(int64_t n, const uint8_t *x, size_t stride, const uint8_t *y,
                           float sum[2])
{
    const uint8_t *x2 = x + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int64_t i = 0; i < n; i += 64) {
        const __m512 y0 = ld_f16(y + 2 * i), y1 = ld_f16(y + 2 * i + 32);
        const __m512 y2 = ld_f16(y + 2 * i + 64), y3 = ld_f16(y + 2 * i + 96);
        a0 = _mm512_fmadd_ps(ld_f16(x + 2 * i), y0, a0);
        a1 = _mm512_fmadd_ps(ld_f16(x + 2 * i + 32), y1, a1);
        a2 = _mm512_fmadd_ps(ld_f16(x + 2 * i + 64), y2, a2);
        a3 = _mm512_fmadd_ps(ld_f16(x + 2 * i + 96), y3, a3);
        b0 = _mm512_fmadd_ps(ld_f16(x2 + 2 * i), y0, b0);
        b1 = _mm512_fmadd_ps(ld_f16(x2 + 2 * i + 32), y1, b1);
        b2 = _mm512_fmadd_ps(ld_f16(x2 + 2 * i + 64), y2, b2);
        b3 = _mm512_fmadd_ps(ld_f16(x2 + 2 * i + 96), y3, b3);
    }
    sum[0] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
    sum[1] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(b0, b2), _mm512_add_ps(b1, b3)));
}

/* Eight rows' tails side by side: lane r of acc is row r's double sum,
 * and each lane adds its products in order, as ggml's loop does. */
static __m512d tails8_f16(__m512d acc, const uint8_t *x, size_t stride, const uint8_t *y,
                          int64_t n)
{
    for (int64_t i = 0; i < n; i += 8) {
        const int64_t k = n - i < 8 ? n - i : 8;
        const __mmask8 m = (__mmask8)((1u << k) - 1);
        const __m256 a = _mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, y + 2 * i));
        __m256 p[8];
        for (int r = 0; r < 8; r++)
            p[r] = _mm256_mul_ps(
                _mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, x + (size_t)r * stride + 2 * i)), a);
        transpose8(p);
        for (int64_t c = 0; c < k; c++)
            acc = _mm512_add_pd(acc, _mm512_cvtps_pd(p[c]));
    }
    return acc;
}

static void dot_rows_f16(int64_t n, const void *w, size_t stride, const void *a, float *out,
                         int64_t rows)
{
    const uint8_t *y = a;
    const int64_t tail_at = n & ~(int64_t)63;
    int64_t r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *x0 = (const uint8_t *)w + (size_t)r * stride;
        float head[8] = {0}; /* no chunk: ggml's sum of zero accumulators */
        for (int j = 0; j < 8 && tail_at > 0; j += 2)
            chunks64_f16x2(tail_at, x0 + (size_t)j * stride, stride, y, head + j);
        const __m512d acc = tails8_f16(_mm512_cvtps_pd(_mm256_loadu_ps(head)), x0 + 2 * tail_at,
                                       stride, y + 2 * tail_at, n - tail_at);
        _mm256_storeu_ps(out + r, _mm512_cvtpd_ps(acc));
    }
    for (; r < rows; r++)
        out[r] = dot_f16(n, (const uint8_t *)w + (size_t)r * stride, a);
}

/* ---- ggml_vec_dot_f32 over many rows ----------------------------------------- */

/* 8 f32 at p (only the first k < 8 when k is short; the rest read 0). */
static inline __m256 ld_f32x8(const uint8_t *p, int64_t k)
{
    return _mm256_maskz_loadu_ps((__mmask8)(k >= 8 ? 0xff : (1u << k) - 1), p);
}

#include "float_rows_impl.h"

/* ---- VDPBF16PS ------------------------------------------------------------ */

/* Rebuilt for CPUs without AVX512_BF16. DAZ: a denormal bf16 input counts
 * as a zero of its sign; FTZ: so does a denormal result of either step. */
static inline __m512i daz_bf16(__m512i u)
{
    const __mmask32 den = _mm512_testn_epi16_mask(u, _mm512_set1_epi16(0x7f80)) &
                          _mm512_test_epi16_mask(u, _mm512_set1_epi16(0x7fff));
    return _mm512_mask_blend_epi16(den, u, _mm512_and_si512(u, _mm512_set1_epi16((short)0x8000)));
}

static inline __m512 ftz(__m512 r)
{
    const __m512i b = _mm512_castps_si512(r);
    const __mmask16 den = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f800000)) &
                          _mm512_test_epi32_mask(b, _mm512_set1_epi32(0x7fffffff));
    return _mm512_castsi512_ps(
        _mm512_mask_and_epi32(b, den, b, _mm512_set1_epi32((int)0x80000000u)));
}

/* acc += the 16 pair products of 32 bf16 at x and y, odd element first. */
static inline __m512 dp_bf16(__m512 acc, const uint8_t *x, const uint8_t *y)
{
    const __m512i u = daz_bf16(_mm512_loadu_si512(x)), v = daz_bf16(_mm512_loadu_si512(y));
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    const __m512 xo = _mm512_castsi512_ps(_mm512_and_si512(u, hi));
    const __m512 yo = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
    const __m512 xe = _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
    const __m512 ye = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    acc = ftz(_mm512_fmadd_ps(xo, yo, acc));
    return ftz(_mm512_fmadd_ps(xe, ye, acc));
}

/* The instruction itself, where the CPU has it (checked when the table
 * is filled; the rest of this file runs without it). */
#define BF16_TARGET __attribute__((target("avx512bf16")))

BF16_TARGET static inline __m512 dp_bf16_native(__m512 acc, const uint8_t *x, const uint8_t *y)
{
    return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(x),
                            (__m512bh)_mm512_loadu_si512(y));
}

/* ggml_vec_dot_bf16's end: each accumulator's sum, then the tail's exact
 * products, added in double. */
static float bf16_total(__m512 c1, __m512 c2, const uint8_t *x, const uint8_t *y, int64_t i,
                        int64_t n)
{
    double sum = 0.0;
    sum += _mm512_reduce_add_ps(c1);
    sum += _mm512_reduce_add_ps(c2);
    for (; i < n; i++)
        sum += (double)(bf16_at(x + 2 * i) * bf16_at(y + 2 * i));
    return (float)sum;
}

/* ggml_vec_dot_bf16 (one row, and two rows at a time for four independent
 * chains) and tinyBLAS's bf16 dot, over a given VDPBF16PS. */
#define BF16_DOTS(SUFFIX, ATTR, DP)                                             \
    ATTR static float dot_bf16##SUFFIX(int64_t n, const void *w, const void *a) \
    {                                                                           \
        const uint8_t *x = w, *y = a;                                           \
        __m512 c1 = _mm512_setzero_ps(), c2 = c1;                               \
        int64_t i = 0;                                                          \
        for (; i + 64 <= n; i += 64) {                                          \
            c1 = DP(c1, x + 2 * i, y + 2 * i);                                  \
            c2 = DP(c2, x + 2 * i + 64, y + 2 * i + 64);                        \
        }                                                                       \
        return bf16_total(c1, c2, x, y, i, n);                                  \
    }                                                                           \
    ATTR static void dot_rows_bf16##SUFFIX(int64_t n, const void *w, size_t stride, \
                                           const void *a, float *out, int64_t rows) \
    {                                                                           \
        const uint8_t *y = a;                                                   \
        int64_t r = 0;                                                          \
        for (; r + 2 <= rows; r += 2) {                                         \
            const uint8_t *x = (const uint8_t *)w + (size_t)r * stride, *x2 = x + stride; \
            __m512 c1 = _mm512_setzero_ps(), c2 = c1, d1 = c1, d2 = c1;         \
            int64_t i = 0;                                                      \
            for (; i + 64 <= n; i += 64) {                                      \
                c1 = DP(c1, x + 2 * i, y + 2 * i);                              \
                d1 = DP(d1, x2 + 2 * i, y + 2 * i);                             \
                c2 = DP(c2, x + 2 * i + 64, y + 2 * i + 64);                    \
                d2 = DP(d2, x2 + 2 * i + 64, y + 2 * i + 64);                   \
            }                                                                   \
            out[r] = bf16_total(c1, c2, x, y, i, n);                            \
            out[r + 1] = bf16_total(d1, d2, x2, y, i, n);                       \
        }                                                                       \
        if (r < rows)                                                           \
            out[r] = dot_bf16##SUFFIX(n, (const uint8_t *)w + (size_t)r * stride, a); \
    }                                                                           \
    ATTR static float gemm_bf16##SUFFIX(int64_t n, const void *w, const void *a) \
    {                                                                           \
        const uint8_t *x = w, *y = a;                                           \
        __m512 acc = _mm512_setzero_ps();                                       \
        for (int64_t i = 0; i < n; i += 32)                                     \
            acc = DP(acc, x + 2 * i, y + 2 * i);                                \
        return _mm512_reduce_add_ps(acc);                                       \
    }

BF16_DOTS(, , dp_bf16)
BF16_DOTS(_native, BF16_TARGET, dp_bf16_native)

static bool cpu_has_avx512bf16(void)
{
    unsigned a, b, c, d;
    /* leaf 7 subleaf 1, eax bit 5; the ZMM state it needs is AVX-512's */
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
}

void lp_avx512_fill_bf16(lp_kernels *k, bool native)
{
    k->dot[LP_TYPE_BF16] = native ? dot_bf16_native : dot_bf16;
    k->dot_rows[LP_TYPE_BF16] = native ? dot_rows_bf16_native : dot_rows_bf16;
    k->dot_gemm[LP_TYPE_BF16] = native ? gemm_bf16_native : gemm_bf16;
}

/* ---- llamafile tinyBLAS: one accumulator --------------------------------- */

static float gemm_f32(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16)
        acc = _mm512_fmadd_ps(ld_f32(x + 4 * i), ld_f32(y + 4 * i), acc);
    return _mm512_reduce_add_ps(acc);
}

static float gemm_f16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16)
        acc = _mm512_fmadd_ps(ld_f16(x + 2 * i), ld_f16(y + 2 * i), acc);
    return _mm512_reduce_add_ps(acc);
}

/* ---- exp, softmax, silu ---------------------------------------------------- */

/* ggml_v_expf, step for step. */
static inline __m512 v_expf(__m512 x)
{
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b,
                                        _mm512_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b,
                                        _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (!big)
        return res;
    const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
    const __m512 sat = _mm512_mask_blend_ps(neg, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
    return _mm512_mask_blend_ps(big, res, sat);
}

static double exp_sum(float *y, const float *x, float max, int64_t n)
{
    double sum = 0.0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = v_expf(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(max)));
        _mm512_storeu_ps(y + i, v);
        sum += _mm512_reduce_add_ps(v);
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
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __m512 e = v_expf(_mm512_sub_ps(_mm512_setzero_ps(), v));
        _mm512_storeu_ps(y + i, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
    }
    for (; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

void lp_avx512_fill_float(lp_kernels *k)
{
    k->dot[LP_TYPE_F32] = dot_f32;
    k->dot[LP_TYPE_F16] = dot_f16;
    k->dot_gemm[LP_TYPE_F32] = gemm_f32;
    k->dot_gemm[LP_TYPE_F16] = gemm_f16;
    lp_avx512_fill_bf16(k, cpu_has_avx512bf16());
    k->dot_rows[LP_TYPE_F32] = dot_rows_f32;
    k->dot_rows[LP_TYPE_F16] = dot_rows_f16;
    k->exp_sum = exp_sum;
    k->silu = silu;
}

#else

void lp_avx512_fill_float(lp_kernels *k)
{
    (void)k;
}

void lp_avx512_fill_bf16(lp_kernels *k, bool native)
{
    (void)k;
    (void)native;
}

#endif
