/* avx2_float.c — the float kernels with AVX2+FMA+F16C: F32, F16, BF16 dots
 * in ggml's vec_dot and llamafile-tinyBLAS orders, F16 dots over many rows,
 * exp_sum, silu, and the F16 / BF16 activation converters.
 *
 * Bit-identical to scalar_float.c, which says what ggml (built for
 * AVX-512) computes. ggml's 16-lane accumulators are pairs of __m256 here
 * (v16: lanes 0-7 and 8-15), reduced by _mm512_reduce_add_ps's tree;
 * VSCALEFPS and VDPBF16PS are rebuilt from AVX2 operations that round
 * exactly where they do. The converters produce exactly lp_f32_to_f16 /
 * lp_f32_to_bf16 bits. */
#include "float_impl.h"
#include "kernels_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

typedef struct v16 {
    __m256 lo, hi;
} v16;

static inline v16 v16_zero(void)
{
    return (v16){_mm256_setzero_ps(), _mm256_setzero_ps()};
}

static inline v16 v16_fma(v16 a, v16 b, v16 c)
{
    return (v16){_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}

static inline v16 v16_add(v16 a, v16 b)
{
    return (v16){_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)};
}

/* _mm512_reduce_add_ps: v[i]+v[i+8], then +[i+4], then (0+2)+(1+3). */
static inline float v16_reduce(v16 v)
{
    const __m256 a = _mm256_add_ps(v.lo, v.hi);
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

static inline v16 ld_f32(const uint8_t *p)
{
    return (v16){_mm256_loadu_ps((const float *)p), _mm256_loadu_ps((const float *)p + 8)};
}

static inline v16 ld_f16(const uint8_t *p)
{
    return (v16){_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)),
                 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)))};
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
    v16 s0 = v16_zero(), s1 = s0, s2 = s0, s3 = s0;                             \
    int64_t done = 0;                                                           \
    for (; done + 64 <= n; done += 64) {                                        \
        const uint8_t *xp = x + done * ES, *yp = y + done * ES;                 \
        s0 = v16_fma(LOAD(xp), LOAD(yp), s0);                                   \
        s1 = v16_fma(LOAD(xp + 16 * ES), LOAD(yp + 16 * ES), s1);               \
        s2 = v16_fma(LOAD(xp + 32 * ES), LOAD(yp + 32 * ES), s2);               \
        s3 = v16_fma(LOAD(xp + 48 * ES), LOAD(yp + 48 * ES), s3);               \
    }                                                                           \
    const float sum = v16_reduce(v16_add(v16_add(s0, s2), v16_add(s1, s3)))

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

/* 8 f16 at p (only the first k < 8 when k is short; the rest read 0). */
static inline __m256 ld_f16x8(const uint8_t *p, int64_t k)
{
    if (k >= 8)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    uint16_t h[8] = {0};
    memcpy(h, p, (size_t)k * 2);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
}

/* Eight rows' tails side by side: lane r of (lo, hi) is row r's double
 * sum, and each lane adds its products in order, as ggml's loop does. */
static void tails8_f16(__m256d acc[2], const uint8_t *x, size_t stride, const uint8_t *y,
                       int64_t n)
{
    for (int64_t i = 0; i < n; i += 8) {
        const int64_t k = n - i < 8 ? n - i : 8;
        const __m256 a = ld_f16x8(y + 2 * i, k);
        __m256 p[8];
        for (int r = 0; r < 8; r++)
            p[r] = _mm256_mul_ps(ld_f16x8(x + (size_t)r * stride + 2 * i, k), a);
        transpose8(p);
        for (int64_t c = 0; c < k; c++) {
            acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(p[c])));
            acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(p[c], 1)));
        }
    }
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
        for (int j = 0; j < 8 && tail_at > 0; j++) {
            const uint8_t *x = x0 + (size_t)j * stride;
            CHUNKS64(2, ld_f16);
            head[j] = sum;
        }
        __m256d acc[2] = {_mm256_cvtps_pd(_mm_loadu_ps(head)),
                          _mm256_cvtps_pd(_mm_loadu_ps(head + 4))};
        tails8_f16(acc, x0 + 2 * tail_at, stride, y + 2 * tail_at, n - tail_at);
        _mm_storeu_ps(out + r, _mm256_cvtpd_ps(acc[0]));
        _mm_storeu_ps(out + r + 4, _mm256_cvtpd_ps(acc[1]));
    }
    for (; r < rows; r++)
        out[r] = dot_f16(n, (const uint8_t *)w + (size_t)r * stride, a);
}

