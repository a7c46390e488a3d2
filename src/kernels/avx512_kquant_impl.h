/* avx512_kquant_impl.h — AVX-512 dots of the K-quants (Q2_K..Q6_K) with
 * Q8_K. Included by exactly two translation units, avx512_kquant.c and
 * avx512vnni_kquant.c; with VNNI, each "maddubs, scale, add" step becomes
 * maddubs + one VPDPWSSD (avx512_util.h).
 *
 * Bit-exact with ggml's x86 kernels (scalar_kdot.c states the order). A
 * zmm holds 64 consecutive values of a super-block, so activations are
 * plain 64-byte loads and the weights are rearranged to match; each half
 * is one 32-value chunk in ggml's lane layout, and lp_z_fold adds the
 * halves into ggml's eight i32 lanes (exact). The f32 side is ggml's:
 * eight lanes, acc = fma(d, lanes, acc) per super-block.
 *
 * Scales live one per i32 lane of a zmm (as (s, s) i16 pairs) and are
 * spread to the lanes of their group by VPERMD: a 32-value group (Q4_K,
 * Q5_K) covers half a zmm, a 16-value group (Q2_K, Q3_K, Q6_K) a quarter.
 * Offsets (Q3_K: q-4, Q6_K: q-32) are taken per vector in i16 and the
 * mins go through the bsums, as in avx2_kquant.c. */
#ifndef LP_AVX512_KQUANT_IMPL_H
#define LP_AVX512_KQUANT_IMPL_H

#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx512_util.h"

#define Q8K_SZ sizeof(lp_block_q8_K)
#define Y_QS offsetof(lp_block_q8_K, qs)
#define Y_BSUMS offsetof(lp_block_q8_K, bsums)

/* Index vectors for VPERMD: lanes [g x8, g+1 x8] (32-value groups) or
 * [g x4, g+1 x4, g+2 x4, g+3 x4] (16-value groups). */
static inline __m512i idx_halves(int g)
{
    return _mm512_add_epi32(_mm512_set1_epi32(g),
                            _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
}

static inline __m512i idx_quarters(int g)
{
    return _mm512_add_epi32(_mm512_set1_epi32(g),
                            _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
}

/* 16 i8 scales to (s, s) pairs, one per lane. */
static inline __m512i scales16(__m128i sc)
{
    return lp_z_pair16(_mm512_cvtepi8_epi32(sc));
}

/* sum over the 16 groups of scale_g * bsum_g as eight i32 (sc: 16 i8). */
static inline __m256i bsum_dot(const uint8_t *y, __m128i sc)
{
    return _mm256_madd_epi16(lp_ld256(y + Y_BSUMS), _mm256_cvtepi8_epi16(sc));
}

/* VPTERNLOG truth table of "c ? a : b", bit by bit. */
#define SELECT_C 0xE4

/* acc = fma(d, ggml's lanes of sumi, acc). */
static inline __m256 fma_lanes(__m256 acc, float d, __m512i sumi)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lp_z_fold(sumi)), acc);
}

static float dot_q2_K(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m512i m3 = _mm512_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += sizeof(lp_block_q2_K), y += Q8K_SZ) {
        const float dy = lp_ld_f32(y);
        const __m128i packed = lp_ld128(x + offsetof(lp_block_q2_K, scales));
        const __m128i mn = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
        const __m512i S = scales16(_mm_and_si128(packed, _mm_set1_epi8(0x0f)));
        const float dmin = dy * lp_ld_f16(x + offsetof(lp_block_q2_K, dmin));
        /* The mins first, into the same lanes (ggml's order). */
        acc = _mm256_fmadd_ps(_mm256_set1_ps(-dmin), _mm256_cvtepi32_ps(bsum_dot(y, mn)), acc);

        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            /* Bytes 0..31: values 32k+l (k = 2p), 32..63: k = 2p+1. */
            const __m512i qz = lp_z_dup_srl(x + offsetof(lp_block_q2_K, qs) + 32 * h, 2);
            const uint8_t *q8 = y + Y_QS + 128 * h;
#pragma GCC unroll 2
            for (int p = 0; p < 2; p++) {
                const __m512i u = _mm512_and_si512(_mm512_srli_epi16(qz, 4 * p), m3);
                const __m512i s = _mm512_permutexvar_epi32(idx_quarters(8 * h + 4 * p), S);
                sumi = lp_z_scaled_acc(sumi, u, lp_ld512(q8 + 64 * p), s);
            }
        }
        acc = fma_lanes(acc, dy * lp_ld_f16(x + offsetof(lp_block_q2_K, d)), sumi);
    }
    return lp_hsum_ps256(acc);
}

