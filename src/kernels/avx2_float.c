/* avx2_float.c — AVX2+FMA+F16C dots of F32, F16 and BF16 rows, and the
 * F16 / BF16 activation converters.
 *
 * Dots keep four independent accumulators so the FMA latency is hidden;
 * rows of any length work (these types have a block size of 1), the last
 * n % 8 elements go through scalar code. The converters produce exactly
 * lp_f32_to_f16 / lp_f32_to_bf16 bits. */
#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx2_util.h"

/* Widening loads: 8 elements of each type to f32. */
static inline __m256 ld_f32x8(const uint8_t *p)
{
    return _mm256_loadu_ps((const float *)p);
}

static inline __m256 ld_f16x8(const uint8_t *p)
{
    return _mm256_cvtph_ps(lp_ld128(p));
}

static inline __m256 ld_bf16x8(const uint8_t *p)
{
    /* bf16 is the top half of an f32. */
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(lp_ld128(p)), 16));
}

static inline float ld_bf16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* One dot function per type; ES is the element size in bytes. */
#define FLOAT_DOT(name, ES, LOAD8, LOAD1)                                    \
    static float name(int64_t n, const void *w, const void *a)              \
    {                                                                        \
        const uint8_t *x = w, *y = a;                                        \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;          \
        int64_t i = 0;                                                       \
        for (; i + 32 <= n; i += 32) {                                       \
            const uint8_t *xp = x + i * ES, *yp = y + i * ES;                \
            s0 = _mm256_fmadd_ps(LOAD8(xp), LOAD8(yp), s0);                  \
            s1 = _mm256_fmadd_ps(LOAD8(xp + 8 * ES), LOAD8(yp + 8 * ES), s1);   \
            s2 = _mm256_fmadd_ps(LOAD8(xp + 16 * ES), LOAD8(yp + 16 * ES), s2); \
            s3 = _mm256_fmadd_ps(LOAD8(xp + 24 * ES), LOAD8(yp + 24 * ES), s3); \
        }                                                                    \
        for (; i + 8 <= n; i += 8)                                           \
            s0 = _mm256_fmadd_ps(LOAD8(x + i * ES), LOAD8(y + i * ES), s0);  \
        float sum = lp_hsum_ps256(_mm256_add_ps(_mm256_add_ps(s0, s1),       \
                                                _mm256_add_ps(s2, s3)));     \
        for (; i < n; i++)                                                   \
            sum += LOAD1(x + i * ES) * LOAD1(y + i * ES);                    \
        return sum;                                                          \
    }

FLOAT_DOT(dot_f32, 4, ld_f32x8, lp_ld_f32)
FLOAT_DOT(dot_f16, 2, ld_f16x8, lp_ld_f16)
FLOAT_DOT(dot_bf16, 2, ld_bf16x8, ld_bf16)

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
    k->quantize[LP_TYPE_F16] = quant_f16;
    k->quantize[LP_TYPE_BF16] = quant_bf16;
}

#else

void lp_avx2_fill_float(lp_kernels *k)
{
    (void)k;
}

#endif
