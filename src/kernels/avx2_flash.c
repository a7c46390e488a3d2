/* avx2_flash.c — flash attention's steps with F16C and 256-bit FMA: the
 * same element-wise formulas as scalar_flash.c, 8 lanes at a time. */
#include "flash.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline __m256 ld8_f16(const lp_half *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline void st8_f16(lp_half *p, __m256 x)
{
    _mm_storeu_si128((__m128i *)(void *)p, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

static inline lp_half r16(float x)
{
    return (lp_half)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
}

static void acc16(int d, int g, lp_half *acc, const lp_half *v, const float *ms, const float *vs)
{
    const int d8 = d & ~7;
    for (int h = 0; h < g; h++) {
        lp_half *a = acc + (size_t)h * d;
        const bool scale = ms[h] != 1.0f;
        const __m256 m = _mm256_set1_ps(ms[h]), w = _mm256_set1_ps(vs[h]);
        for (int i = 0; i < d8; i += 8) {
            __m256 x = ld8_f16(a + i);
            if (scale)
                x = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(x, m), _MM_FROUND_TO_NEAREST_INT));
            st8_f16(a + i, _mm256_fmadd_ps(ld8_f16(v + i), w, x));
        }
        for (int i = d8; i < d; i++) {
            float x = _cvtsh_ss(a[i]);
            if (scale)
                x = _cvtsh_ss(r16(x * ms[h]));
            a[i] = r16(fmaf(_cvtsh_ss(v[i]), vs[h], x));
        }
    }
}

static void acc32(int d, int g, float *acc, const float *v, const float *ms, const float *vs)
{
    for (int h = 0; h < g; h++) {
        float *a = acc + (size_t)h * d;
        const bool scale = ms[h] != 1.0f;
        const __m256 m = _mm256_set1_ps(ms[h]), w = _mm256_set1_ps(vs[h]);
        int i = 0;
        for (; i + 8 <= d; i += 8) {
            __m256 x = _mm256_loadu_ps(a + i);
            if (scale)
                x = _mm256_mul_ps(x, m);
            _mm256_storeu_ps(a + i, _mm256_fmadd_ps(_mm256_loadu_ps(v + i), w, x));
        }
        for (; i < d; i++)
            a[i] = fmaf(v[i], vs[h], scale ? a[i] * ms[h] : a[i]);
    }
}

static void deq_q8_0(const void *row, float *out, int d)
{
    const uint8_t *p = row;
    for (int b = 0; b < d / LP_QK8_0; b++, p += sizeof(lp_block_q8_0)) {
        uint16_t h;
        memcpy(&h, p, sizeof h);
        const __m256 s = _mm256_set1_ps(_cvtsh_ss(h));
        for (int j = 0; j < LP_QK8_0; j += 8) {
            const __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(p + 2 + j));
            _mm256_storeu_ps(out + b * LP_QK8_0 + j,
                             _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), s));
        }
    }
}

void lp_flash_fill_avx2(lp_flash_kernels *f)
{
    f->acc16 = acc16;
    f->acc32 = acc32;
    f->deq_q8_0 = deq_q8_0;
}

#else

void lp_flash_fill_avx2(lp_flash_kernels *f)
{
    (void)f;
}

#endif
