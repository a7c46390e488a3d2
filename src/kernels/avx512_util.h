/* avx512_util.h — helpers for the AVX-512 translation units only
 * (avx512_*.c: F/BW/DQ/VL; avx512vnni_*.c: the same plus VNNI). All
 * static inline; the VNNI forms are chosen by the compiler's own
 * __AVX512VNNI__, so one source serves both ISAs.
 *
 * Integer steps are exact under the same bounds as avx2_util.h: maddubs
 * pairs stay within i16 because weights are at most 63 (or |w| <= 128
 * against |a| <= 127), and dpbusd/dpwssd accumulate in i32 without any
 * intermediate saturation. */
#ifndef LP_AVX512_UTIL_H
#define LP_AVX512_UTIL_H

#include "avx2_util.h"

static inline __m512i lp_ld512(const void *p)
{
    return _mm512_loadu_si512(p);
}

/* lo in the low 256 bits, hi in the high. */
static inline __m512i lp_join256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* 32 bytes at p in both halves, the high copy shifted right by `bits`
 * within each i16 (callers mask away what crosses a byte): one load-port
 * broadcast and one masked shift instead of shift + insert. */
static inline __m512i lp_z_dup_srl(const uint8_t *p, unsigned bits)
{
    const __m512i b = _mm512_broadcast_i64x4(lp_ld256(p));
    return _mm512_mask_srli_epi16(b, (__mmask32)0xffff0000u, b, bits);
}

/* Sum of each four u8*s8 products into sixteen i32. */
static inline __m512i lp_z_dot_u8s8(__m512i u, __m512i s)
{
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s);
#else
    return _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1));
#endif
}

/* sum((u - off) * a) per four lanes, u and off unsigned bytes. Without
 * VNNI the difference is taken in i16 (exact: |u*a pair| <= 7874 and
 * |off*a pair| <= 4064 for u, off <= 31). */
static inline __m512i lp_z_dot_offset(__m512i u, __m512i off, __m512i a)
{
#if defined(__AVX512VNNI__)
    return _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, a),
                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, a));
#else
    const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(u, a), _mm512_maddubs_epi16(off, a));
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
#endif
}

/* s8*s8: AVX-512 has no vpsignb, so take |x| and negate y where x < 0.
 * y must not hold -128 (activations never do). */
static inline __m512i lp_z_dot_s8s8(__m512i x, __m512i y)
{
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    return lp_z_dot_u8s8(_mm512_abs_epi8(x), sy);
}

/* acc + the i16 pairs p times scale per i32 lane, where scale holds the
 * same i16 in both halves of each lane. VNNI fuses the multiply and add. */
static inline __m512i lp_z_scale_acc16(__m512i acc, __m512i p, __m512i scale)
{
#if defined(__AVX512VNNI__)
    return _mm512_dpwssd_epi32(acc, p, scale);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, scale));
#endif
}

/* acc + sum(u*a*scale) per i32 lane. */
static inline __m512i lp_z_scaled_acc(__m512i acc, __m512i u, __m512i a, __m512i scale)
{
    return lp_z_scale_acc16(acc, _mm512_maddubs_epi16(u, a), scale);
}

/* acc + sum((u - off)*a*scale) per i32 lane; the difference is taken in
 * i16, exact for u, off <= 63 and |a| <= 127 (|pair| <= 63*254). */
static inline __m512i lp_z_scaled_acc_off(__m512i acc, __m512i u, __m512i off, __m512i a,
                                          __m512i scale)
{
    const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(u, a), _mm512_maddubs_epi16(off, a));
    return lp_z_scale_acc16(acc, p, scale);
}

/* The eight i32 lanes of ggml's 256-bit kernels from a zmm whose halves
 * hold two 32-value chunks: lane l of each half covers values 4l..4l+3
 * of its chunk, so ggml's lane l is their (exact) sum. */
static inline __m256i lp_z_fold(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/* Sixteen i32 scales (|s| < 2^15) as (s, s) i16 pairs, for scaled_acc:
 * copy each lane's low i16 over its high one (VPSHUFB indexes bytes of a
 * 128-bit lane, hence the per-lane pattern). */
static inline __m512i lp_z_pair16(__m512i s32)
{
    return _mm512_shuffle_epi8(s32, _mm512_set4_epi32(0x0d0c0d0c, 0x09080908, 0x05040504, 0x01000100));
}

#endif