/* Q3_K values are u - 4, u = 2 low bits | (hmask bit << 2). */
static float dot_q3_K(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    const __m512i m3 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += sizeof(lp_block_q3_K), y += Q8K_SZ) {
        const __m512i S = scales16(lp_q3k_scales(x + offsetof(lp_block_q3_K, scales)));
        __m512i sumi = _mm512_setzero_si512();
        /* Bit 4h+k of hmask byte l goes with value 128h+32k+l; the high
         * 256 bits see hmask >> 1, i.e. k+1. */
        const __m512i hz = lp_z_dup_srl(x + offsetof(lp_block_q3_K, hmask), 1);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i qz = lp_z_dup_srl(x + offsetof(lp_block_q3_K, qs) + 32 * h, 2);
            const uint8_t *q8 = y + Y_QS + 128 * h;
#pragma GCC unroll 2
            for (int p = 0; p < 2; p++) {
                const int bit = 4 * h + 2 * p;
                const __m512i hb = bit >= 2 ? _mm512_srli_epi16(hz, bit - 2) : _mm512_slli_epi16(hz, 2);
                const __m512i u = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qz, 4 * p), m3),
                                                  _mm512_and_si512(hb, m4));
                const __m512i s = _mm512_permutexvar_epi32(idx_quarters(8 * h + 4 * p), S);
                sumi = lp_z_scaled_acc_off(sumi, u, m4, lp_ld512(q8 + 64 * p), s);
            }
        }
        acc = fma_lanes(acc, lp_ld_f32(y) * lp_ld_f16(x + offsetof(lp_block_q3_K, d)), sumi);
    }
    return lp_hsum_ps256(acc);
}

/* Q4_K / Q5_K (qh_off 0 for Q4_K). Quarter j of the super-block is 32
 * bytes of qs: low nibbles are values 64j..64j+31, high ones the next 32,
 * so [q & 15, q >> 4] is 64 consecutive values. The mins' f32 steps
 * differ as in avx2_kquant.c: Q4_K four lanes, Q5_K one scalar fma.
 *
 * NT activation rows at once (1 to 4, a constant where it is inlined):
 * the weights are decoded once for all, and each row's steps are the
 * one-row kernel's, in its order, into accumulators of its own, so each
 * output has the bits the one-row dot gives it (a decode batch). */
