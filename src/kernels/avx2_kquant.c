/* avx2_kquant.c — AVX2 dots of the K-quants (Q2_K..Q6_K) with Q8_K,
 * bit-exact with ggml's x86 kernels (scalar_kdot.c states the order).
 *
 * Per 256-value super-block the integer sum, scales and offsets included,
 * is exact in eight i32 lanes, and lane l must hold exactly the values
 * 32c+4l..32c+4l+3 of every 32-value chunk c, because each lane is
 * converted and accumulated on its own (acc = fma(d, lanes, acc)). So an
 * offset (Q3_K: q-4, Q6_K: q-32) is taken per vector, as maddubs(q, a) -
 * maddubs(o, a) in i16, not through the activation's bsums, whose groups
 * of 16 straddle lanes differently. The mins (Q2_K, Q4_K, Q5_K) do go
 * through the bsums, exactly as ggml does for each format.
 *
 * Weights go through maddubs as unsigned bytes (at most 63, so each pair
 * sum fits i16 with |a| <= 127; the i16 difference of an offset is at
 * most 63*254 + 32*254 in magnitude, which fits too). */
#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx2_util.h"

#define Q8K_SZ sizeof(lp_block_q8_K)
#define Y_QS offsetof(lp_block_q8_K, qs)
#define Y_BSUMS offsetof(lp_block_q8_K, bsums)

/* S holds eight i16 scales, the same in both 128-bit lanes. pick32 puts
 * scale m in every i16 (a 32-value group fills a vector); pick16 puts
 * scale 2k in the low lane and 2k+1 in the high one (16-value groups). */
static inline __m256i pick32(__m256i S, int m)
{
    return _mm256_shuffle_epi8(S, _mm256_set1_epi16((short)((2 * m + 1) << 8 | 2 * m)));
}

static inline __m256i pick16(__m256i S, int k)
{
    const __m128i lo = _mm_set1_epi16((short)((4 * k + 1) << 8 | 4 * k));
    const __m128i hi = _mm_set1_epi16((short)((4 * k + 3) << 8 | (4 * k + 2)));
    return _mm256_shuffle_epi8(S, _mm256_setr_m128i(lo, hi));
}

/* sum(u*a*scale) per i32 lane for 32 unsigned weights. */
static inline __m256i scaled_dot(__m256i u, const uint8_t *a, __m256i scale)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, lp_ld256(a)), scale);
}

/* sum((u - o)*a*scale) per i32 lane: the offset leaves i16 exact. */
static inline __m256i scaled_dot_off(__m256i u, __m256i o, const uint8_t *a, __m256i scale)
{
    const __m256i av = lp_ld256(a);
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, av), _mm256_maddubs_epi16(o, av));
    return _mm256_madd_epi16(p, scale);
}

/* The eight scales of one half (i8 in sc16 from byte 8*half) as S. */
static inline __m256i half_scales(__m128i sc16, int half)
{
    const __m128i v = half ? _mm_unpackhi_epi64(sc16, sc16) : sc16;
    return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(v));
}

/* sum over 16 groups of scale_g * bsum_g, as eight i32 (sc16: 16 i8). */
static inline __m256i bsum_dot(const uint8_t *y, __m128i sc16)
{
    return _mm256_madd_epi16(lp_ld256(y + Y_BSUMS), _mm256_cvtepi8_epi16(sc16));
}

static float dot_q2_K(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += sizeof(lp_block_q2_K), y += Q8K_SZ) {
        const float dy = lp_ld_f32(y);
        const __m128i packed = lp_ld128(x + offsetof(lp_block_q2_K, scales));
        const __m128i sc = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
        const __m128i mn = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
        const float dmin = dy * lp_ld_f16(x + offsetof(lp_block_q2_K, dmin));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(-dmin), _mm256_cvtepi32_ps(bsum_dot(y, mn)), acc);

        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i S = half_scales(sc, h);
            const __m256i q = lp_ld256(x + offsetof(lp_block_q2_K, qs) + 32 * h);
            const uint8_t *q8 = y + Y_QS + 128 * h;
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
                sumi = _mm256_add_epi32(sumi, scaled_dot(u, q8 + 32 * k, pick16(S, k)));
            }
        }
        const float d = dy * lp_ld_f16(x + offsetof(lp_block_q2_K, d));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return lp_hsum_ps256(acc);
}

/* Q3_K values are u - 4 with u = 2 low bits | (hmask bit << 2), 0..7. */
static float dot_q3_K(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += sizeof(lp_block_q3_K), y += Q8K_SZ) {
        const __m128i sc = lp_q3k_scales(x + offsetof(lp_block_q3_K, scales));
        const __m256i hm = lp_ld256(x + offsetof(lp_block_q3_K, hmask));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i S = half_scales(sc, h);
            const __m256i q = lp_ld256(x + offsetof(lp_block_q3_K, qs) + 32 * h);
            const uint8_t *q8 = y + Y_QS + 128 * h;
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                /* hmask bit 4h+k of byte l belongs to value 128h+32k+l. */
                const __m256i hb = _mm256_srli_epi16(hm, 4 * h + k);
                const __m256i u = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3),
                    _mm256_and_si256(_mm256_slli_epi16(hb, 2), m4));
                sumi = _mm256_add_epi32(sumi, scaled_dot_off(u, m4, q8 + 32 * k, pick16(S, k)));
            }
        }
        const float d = lp_ld_f32(y) * lp_ld_f16(x + offsetof(lp_block_q3_K, d));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return lp_hsum_ps256(acc);
}

