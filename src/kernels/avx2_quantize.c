/* avx2_quantize.c — f32 activations to Q8_0, Q8_1 and Q8_K with AVX2.
 *
 * The output must be byte-identical to lp_quantize_row (quant_act.c) and
 * so to ggml's on x86, for every input, NaN, Inf and subnormals included
 * (a NaN in a hidden state must not make two machines disagree). So every
 * float operation here is the one the scalar code does, in the same
 * order: the scale is 127/amax (Q8_0/Q8_1) or -127/max (Q8_K), one
 * multiply per value, then ties-to-even rounding. Where NaN can reach a
 * max, the operand order of each MAXPS is ggml's (it returns its second
 * operand when either is NaN); out-of-range quants saturate where ggml's
 * SIMD packs them (Q8_0/Q8_1) and keep their low byte where ggml's scalar
 * Q8_K code stores an int into an int8_t. */
#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx2_util.h"

static inline __m256 abs_ps(__m256 v)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

/* ggml's reduction of eight maxes: max(high, low), then (0,2) (1,3),
 * then the two. */
static inline float hmax_ps256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* 32 i32 (four vectors, in order) to 32 i8 at dst. Values fit, so the
 * saturating packs are exact; the permute undoes their lane interleave. */
static inline void store_i8x32(uint8_t *dst, __m256i a, __m256i b, __m256i c, __m256i d)
{
    const __m256i ab = _mm256_packs_epi32(a, b);
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)dst, q);
}

/* One block of 32 the x86 way (see quant_act.c): writes the quants and
 * returns d = amax/127 in f32; *sum gets the sum of the quants. */
static inline float q8_block(const float *x, uint8_t *qs, int32_t *sum)
{
    __m256 v[4];
    for (int j = 0; j < 4; j++)
        v[j] = _mm256_loadu_ps(x + 8 * j);
    __m256 amax = abs_ps(v[0]);
    for (int j = 1; j < 4; j++)
        amax = _mm256_max_ps(amax, abs_ps(v[j]));
    const float m = hmax_ps256(amax);
    const float id = (m != 0.0f) ? 127.f / m : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; j++) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[j], mul),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[j] = _mm256_cvtps_epi32(r);
    }
    *sum = lp_hsum_epi32_256(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]),
                                              _mm256_add_epi32(q[2], q[3])));
    store_i8x32(qs, q[0], q[1], q[2], q[3]);
    return m / 127.f;
}

static inline void store_f16(uint8_t *p, float f)
{
    const uint16_t h = _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
    memcpy(p, &h, sizeof h);
}

static void quant_q8_0(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / LP_QK8_0; i++, src += LP_QK8_0) {
        uint8_t *b = out + (size_t)i * sizeof(lp_block_q8_0);
        int32_t sum;
        const float d = q8_block(src, b + offsetof(lp_block_q8_0, qs), &sum);
        store_f16(b + offsetof(lp_block_q8_0, d), d);
    }
}

static void quant_q8_1(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / LP_QK8_1; i++, src += LP_QK8_1) {
        uint8_t *b = out + (size_t)i * sizeof(lp_block_q8_1);
        int32_t sum;
        const float d = q8_block(src, b + offsetof(lp_block_q8_1, qs), &sum);
        store_f16(b + offsetof(lp_block_q8_1, d), d);
        store_f16(b + offsetof(lp_block_q8_1, s), d * (float)sum);
    }
}

/* The signed value of largest magnitude in 256 floats; the first one wins
 * a tie between +m and -m, as in the scalar scan, and NaNs are skipped as
 * there (MAXPS keeps the second operand, amax, for a NaN lane). 0 if all
 * are zero (or NaN). */
static inline float q8k_signed_max(const float *x)
{
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < LP_QK_K; j += 8)
        amax = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + j)), amax);
    const float m = hmax_ps256(amax);
    if (m == 0.0f)
        return 0.0f;
    const __m256 mv = _mm256_set1_ps(m);
    for (int j = 0; j < LP_QK_K; j += 8) {
        const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), mv, _CMP_EQ_OQ));
        if (hit)
            return x[j + __builtin_ctz((unsigned)hit)];
    }
    return m; /* unreachable: m is one of the |x| */
}

/* ggml's nearest_int on 8 lanes: add 1.5*2^23, read the mantissa. */
static inline __m256i nearest_int8(__m256 v)
{
    const __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

/* 32 i32 to their low bytes at dst (the int -> int8_t store of ggml's
 * scalar code; values within -128..127 are unchanged). */
static inline void store_low8x32(uint8_t *dst, const __m256i q[4])
{
    const __m256i ff = _mm256_set1_epi32(0xff);
    const __m256i ab = _mm256_packs_epi32(_mm256_and_si256(q[0], ff), _mm256_and_si256(q[1], ff));
    const __m256i cd = _mm256_packs_epi32(_mm256_and_si256(q[2], ff), _mm256_and_si256(q[3], ff));
    const __m256i v = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)dst, v);
}

/* The low byte of each i32 as a signed value. */
static inline __m256i low8_signed(__m256i v)
{
    return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24);
}

static void q8k_block(const float *x, uint8_t *b)
{
    const float max = q8k_signed_max(x);
    if (max == 0.0f) {
        memset(b, 0, sizeof(lp_block_q8_K));
        return;
    }
    const float iscale = -127.f / max;
    const __m256 mul = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    int16_t bsums[LP_QK_K / 16];
    for (int j = 0; j < LP_QK_K; j += 32) {
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), mul);
            q[k] = _mm256_min_epi32(nearest_int8(v), top);
        }
        store_low8x32(b + offsetof(lp_block_q8_K, qs) + j, q);
        /* bsums add the stored bytes. */
        bsums[j / 16] = (int16_t)lp_hsum_epi32_256(_mm256_add_epi32(low8_signed(q[0]), low8_signed(q[1])));
        bsums[j / 16 + 1] = (int16_t)lp_hsum_epi32_256(_mm256_add_epi32(low8_signed(q[2]), low8_signed(q[3])));
    }
    memcpy(b + offsetof(lp_block_q8_K, bsums), bsums, sizeof bsums);
    const float d = 1 / iscale;
    memcpy(b + offsetof(lp_block_q8_K, d), &d, sizeof d);
}

static void quant_q8_K(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / LP_QK_K; i++)
        q8k_block(src + i * LP_QK_K, out + (size_t)i * sizeof(lp_block_q8_K));
}

void lp_avx2_fill_quantize(lp_kernels *k)
{
    k->quantize[LP_TYPE_Q8_0] = quant_q8_0;
    k->quantize[LP_TYPE_Q8_1] = quant_q8_1;
    k->quantize[LP_TYPE_Q8_K] = quant_q8_K;
}

#else

void lp_avx2_fill_quantize(lp_kernels *k)
{
    (void)k;
}

#endif