static inline __attribute__((always_inline)) void
dot_k45_n(int64_t n, const uint8_t *x, const uint8_t *const *ys, int nt, size_t bsz,
          size_t qs_off, size_t qh_off, float *out)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), bit4 = _mm512_set1_epi8(0x10);
    __m256 acc[4];
    __m128 accm[4];
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm256_setzero_ps();
        accm[t] = _mm_setzero_ps();
    }
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += bsz) {
        uint64_t scales, mins;
        lp_k4_unpack(x + offsetof(lp_block_q4_K, scales), &scales, &mins);
        __m128 dd[4];
        __m512i sumi[4];
        for (int t = 0; t < nt; t++) {
            const uint8_t *y = ys[t] + (size_t)i * Q8K_SZ;
            dd[t] = lp_f16x2_scaled(x + offsetof(lp_block_q4_K, d), lp_ld_f32(y));
            const __m128i bs = _mm_hadd_epi16(lp_ld128(y + Y_BSUMS), lp_ld128(y + Y_BSUMS + 16));
            const __m128i mp =
                _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((int64_t)mins)), bs);
            /* fnmadd: -(dmin*m) + acc, the same bits as fma(-dmin, m, acc). */
            if (qh_off) {
                const __m128 m = _mm_cvtepi32_ps(lp_hsum4_epi32(mp));
                accm[t] = _mm_fnmadd_ss(_mm_shuffle_ps(dd[t], dd[t], 0x55), m, accm[t]);
            } else {
                accm[t] = _mm_fnmadd_ps(_mm_shuffle_ps(dd[t], dd[t], 0x55), _mm_cvtepi32_ps(mp),
                                        accm[t]);
            }
            sumi[t] = _mm512_setzero_si512();
        }

        const __m512i S = lp_z_pair16(_mm512_cvtepu8_epi32(_mm_cvtsi64_si128((int64_t)scales)));
        /* Fifth bits: bit 2j of qh byte l for value 64j+l, 2j+1 for 64j+32+l;
         * the high 256 bits see qh >> 1. hz is shifted down 2 per quarter. */
        __m512i hz = _mm512_setzero_si512();
        if (qh_off)
            hz = lp_z_dup_srl(x + qh_off, 1);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m512i u = _mm512_and_si512(lp_z_dup_srl(x + qs_off + 32 * j, 4), m4);
            if (qh_off) {
                u = _mm512_or_si512(u, _mm512_and_si512(_mm512_slli_epi16(hz, 4), bit4));
                hz = _mm512_srli_epi16(hz, 2);
            }
            const __m512i s = _mm512_permutexvar_epi32(idx_halves(2 * j), S);
            for (int t = 0; t < nt; t++)
                sumi[t] = lp_z_scaled_acc(sumi[t], u,
                                          lp_ld512(ys[t] + (size_t)i * Q8K_SZ + Y_QS + 64 * j), s);
        }
        for (int t = 0; t < nt; t++)
            acc[t] = fma_lanes(acc[t], _mm_cvtss_f32(dd[t]), sumi[t]);
    }
    for (int t = 0; t < nt; t++)
        out[t] = lp_hsum_ps256(acc[t]) +
                 (qh_off ? _mm_cvtss_f32(accm[t]) : lp_hsum_ps128(accm[t]));
}

static float dot_q4_K(int64_t n, const void *w, const void *a)
{
    float r;
    dot_k45_n(n, w, (const uint8_t *const[]){a}, 1, sizeof(lp_block_q4_K),
              offsetof(lp_block_q4_K, qs), 0, &r);
    return r;
}

/* nt = 2..4 as constants, so each gets its own unrolled body. */
#define DOTN_CASES(CALL) \
    switch (nt) {        \
    case 2: CALL(2); break; \
    case 3: CALL(3); break; \
    default: CALL(4); break; \
    }

static void dotn_q4_K(int64_t n, const void *w, const void *const *a, int nt, float *out)
{
#define Q4K(N) dot_k45_n(n, w, (const uint8_t *const *)a, N, sizeof(lp_block_q4_K), \
                         offsetof(lp_block_q4_K, qs), 0, out)
    DOTN_CASES(Q4K)
#undef Q4K
}

static float dot_q5_K(int64_t n, const void *w, const void *a)
{
    float r;
    dot_k45_n(n, w, (const uint8_t *const[]){a}, 1, sizeof(lp_block_q5_K),
              offsetof(lp_block_q5_K, qs), offsetof(lp_block_q5_K, qh), &r);
    return r;
}

static void dotn_q5_K(int64_t n, const void *w, const void *const *a, int nt, float *out)
{
#define Q5K(N) dot_k45_n(n, w, (const uint8_t *const *)a, N, sizeof(lp_block_q5_K), \
                         offsetof(lp_block_q5_K, qs), offsetof(lp_block_q5_K, qh), out)
    DOTN_CASES(Q5K)
#undef Q5K
}

