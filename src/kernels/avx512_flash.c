/* avx512_flash.c — flash attention's steps with 512-bit vectors (ggml's
 * own AVX-512 build converts f16 the same way: VCVTPH2PS, then VCVTPS2PH
 * rounding to nearest even). Element-wise, so the bits equal
 * scalar_flash.c's; a row's tail goes through masked loads and stores. */
#include "flash.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

static inline __mmask16 tail_mask(int left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static inline __m512 ld16_f16(const lp_half *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline void st16_f16(lp_half *p, __m512 x, __mmask16 m)
{
    _mm256_mask_storeu_epi16(p, m, _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

static void acc16(int d, int g, lp_half *acc, const lp_half *v, const float *ms, const float *vs)
{
    for (int i = 0; i < d; i += 16) {
        const __mmask16 k = tail_mask(d - i);
        const __m512 x = ld16_f16(v + i, k);
        for (int h = 0; h < g; h++) {
            lp_half *a = acc + (size_t)h * d + i;
            __m512 y = ld16_f16(a, k);
            if (ms[h] != 1.0f)
                y = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(y, _mm512_set1_ps(ms[h])),
                                                    _MM_FROUND_TO_NEAREST_INT));
            st16_f16(a, _mm512_fmadd_ps(x, _mm512_set1_ps(vs[h]), y), k);
        }
    }
}

static void acc32(int d, int g, float *acc, const float *v, const float *ms, const float *vs)
{
    for (int i = 0; i < d; i += 16) {
        const __mmask16 k = tail_mask(d - i);
        const __m512 x = _mm512_maskz_loadu_ps(k, v + i);
        for (int h = 0; h < g; h++) {
            float *a = acc + (size_t)h * d + i;
            __m512 y = _mm512_maskz_loadu_ps(k, a);
            if (ms[h] != 1.0f)
                y = _mm512_mul_ps(y, _mm512_set1_ps(ms[h]));
            _mm512_mask_storeu_ps(a, k, _mm512_fmadd_ps(x, _mm512_set1_ps(vs[h]), y));
        }
    }
}

static void deq_q8_0(const void *row, float *out, int d)
{
    const uint8_t *p = row;
    for (int b = 0; b < d / LP_QK8_0; b++, p += sizeof(lp_block_q8_0)) {
        uint16_t h;
        memcpy(&h, p, sizeof h);
        const __m512 s = _mm512_set1_ps(_cvtsh_ss(h));
        for (int j = 0; j < LP_QK8_0; j += 16) {
            const __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 + j));
            _mm512_storeu_ps(out + b * LP_QK8_0 + j,
                             _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), s));
        }
    }
}

void lp_flash_fill_avx512(lp_flash_kernels *f)
{
    f->acc16 = acc16;
    f->acc32 = acc32;
    f->deq_q8_0 = deq_q8_0;
}

#else

void lp_flash_fill_avx512(lp_flash_kernels *f)
{
    (void)f;
}

#endif
