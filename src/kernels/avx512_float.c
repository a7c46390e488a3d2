/* avx512_float.c — AVX-512 dots of F32, F16 and BF16 rows.
 *
 * Sixteen lanes, four independent accumulators; the last n % 16 elements
 * use a masked load (masked-off lanes are neither read nor faulted on),
 * so there is no scalar tail. F16 widens with VCVTPH2PS (exact), BF16 by
 * a shift into the top half of an f32 (exact). The activation converters
 * stay AVX2's: they run once per row, the dots once per weight row. */
#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx512_util.h"

static inline __m512 ld_f32x16(const uint8_t *p, __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, p);
}

static inline __m512 ld_f16x16(const uint8_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 ld_bf16x16(const uint8_t *p, __mmask16 m)
{
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

#define ALL16 ((__mmask16)0xffff)

/* ES: element size in bytes. */
#define FLOAT_DOT(name, ES, LOAD)                                             \
    static float name(int64_t n, const void *w, const void *a)               \
    {                                                                         \
        const uint8_t *x = w, *y = a;                                         \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;           \
        int64_t i = 0;                                                        \
        for (; i + 64 <= n; i += 64) {                                        \
            const uint8_t *xp = x + i * ES, *yp = y + i * ES;                 \
            s0 = _mm512_fmadd_ps(LOAD(xp, ALL16), LOAD(yp, ALL16), s0);       \
            s1 = _mm512_fmadd_ps(LOAD(xp + 16 * ES, ALL16), LOAD(yp + 16 * ES, ALL16), s1); \
            s2 = _mm512_fmadd_ps(LOAD(xp + 32 * ES, ALL16), LOAD(yp + 32 * ES, ALL16), s2); \
            s3 = _mm512_fmadd_ps(LOAD(xp + 48 * ES, ALL16), LOAD(yp + 48 * ES, ALL16), s3); \
        }                                                                     \
        for (; i + 16 <= n; i += 16)                                          \
            s0 = _mm512_fmadd_ps(LOAD(x + i * ES, ALL16), LOAD(y + i * ES, ALL16), s0); \
        if (i < n) {                                                          \
            const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);             \
            s1 = _mm512_fmadd_ps(LOAD(x + i * ES, m), LOAD(y + i * ES, m), s1); \
        }                                                                     \
        return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),      \
                                                  _mm512_add_ps(s2, s3)));    \
    }

FLOAT_DOT(dot_f32, 4, ld_f32x16)
FLOAT_DOT(dot_f16, 2, ld_f16x16)
FLOAT_DOT(dot_bf16, 2, ld_bf16x16)

void lp_avx512_fill_float(lp_kernels *k)
{
    k->dot[LP_TYPE_F32] = dot_f32;
    k->dot[LP_TYPE_F16] = dot_f16;
    k->dot[LP_TYPE_BF16] = dot_bf16;
}

#else

void lp_avx512_fill_float(lp_kernels *k)
{
    (void)k;
}

#endif