/* Q6_K values are u - 32, u = 4 bits of ql | 2 bits of qh << 4. In each
 * half, 64 bytes of ql hold values 0..63 in their low nibbles and 64..127
 * in their high ones; qh byte l holds bit pairs for values l, 32+l, 64+l
 * and 96+l, so [qh, qh >> 2] lines the pairs up with both nibble sets.
 * NT rows at once as dot_k45_n. */
static inline __attribute__((always_inline)) void
dot_q6_K_n(int64_t n, const uint8_t *x, const uint8_t *const *ys, int nt, float *out)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m33 = _mm512_set1_epi8(0x33);
    const __m512i m32 = _mm512_set1_epi8(32);
    __m256 acc[4];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LP_QK_K; i++, x += sizeof(lp_block_q6_K)) {
        const __m512i S = scales16(lp_ld128(x + offsetof(lp_block_q6_K, scales)));
        __m512i sumi[4];
        for (int t = 0; t < nt; t++)
            sumi[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i l = lp_ld512(x + offsetof(lp_block_q6_K, ql) + 64 * h);
            const __m512i hz = lp_z_dup_srl(x + offsetof(lp_block_q6_K, qh) + 32 * h, 2);
            /* hm keeps the pairs for lo (bits 0-1) and hi (bits 4-5); one
             * VPTERNLOG then takes the nibble from ql and bits 4-7 from hm
             * (what the 16-bit shifts carry across bytes lands in the
             * nibble half and is dropped). */
            const __m512i hm = _mm512_and_si512(hz, m33);
            const __m512i lo = _mm512_ternarylogic_epi32(l, _mm512_slli_epi16(hm, 4), m4, SELECT_C);
            const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), hm, m4, SELECT_C);
            const __m512i slo = _mm512_permutexvar_epi32(idx_quarters(8 * h), S);
            const __m512i shi = _mm512_permutexvar_epi32(idx_quarters(8 * h + 4), S);
            for (int t = 0; t < nt; t++) {
                const uint8_t *q8 = ys[t] + (size_t)i * Q8K_SZ + Y_QS + 128 * h;
                sumi[t] = lp_z_scaled_acc_off(sumi[t], lo, m32, lp_ld512(q8), slo);
                sumi[t] = lp_z_scaled_acc_off(sumi[t], hi, m32, lp_ld512(q8 + 64), shi);
            }
        }
        for (int t = 0; t < nt; t++)
            acc[t] = fma_lanes(acc[t],
                               lp_ld_f32(ys[t] + (size_t)i * Q8K_SZ) *
                                   lp_ld_f16(x + offsetof(lp_block_q6_K, d)),
                               sumi[t]);
    }
    for (int t = 0; t < nt; t++)
        out[t] = lp_hsum_ps256(acc[t]);
}

static float dot_q6_K(int64_t n, const void *w, const void *a)
{
    float r;
    dot_q6_K_n(n, w, (const uint8_t *const[]){a}, 1, &r);
    return r;
}

static void dotn_q6_K(int64_t n, const void *w, const void *const *a, int nt, float *out)
{
#define Q6K(N) dot_q6_K_n(n, w, (const uint8_t *const *)a, N, out)
    DOTN_CASES(Q6K)
#undef Q6K
}

static void fill_kquant(lp_kernels *k)
{
    k->dot[LP_TYPE_Q2_K] = dot_q2_K;
    k->dot[LP_TYPE_Q3_K] = dot_q3_K;
    k->dot[LP_TYPE_Q4_K] = dot_q4_K;
    k->dot[LP_TYPE_Q5_K] = dot_q5_K;
    k->dot[LP_TYPE_Q6_K] = dot_q6_K;
    k->dotn[LP_TYPE_Q4_K] = dotn_q4_K;
    k->dotn[LP_TYPE_Q5_K] = dotn_q5_K;
    k->dotn[LP_TYPE_Q6_K] = dotn_q6_K;
}

#else

static void fill_kquant(lp_kernels *k)
{
    (void)k;
}

#endif

#endif
