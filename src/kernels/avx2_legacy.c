/* avx2_legacy.c — AVX2 dots of the 32-element block formats: Q4_0, Q5_0
 * and Q8_0 against Q8_0 activations, Q4_1 and Q5_1 against Q8_1.
 *
 * Each block's integer dot is exact in i32 lanes; lanes are scaled by the
 * block's f32 scale product and summed in f32, which is the only place the
 * result can differ from the scalar reference (rounding order).
 *
 * Offset formats (Q4_0: q-8, Q5_0: q-16) are done as u8 dots minus
 * offset*sum(a): two maddubs on unsigned weights are cheaper than making
 * the weights signed and moving their signs onto the activations. */
#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx2_util.h"

#define Q4_0_SZ sizeof(lp_block_q4_0)
#define Q4_1_SZ sizeof(lp_block_q4_1)
#define Q5_0_SZ sizeof(lp_block_q5_0)
#define Q5_1_SZ sizeof(lp_block_q5_1)
#define Q8_0_SZ sizeof(lp_block_q8_0)
#define Q8_1_SZ sizeof(lp_block_q8_1)

/* sum((u - off) * a) per four lanes, u in 0..31, off a byte constant. The
 * i16 difference is exact: |u*a pair| <= 7874, |off*a pair| <= 4064. */
static inline __m256i dot_offset(__m256i u, __m256i off, __m256i a)
{
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, a), _mm256_maddubs_epi16(off, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* 5-bit weights: nibbles plus 16 where the qh bit is set. */
static inline __m256i q5_weights(const uint8_t *qs, const uint8_t *qh)
{
    return _mm256_or_si256(lp_nibbles32(qs),
                           _mm256_and_si256(lp_bits32(qh), _mm256_set1_epi8(0x10)));
}

static inline __m256 scale2(const uint8_t *x, const uint8_t *y)
{
    return _mm256_set1_ps(lp_ld_f16(x) * lp_ld_f16(y));
}

static float dot_q4_0(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m256i off = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    const int64_t nb = n / LP_QK4_0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const uint8_t *x0 = x + i * Q4_0_SZ, *y0 = y + i * Q8_0_SZ;
        const uint8_t *x1 = x0 + Q4_0_SZ, *y1 = y0 + Q8_0_SZ;
        const __m256i p0 = dot_offset(lp_nibbles32(x0 + 2), off, lp_ld256(y0 + 2));
        const __m256i p1 = dot_offset(lp_nibbles32(x1 + 2), off, lp_ld256(y1 + 2));
        acc0 = _mm256_fmadd_ps(scale2(x0, y0), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(scale2(x1, y1), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        const uint8_t *x0 = x + i * Q4_0_SZ, *y0 = y + i * Q8_0_SZ;
        const __m256i p0 = dot_offset(lp_nibbles32(x0 + 2), off, lp_ld256(y0 + 2));
        acc0 = _mm256_fmadd_ps(scale2(x0, y0), _mm256_cvtepi32_ps(p0), acc0);
    }
    return lp_hsum_ps256(_mm256_add_ps(acc0, acc1));
}

static float dot_q5_0(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m256i off = _mm256_set1_epi8(16);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    const int64_t nb = n / LP_QK5_0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const uint8_t *x0 = x + i * Q5_0_SZ, *y0 = y + i * Q8_0_SZ;
        const uint8_t *x1 = x0 + Q5_0_SZ, *y1 = y0 + Q8_0_SZ;
        const __m256i p0 = dot_offset(q5_weights(x0 + 6, x0 + 2), off, lp_ld256(y0 + 2));
        const __m256i p1 = dot_offset(q5_weights(x1 + 6, x1 + 2), off, lp_ld256(y1 + 2));
        acc0 = _mm256_fmadd_ps(scale2(x0, y0), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(scale2(x1, y1), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        const uint8_t *x0 = x + i * Q5_0_SZ, *y0 = y + i * Q8_0_SZ;
        const __m256i p0 = dot_offset(q5_weights(x0 + 6, x0 + 2), off, lp_ld256(y0 + 2));
        acc0 = _mm256_fmadd_ps(scale2(x0, y0), _mm256_cvtepi32_ps(p0), acc0);
    }
    return lp_hsum_ps256(_mm256_add_ps(acc0, acc1));
}

static float dot_q8_0(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    const int64_t nb = n / LP_QK8_0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const uint8_t *x0 = x + i * Q8_0_SZ, *y0 = y + i * Q8_0_SZ;
        const uint8_t *x1 = x0 + Q8_0_SZ, *y1 = y0 + Q8_0_SZ;
        const __m256i p0 = lp_dot_s8s8(lp_ld256(x0 + 2), lp_ld256(y0 + 2));
        const __m256i p1 = lp_dot_s8s8(lp_ld256(x1 + 2), lp_ld256(y1 + 2));
        acc0 = _mm256_fmadd_ps(scale2(x0, y0), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(scale2(x1, y1), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        const uint8_t *x0 = x + i * Q8_0_SZ, *y0 = y + i * Q8_0_SZ;
        const __m256i p0 = lp_dot_s8s8(lp_ld256(x0 + 2), lp_ld256(y0 + 2));
        acc0 = _mm256_fmadd_ps(scale2(x0, y0), _mm256_cvtepi32_ps(p0), acc0);
    }
    return lp_hsum_ps256(_mm256_add_ps(acc0, acc1));
}

/* Q4_1/Q5_1 · Q8_1: d_x*d_y*sum(q*a) + m_x*s_y, where s_y = d_y*sum(a)
 * was stored by the quantizer. QS and QH are the weight field offsets
 * (QH < 0: no high bits). */
static inline float dot_min_form(int64_t nb, const uint8_t *x, const uint8_t *y,
                                 size_t bsz, size_t qs, int qh)
{
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < nb; i++, x += bsz, y += Q8_1_SZ) {
        __m256i q = lp_nibbles32(x + qs);
        if (qh >= 0)
            q = _mm256_or_si256(q, _mm256_and_si256(lp_bits32(x + qh), _mm256_set1_epi8(0x10)));
        const __m256i p = lp_dot_u8s8(q, lp_ld256(y + 4));
        const float dx = lp_ld_f16(x), dy = lp_ld_f16(y);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dx * dy), _mm256_cvtepi32_ps(p), acc);
        mins += lp_ld_f16(x + 2) * lp_ld_f16(y + 2);
    }
    return lp_hsum_ps256(acc) + mins;
}

static float dot_q4_1(int64_t n, const void *w, const void *a)
{
    return dot_min_form(n / LP_QK4_1, w, a, Q4_1_SZ, offsetof(lp_block_q4_1, qs), -1);
}

static float dot_q5_1(int64_t n, const void *w, const void *a)
{
    return dot_min_form(n / LP_QK5_1, w, a, Q5_1_SZ, offsetof(lp_block_q5_1, qs),
                        (int)offsetof(lp_block_q5_1, qh));
}

void lp_avx2_fill_legacy(lp_kernels *k)
{
    k->dot[LP_TYPE_Q4_0] = dot_q4_0;
    k->dot[LP_TYPE_Q4_1] = dot_q4_1;
    k->dot[LP_TYPE_Q5_0] = dot_q5_0;
    k->dot[LP_TYPE_Q5_1] = dot_q5_1;
    k->dot[LP_TYPE_Q8_0] = dot_q8_0;
}

#else

void lp_avx2_fill_legacy(lp_kernels *k)
{
    (void)k;
}

#endif