/* ---- ggml_vec_dot_f32 over many rows ----------------------------------------- */

/* 8 f32 at p (only the first k < 8 when k is short; the rest read 0). */
static inline __m256 ld_f32x8(const uint8_t *p, int64_t k)
{
    if (k >= 8)
        return _mm256_loadu_ps((const float *)p);
    float v[8] = {0};
    memcpy(v, p, (size_t)k * 4);
    return _mm256_loadu_ps(v);
}

#include "float_rows_impl.h"

/* ---- VDPBF16PS ------------------------------------------------------------ */

/* Denormals (exponent 0) to zeros of their sign: VDPBF16PS's DAZ on
 * inputs and FTZ on results. */
static inline __m256 flush(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i den = _mm256_cmpeq_epi32(
        _mm256_and_si256(u, _mm256_set1_epi32(0x7f800000)), _mm256_setzero_si256());
    const __m256i sign = _mm256_and_si256(u, _mm256_set1_epi32((int)0x80000000u));
    return _mm256_castsi256_ps(_mm256_blendv_epi8(u, sign, den));
}

/* acc (8 lanes) += the pair products of 16 bf16 at x and y, odd first. */
static inline __m256 dp_bf16x8(__m256 acc, const uint8_t *x, const uint8_t *y)
{
    const __m256i u = _mm256_loadu_si256((const __m256i *)x);
    const __m256i v = _mm256_loadu_si256((const __m256i *)y);
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    const __m256 xo = flush(_mm256_castsi256_ps(_mm256_and_si256(u, hi)));
    const __m256 yo = flush(_mm256_castsi256_ps(_mm256_and_si256(v, hi)));
    const __m256 xe = flush(_mm256_castsi256_ps(_mm256_slli_epi32(u, 16)));
    const __m256 ye = flush(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    acc = flush(_mm256_fmadd_ps(xo, yo, acc));
    return flush(_mm256_fmadd_ps(xe, ye, acc));
}

/* One VDPBF16PS on 16 lanes: 32 bf16 at x and y. */
static inline v16 dp_bf16(v16 acc, const uint8_t *x, const uint8_t *y)
{
    return (v16){dp_bf16x8(acc.lo, x, y), dp_bf16x8(acc.hi, x + 32, y + 32)};
}

static float dot_bf16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    v16 c1 = v16_zero(), c2 = c1;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        c1 = dp_bf16(c1, x + 2 * i, y + 2 * i);
        c2 = dp_bf16(c2, x + 2 * i + 64, y + 2 * i + 64);
    }
    double sum = 0.0;
    sum += v16_reduce(c1);
    sum += v16_reduce(c2);
    for (; i < n; i++)
        sum += (double)(bf16_at(x + 2 * i) * bf16_at(y + 2 * i));
    return (float)sum;
}

/* ---- llamafile tinyBLAS: one accumulator --------------------------------- */

static float gemm_f32(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    v16 acc = v16_zero();
    for (int64_t i = 0; i < n; i += 16)
        acc = v16_fma(ld_f32(x + 4 * i), ld_f32(y + 4 * i), acc);
    return v16_reduce(acc);
}

static float gemm_f16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    v16 acc = v16_zero();
    for (int64_t i = 0; i < n; i += 16)
        acc = v16_fma(ld_f16(x + 2 * i), ld_f16(y + 2 * i), acc);
    return v16_reduce(acc);
}

static float gemm_bf16(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    v16 acc = v16_zero();
    for (int64_t i = 0; i < n; i += 32)
        acc = dp_bf16(acc, x + 2 * i, y + 2 * i);
    return v16_reduce(acc);
}

/* ---- exp, softmax, silu ---------------------------------------------------- */

static inline __m256 pow2i(__m256i k)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

