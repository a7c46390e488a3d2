/* avx2_legacy.c — AVX2 dots of the 32-element block formats: Q4_0, Q5_0
 * and Q8_0 against Q8_0 activations, Q4_1 and Q5_1 against Q8_1.
 *
 * Bit-exact with ggml's x86 kernels (scalar_qdot.c states the order): each
 * block's integer dot in eight i32 lanes (lane l: values 4l..4l+3), then
 * acc = fma(dx*dy, lanes, acc) with ONE accumulator in block order, and
 * for Q4_1/Q5_1 a scalar fma chain of m*s. That chain of FMAs (4 cycles
 * each) bounds the speed of one row; splitting it would change the
 * rounding. Four blocks per iteration share one VCVTPH2PS for their
 * eight f16 scales.
 *
 * Offset formats (Q4_0: q-8, Q5_0: q-16) are done as u8 dots minus
 * offset*sum(a): two maddubs on unsigned weights are cheaper than making
 * the weights signed and moving their signs onto the activations.
 *
 * Layouts (ggml): Q4_0 {d; qs[16]}, Q5_0 {d; qh[4]; qs[16]}, Q4_1 {d, m;
 * qs[16]}, Q5_1 {d, m; qh[4]; qs[16]}, Q8_0 {d; qs[32]}, Q8_1 {d, s;
 * qs[32]}. Low nibbles are values 0..15, high nibbles 16..31; bit j of
 * qh is value j's fifth bit. */
#include "kernels_impl.h"
#include "q4_0x8.h"

#if defined(__x86_64__)

#include "avx2_util.h"

typedef enum { FMT_Q4_0, FMT_Q5_0, FMT_Q8_0, FMT_Q4_1, FMT_Q5_1 } legacy_fmt;

static inline size_t w_size(legacy_fmt f)
{
    switch (f) {
    case FMT_Q4_0: return sizeof(lp_block_q4_0);
    case FMT_Q5_0: return sizeof(lp_block_q5_0);
    case FMT_Q8_0: return sizeof(lp_block_q8_0);
    case FMT_Q4_1: return sizeof(lp_block_q4_1);
    default: return sizeof(lp_block_q5_1);
    }
}

static inline bool has_min(legacy_fmt f)
{
    return f == FMT_Q4_1 || f == FMT_Q5_1;
}

static inline size_t qs_off(legacy_fmt f)
{
    switch (f) {
    case FMT_Q4_0: return offsetof(lp_block_q4_0, qs);
    case FMT_Q5_0: return offsetof(lp_block_q5_0, qs);
    case FMT_Q8_0: return offsetof(lp_block_q8_0, qs);
    case FMT_Q4_1: return offsetof(lp_block_q4_1, qs);
    default: return offsetof(lp_block_q5_1, qs);
    }
}

static inline size_t a_size(legacy_fmt f)
{
    return has_min(f) ? sizeof(lp_block_q8_1) : sizeof(lp_block_q8_0);
}

/* sum((u - off) * a) per four lanes, u in 0..31. The i16 difference is
 * exact: |u*a pair| <= 7874, |off*a pair| <= 4064. */
