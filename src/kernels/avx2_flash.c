/* avx2_flash.c — flash attention's V accumulation with F16C and 256-bit
 * FMA: the same element-wise formulas as scalar_flash.c, 8 lanes at a
 * time, the accumulator in memory from position to position. */
#include "flash.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline __m256 ld8_f16(const void *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline void st8_f16(lp_half *p, __m256 x)
{
    _mm_storeu_si128((__m128i *)(void *)p, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

static inline float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

static inline float r16(float x)
{
    return _cvtsh_ss((uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}

/* One position of one head. */
static void step16(int d, lp_half *a, const uint8_t *v, float ms, float vs)
{
    const int d8 = d & ~7;
    const __m256 m = _mm256_set1_ps(ms), w = _mm256_set1_ps(vs);
    for (int i = 0; i < d8; i += 8) {
        __m256 x = ld8_f16(a + i);
        if (ms != 1.0f)
            x = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(x, m), _MM_FROUND_TO_NEAREST_INT));
        st8_f16(a + i, _mm256_fmadd_ps(ld8_f16(v + 2 * i), w, x));
    }
    for (int i = d8; i < d; i++) {
        float x = _cvtsh_ss(a[i]);
        if (ms != 1.0f)
            x = r16(x * ms);
        a[i] = (lp_half)_cvtss_sh(fmaf(f16_at(v + 2 * i), vs, x), _MM_FROUND_TO_NEAREST_INT);
    }
}

static void v16(int d, int g, int n, const uint8_t *v, size_t v_stride, const float *ms,
                const float *vs, lp_half *acc)
{
    for (int j = 0; j < n; j++, v += v_stride, ms += g, vs += g)
        for (int h = 0; h < g; h++)
            step16(d, acc + (size_t)h * d, v, ms[h], vs[h]);
}

/* 8 values of a q8_0 block from quant k on, times the block's scale. */
static inline __m256 ld8_q8(const uint8_t *blk, int k)
{
    const __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(blk + 2 + k));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_set1_ps(f16_at(blk)));
}

static void vq8(int d, int g, int n, const uint8_t *v, size_t v_stride, const float *ms,
                const float *vs, float *acc)
{
    for (int j = 0; j < n; j++, v += v_stride, ms += g, vs += g)
        for (int h = 0; h < g; h++) {
            float *a = acc + (size_t)h * d;
            const __m256 m = _mm256_set1_ps(ms[h]), w = _mm256_set1_ps(vs[h]);
            for (int i = 0; i < d; i += 8) {
                __m256 x = _mm256_loadu_ps(a + i);
                if (ms[h] != 1.0f)
                    x = _mm256_mul_ps(x, m);
                const uint8_t *blk = v + (size_t)(i / LP_QK8_0) * sizeof(lp_block_q8_0);
                _mm256_storeu_ps(a + i, _mm256_fmadd_ps(ld8_q8(blk, i % LP_QK8_0), w, x));
            }
        }
}

/* glibc's expf on 4 lanes (flash.h). */
static __m128 expf4(__m128 x)
{
    const __m256d xd = _mm256_cvtps_pd(x), inv = _mm256_set1_pd(LP_EXPF_INVLN2N);
    const __m256d shift = _mm256_set1_pd(LP_EXPF_SHIFT);
    const __m256d kd = _mm256_fmadd_pd(inv, xd, shift);
    const __m256i ki = _mm256_castpd_si256(kd);
    const __m256d r = _mm256_fmsub_pd(inv, xd, _mm256_sub_pd(kd, shift));
    const __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    const __m256i t = _mm256_add_epi64(
        _mm256_i64gather_epi64((const long long *)(const void *)lp_expf_tab, idx, 8),
        _mm256_slli_epi64(ki, 47));
    const __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(LP_EXPF_C0), r, _mm256_set1_pd(LP_EXPF_C1));
    const __m256d y1 = _mm256_fmadd_pd(r, _mm256_set1_pd(LP_EXPF_C2), _mm256_set1_pd(1.0));
    const __m256d y = _mm256_fmadd_pd(z, _mm256_mul_pd(r, r), y1);
    return _mm256_cvtpd_ps(_mm256_mul_pd(y, _mm256_castsi256_pd(t)));
}

static void exp_n(const float *x, float *y, int n)
{
    const __m128i top = _mm_set1_epi32(LP_EXPF_SPECIAL_TOP - 1);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m128 v = _mm_loadu_ps(x + i);
        const __m128i t = _mm_and_si128(_mm_srli_epi32(_mm_castps_si128(v), 20),
                                        _mm_set1_epi32(0x7ff));
        _mm_storeu_ps(y + i, expf4(v));
        const __m128i big = _mm_cmpgt_epi32(t, top);
        const unsigned special = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(big));
        for (int k = 0; special && k < 4; k++)
            if (special >> k & 1)
                y[i + k] = expf(x[i + k]);
    }
    for (; i < n; i++)
        y[i] = expf(x[i]);
}

static void f16_to_f32(const lp_half *x, float *y, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, ld8_f16(x + i));
    for (; i < n; i++)
        y[i] = _cvtsh_ss(x[i]);
}

void lp_flash_fill_avx2(lp_flash_kernels *f)
{
    f->v16 = v16;
    f->vq8 = vq8;
    f->exp = exp_n;
    f->f16_to_f32 = f16_to_f32;
}

#else

void lp_flash_fill_avx2(lp_flash_kernels *f)
{
    (void)f;
}

#endif