/* Q4_K and Q5_K share everything but the fifth bit (qh_off is where qh
 * sits in the block, or 0 for Q4_K) and the f32 steps of the mins, which
 * ggml does differently for each: Q4_K keeps four f32 lanes of
 * dmin * (min_j * bsum of group j, two groups per lane); Q5_K sums all of
 * it in i32 and does one scalar fma per super-block. */
static inline float dot_k45(int64_t n, const uint8_t *x, const uint8_t *y, size_t bsz,
                            size_t qs_off, size_t qh_off)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += bsz, y += Q8K_SZ) {
        uint64_t scales, mins;
        lp_k4_unpack(x + offsetof(lp_block_q4_K, scales), &scales, &mins);
        const __m128 dd = lp_f16x2_scaled(x + offsetof(lp_block_q4_K, d), lp_ld_f32(y));

        const __m128i bs = _mm_hadd_epi16(lp_ld128(y + Y_BSUMS), lp_ld128(y + Y_BSUMS + 16));
        const __m128i mp = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((int64_t)mins)), bs);
        /* fnmadd: -(dmin*m) + acc, the same bits as fma(-dmin, m, acc). */
        if (qh_off) {
            const __m128 m = _mm_cvtepi32_ps(lp_hsum4_epi32(mp));
            accm = _mm_fnmadd_ss(_mm_shuffle_ps(dd, dd, 0x55), m, accm);
        } else {
            accm = _mm_fnmadd_ps(_mm_shuffle_ps(dd, dd, 0x55), _mm_cvtepi32_ps(mp), accm);
        }

        const __m256i S = _mm256_broadcastsi128_si256(
            _mm_cvtepu8_epi16(_mm_cvtsi64_si128((int64_t)scales)));
        __m256i hb = qh_off ? lp_ld256(x + qh_off) : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i q = lp_ld256(x + qs_off + 32 * j);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (qh_off) {
                /* hb holds qh >> 2j: bit 0 goes with lo, bit 1 with hi. */
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
                hb = _mm256_srli_epi16(hb, 2);
            }
            const uint8_t *q8 = y + Y_QS + 64 * j;
            const __m256i p0 = scaled_dot(lo, q8, pick32(S, 2 * j));
            const __m256i p1 = scaled_dot(hi, q8 + 32, pick32(S, 2 * j + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(sumi), acc);
    }
    return lp_hsum_ps256(acc) + (qh_off ? _mm_cvtss_f32(accm) : lp_hsum_ps128(accm));
}

static float dot_q4_K(int64_t n, const void *w, const void *a)
{
    return dot_k45(n, w, a, sizeof(lp_block_q4_K), offsetof(lp_block_q4_K, qs), 0);
}

static float dot_q5_K(int64_t n, const void *w, const void *a)
{
    return dot_k45(n, w, a, sizeof(lp_block_q5_K), offsetof(lp_block_q5_K, qs),
                   offsetof(lp_block_q5_K, qh));
}

/* Q6_K values are u - 32, u = 4 low bits (ql) | 2 high bits (qh) << 4. In
 * each half: ql bytes 0..31 hold values 0..31 (low nibble) and 64..95
 * (high), bytes 32..63 values 32..63 and 96..127; qh bit pair k of byte l
 * goes with value 32k + l. */
static float dot_q6_K(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m256i m32 = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += sizeof(lp_block_q6_K), y += Q8K_SZ) {
        const __m128i sc = lp_ld128(x + offsetof(lp_block_q6_K, scales));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i S = half_scales(sc, h);
            const uint8_t *ql = x + offsetof(lp_block_q6_K, ql) + 64 * h;
            const __m256i l0 = lp_ld256(ql), l1 = lp_ld256(ql + 32);
            const __m256i qh = lp_ld256(x + offsetof(lp_block_q6_K, qh) + 32 * h);
            const __m256i u[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
            };
            const uint8_t *q8 = y + Y_QS + 128 * h;
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                sumi = _mm256_add_epi32(sumi, scaled_dot_off(u[k], m32, q8 + 32 * k, pick16(S, k)));
        }
        const float d = lp_ld_f32(y) * lp_ld_f16(x + offsetof(lp_block_q6_K, d));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return lp_hsum_ps256(acc);
}

void lp_avx2_fill_kquant(lp_kernels *k)
{
    k->dot[LP_TYPE_Q2_K] = dot_q2_K;
    k->dot[LP_TYPE_Q3_K] = dot_q3_K;
    k->dot[LP_TYPE_Q4_K] = dot_q4_K;
    k->dot[LP_TYPE_Q5_K] = dot_q5_K;
    k->dot[LP_TYPE_Q6_K] = dot_q6_K;
}

#else

void lp_avx2_fill_kquant(lp_kernels *k)
{
    (void)k;
}

#endif