static inline __m256i dot_offset(__m256i u, int off, __m256i a)
{
    const __m256i o = _mm256_set1_epi8((char)off);
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, a), _mm256_maddubs_epi16(o, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* The exact integer dot of one block, in eight i32 lanes. */
static inline __m256i block_dot(legacy_fmt f, const uint8_t *x, const uint8_t *y)
{
    const __m256i a = lp_ld256(y + (has_min(f) ? offsetof(lp_block_q8_1, qs)
                                               : offsetof(lp_block_q8_0, qs)));
    if (f == FMT_Q8_0)
        return lp_dot_s8s8(lp_ld256(x + qs_off(f)), a);
    __m256i u = lp_nibbles32(x + qs_off(f));
    if (f == FMT_Q5_0 || f == FMT_Q5_1) {
        const size_t qh = f == FMT_Q5_0 ? offsetof(lp_block_q5_0, qh) : offsetof(lp_block_q5_1, qh);
        u = _mm256_or_si256(u, _mm256_and_si256(lp_bits32(x + qh), _mm256_set1_epi8(0x10)));
    }
    switch (f) {
    case FMT_Q4_0: return dot_offset(u, 8, a);
    case FMT_Q5_0: return dot_offset(u, 16, a);
    default: return lp_dot_u8s8(u, a);
    }
}

static inline float dot_legacy(legacy_fmt f, int64_t n, const uint8_t *x, const uint8_t *y)
{
    const size_t bx = w_size(f), by = a_size(f);
    const int64_t nb = n / 32;
    __m256 acc = _mm256_setzero_ps();
    __m128 summs = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4, x += 4 * bx, y += 4 * by) {
        /* Even lanes dx*dy; odd lanes of xp, yp: m and s (or, for formats
         * without them, the first quant bytes, unused). */
        const __m256 xp = lp_f16_pairs4(x, bx), yp = lp_f16_pairs4(y, by);
        const __m256 d = _mm256_mul_ps(xp, yp);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256 p = _mm256_cvtepi32_ps(block_dot(f, x + j * bx, y + j * by));
            acc = _mm256_fmadd_ps(lp_splat8(d, 2 * j), p, acc);
            if (has_min(f))
                summs = _mm_fmadd_ss(_mm256_castps256_ps128(lp_splat8(xp, 2 * j + 1)),
                                     _mm256_castps256_ps128(lp_splat8(yp, 2 * j + 1)), summs);
        }
    }
    for (; i < nb; i++, x += bx, y += by) {
        const __m256 d = _mm256_set1_ps(lp_ld_f16(x) * lp_ld_f16(y));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(block_dot(f, x, y)), acc);
        /* x.m follows x.d, y.s follows y.d. */
        if (has_min(f))
            summs = _mm_fmadd_ss(_mm_set_ss(lp_ld_f16(x + 2)), _mm_set_ss(lp_ld_f16(y + 2)), summs);
    }
    const float sum = lp_hsum_ps256(acc);
    return has_min(f) ? sum + _mm_cvtss_f32(summs) : sum;
}

static float dot_q4_0(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q4_0, n, w, a);
}

static float dot_q5_0(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q5_0, n, w, a);
}

static float dot_q8_0(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q8_0, n, w, a);
}

static float dot_q4_1(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q4_1, n, w, a);
}

static float dot_q5_1(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q5_1, n, w, a);
}

/* Q4_0 in the order of llama.cpp's repacked weights (q4_0x8.h): the
 * block totals of four blocks come out of one hadd tree, then four
 * scalar FMAs continue the chain. */
float lp_q4_0x8_dot_avx2(int64_t n, const void *w, const void *a)
{
    const size_t bx = sizeof(lp_block_q4_0), by = sizeof(lp_block_q8_0);
    const uint8_t *x = w, *y = a;
    const int64_t nb = n / 32;
    __m128 r = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4, x += 4 * bx, y += 4 * by) {
        const __m256 dp = _mm256_mul_ps(lp_f16_pairs4(x, bx), lp_f16_pairs4(y, by));
        const __m128 d = _mm256_castps256_ps128(
            _mm256_permutevar8x32_ps(dp, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
        const __m256i t01 = _mm256_hadd_epi32(block_dot(FMT_Q4_0, x, y),
                                              block_dot(FMT_Q4_0, x + bx, y + by));
        const __m256i t23 = _mm256_hadd_epi32(block_dot(FMT_Q4_0, x + 2 * bx, y + 2 * by),
                                              block_dot(FMT_Q4_0, x + 3 * bx, y + 3 * by));
        const __m256i t = _mm256_hadd_epi32(t01, t23);
        const __m128 s = _mm_cvtepi32_ps(_mm_add_epi32(_mm256_castsi256_si128(t),
                                                       _mm256_extracti128_si256(t, 1)));
        /* Lanes 0, 1, 2, 3 of s and d in turn. */
        r = _mm_fmadd_ss(s, d, r);
        r = _mm_fmadd_ss(_mm_movehdup_ps(s), _mm_movehdup_ps(d), r);
        r = _mm_fmadd_ss(_mm_movehl_ps(s, s), _mm_movehl_ps(d, d), r);
        r = _mm_fmadd_ss(_mm_shuffle_ps(s, s, 0xff), _mm_shuffle_ps(d, d, 0xff), r);
    }
    for (; i < nb; i++, x += bx, y += by) {
        const __m128 s = _mm_cvtsi32_ss(_mm_setzero_ps(), lp_hsum_epi32_256(block_dot(FMT_Q4_0, x, y)));
        r = _mm_fmadd_ss(s, _mm_set_ss(lp_ld_f16(x) * lp_ld_f16(y)), r);
    }
    return _mm_cvtss_f32(r);
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