/* VSCALEFPS for integral |n| <= 192: j * 2^(n/2) is exact, the second
 * factor rounds once (lanes out of range are replaced by the caller). */
static inline __m256 scalef(__m256 j, __m256 n)
{
    const __m256i k = _mm256_cvtps_epi32(n);
    const __m256i k1 = _mm256_srai_epi32(k, 1);
    return _mm256_mul_ps(_mm256_mul_ps(j, pow2i(k1)), pow2i(_mm256_sub_epi32(k, k1)));
}

/* ggml_v_expf (AVX-512's) on 8 lanes. */
static inline __m256 v_expf(__m256 x)
{
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(192), _CMP_GT_OQ);
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b,
                                        _mm256_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b,
                                        _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    const __m256 res = scalef(j, n);
    if (!_mm256_movemask_ps(big))
        return res;
    const __m256 neg = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ);
    const __m256 sat = _mm256_blendv_ps(_mm256_set1_ps(INFINITY), _mm256_setzero_ps(), neg);
    return _mm256_blendv_ps(res, sat, big);
}

static double exp_sum(float *y, const float *x, float max, int64_t n)
{
    const __m256 m = _mm256_set1_ps(max);
    double sum = 0.0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const v16 v = {v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i), m)),
                       v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m))};
        _mm256_storeu_ps(y + i, v.lo);
        _mm256_storeu_ps(y + i + 8, v.hi);
        sum += v16_reduce(v);
    }
    for (; i < n; i++) {
        y[i] = expf(x[i] - max);
        sum += y[i];
    }
    return sum;
}

static inline __m256 silu8(__m256 v)
{
    const __m256 e = v_expf(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* ggml takes whole chunks of 16 through v_expf and the rest through
 * expf; lanes are independent, so 8 at a time over the chunks is the same. */
static void silu(float *y, const float *x, int64_t n)
{
    const int64_t nv = n & ~(int64_t)15;
    int64_t i = 0;
    for (; i < nv; i += 8)
        _mm256_storeu_ps(y + i, silu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

/* ---- activation converters ------------------------------------------------ */

static void quant_f16(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(out + 2 * i), h);
    }
    for (; i < n; i++) {
        const uint16_t h = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
        memcpy(out + 2 * i, &h, sizeof h);
    }
}

/* ggml's GGML_FP32_TO_BF16 on 8 lanes: NaN truncated and made quiet,
 * the rest rounded to nearest even. Returns 8 u16 values. */
static inline __m128i bf16x8(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i top = _mm256_srli_epi32(u, 16);
    const __m256i is_nan = _mm256_cmpgt_epi32(
        _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    const __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                          _mm256_and_si256(top, _mm256_set1_epi32(1)));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    const __m256i nan = _mm256_or_si256(top, _mm256_set1_epi32(64));
    const __m256i r = _mm256_blendv_epi8(rounded, nan, is_nan);
    /* Every lane is below 2^16, so the saturating pack is exact. */
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

static void quant_bf16(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + 2 * i), bf16x8(_mm256_loadu_ps(src + i)));
    for (; i < n; i++) {
        const lp_bf16 h = lp_f32_to_bf16(src[i]);
        memcpy(out + 2 * i, &h, sizeof h);
    }
}

void lp_avx2_fill_float(lp_kernels *k)
{
    k->dot[LP_TYPE_F32] = dot_f32;
    k->dot[LP_TYPE_F16] = dot_f16;
    k->dot[LP_TYPE_BF16] = dot_bf16;
    k->dot_gemm[LP_TYPE_F32] = gemm_f32;
    k->dot_gemm[LP_TYPE_F16] = gemm_f16;
    k->dot_gemm[LP_TYPE_BF16] = gemm_bf16;
    k->dot_rows[LP_TYPE_F32] = dot_rows_f32;
    k->dot_rows[LP_TYPE_F16] = dot_rows_f16;
    k->exp_sum = exp_sum;
    k->silu = silu;
    k->quantize[LP_TYPE_F16] = quant_f16;
    k->quantize[LP_TYPE_BF16] = quant_bf16;
}

#else

void lp_avx2_fill_float(lp_kernels *k)
{
    (void)k;
}

#endif
