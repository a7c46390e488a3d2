/* avx2_util.h — small helpers for the ISA translation units only
 * (avx2_*.c, avx512_*.c, avx512vnni_*.c, all built with at least
 * -mavx2 -mfma -mf16c). Every function is static inline, so no copy
 * compiled with these flags can leak into ISA-neutral code.
 *
 * Blocks are read through byte pointers: GGUF rows are only as aligned
 * as their tensor, and a block of 18 or 110 bytes puts the next block's
 * fields anywhere, so scalar fields are fetched with memcpy and vectors
 * with unaligned loads. */
#ifndef LP_AVX2_UTIL_H
#define LP_AVX2_UTIL_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

/* f16 field at p to f32 (F16C: exact). */
static inline float lp_ld_f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

static inline float lp_ld_f32(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static inline __m128i lp_ld128(const void *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

static inline __m256i lp_ld256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

static inline float lp_hsum_ps128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

static inline float lp_hsum_ps256(__m256 v)
{
    return lp_hsum_ps128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

static inline int32_t lp_hsum_epi32_128(__m128i v)
{
    v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

/* The sum of the four i32 in lane 0, staying in a vector register. */
static inline __m128i lp_hsum4_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    return _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
}

static inline int32_t lp_hsum_epi32_256(__m256i v)
{
    return lp_hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(v),
                                           _mm256_extracti128_si256(v, 1)));
}

/* 16 bytes of packed nibbles to 32 bytes 0..15: the low nibbles (the
 * block's first 16 values) then the high nibbles (its last 16). The high
 * copy is shifted per 32-bit lane; the mask drops what crossed bytes. */
static inline __m256i lp_nibbles32(const uint8_t *p)
{
    const __m256i both = _mm256_broadcastsi128_si256(lp_ld128(p));
    const __m256i shifted = _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
}

/* The f16 pairs at p + i*stride, i = 0..3, as f32 [d0, m0, d1, m1, ...]:
 * every 32-element block starts with its f16 d, followed by m (Q4_1,
 * Q5_1), s (Q8_1) or at least two more bytes. */
static inline __m256 lp_f16_pairs4(const uint8_t *p, size_t stride)
{
    uint32_t v[4];
    for (int i = 0; i < 4; i++)
        memcpy(&v[i], p + i * stride, 4);
    return _mm256_cvtph_ps(_mm_setr_epi32((int)v[0], (int)v[1], (int)v[2], (int)v[3]));
}

/* Lane j of v in all eight lanes. */
static inline __m256 lp_splat8(__m256 v, int j)
{
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(j));
}

/* 32 bits (little-endian at p) to 32 bytes: 0xff where the bit is set. */
static inline __m256i lp_bits32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    /* Byte j of the result sees byte j/8 of v, then tests bit j%8. */
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int32_t)v),
        _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

/* Sum of each four u8*s8 products into eight i32. Exact as long as each
 * pair sum fits i16 (u <= 128 with |s| <= 127, or u <= 255 with
 * |s| <= 64): callers keep to that. */
static inline __m256i lp_dot_u8s8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* The same for s8*s8: move x's sign onto y so x can be unsigned. y must
 * not hold -128 (activations never do); x may. */
static inline __m256i lp_dot_s8s8(__m256i x, __m256i y)
{
    return lp_dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* Q4_K/Q5_K: the 8 six-bit scales and 8 mins (byte j of each u64 is
 * scale j / min j) from the 12 packed bytes at p. Layout (ggml's
 * get_scale_min_k4): scales and mins 0..3 are the low 6 bits of bytes
 * 0..3 and 4..7; 4..7 take a nibble of bytes 8..11 and the top 2 bits of
 * bytes 0..3 (scales) or 4..7 (mins). Scalar on purpose: the vector ports
 * are the bottleneck of these loops, the integer ones idle. */
static inline void lp_k4_unpack(const uint8_t *p, uint64_t *scales, uint64_t *mins)
{
    uint32_t u[3];
    memcpy(u, p, sizeof u);
    const uint32_t low6 = 0x3f3f3f3f, nib = 0x0f0f0f0f, top2 = 0x03030303;
    const uint32_t sc_hi = (u[2] & nib) | ((u[0] >> 6) & top2) << 4;
    const uint32_t mn_hi = ((u[2] >> 4) & nib) | ((u[1] >> 6) & top2) << 4;
    *scales = (uint64_t)(u[0] & low6) | (uint64_t)sc_hi << 32;
    *mins = (uint64_t)(u[1] & low6) | (uint64_t)mn_hi << 32;
}

/* Two adjacent f16 fields (d, dmin) times f32 dy: lanes 0 and 1. */
static inline __m128 lp_f16x2_scaled(const uint8_t *p, float dy)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int32_t)v)), _mm_set1_ps(dy));
}

/* Q3_K: the 16 six-bit scales minus 32, as i8. Low 4 bits: nibble j/8 of
 * byte j%8; high 2 bits: bits 2*(j/4).. of byte 8 + j%4. */
static inline __m128i lp_q3k_scales(const uint8_t *p)
{
    uint64_t lo;
    uint32_t hi;
    memcpy(&lo, p, 8);
    memcpy(&hi, p + 8, 4);
    const __m128i lo_v = _mm_cvtsi64_si128((int64_t)lo);
    const __m128i nib = _mm_and_si128(_mm_unpacklo_epi64(lo_v, _mm_srli_epi16(lo_v, 4)),
                                      _mm_set1_epi8(0x0f));
    const __m128i hi_v = _mm_set1_epi32((int32_t)hi);
    /* Byte j needs bits 2*(j/4) of byte j%4: shift each 32-bit quarter. */
    const __m128i hs = _mm_srlv_epi32(hi_v, _mm_setr_epi32(0, 2, 4, 6));
    const __m128i top = _mm_slli_epi16(_mm_and_si128(hs, _mm_set1_epi8(3)), 4);
    return _mm_sub_epi8(_mm_or_si128(nib, top), _mm_set1_epi8(32));
}

#endif
