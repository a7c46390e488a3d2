/* avx512_legacy_impl.h — AVX-512 dots of the 32-element block formats
 * (Q4_0, Q5_0, Q8_0 · Q8_0; Q4_1, Q5_1 · Q8_1). Included by exactly two
 * translation units: avx512_legacy.c and avx512vnni_legacy.c; the integer
 * steps come from avx512_util.h and use VNNI in the second.
 *
 * Bit-exact with ggml's x86 kernels (scalar_qdot.c states the order).
 * The integer dots of two blocks share a zmm (block i in the low 256
 * bits, eight i32 lanes each); the f32 side stays ggml's: one 8-lane
 * accumulator, acc = fma(dx*dy, lanes, acc) block after block, and for
 * Q4_1/Q5_1 a scalar fma chain of m*s. Four blocks per iteration share
 * one VCVTPH2PS per operand for their f16 scales.
 *
 * Layouts (ggml): Q4_0 {d; qs[16]}, Q5_0 {d; qh[4]; qs[16]}, Q4_1 {d, m;
 * qs[16]}, Q5_1 {d, m; qh[4]; qs[16]}, Q8_0 {d; qs[32]}, Q8_1 {d, s;
 * qs[32]}. Low nibbles are values 0..15, high nibbles 16..31; bit j of
 * qh is value j's fifth bit. */
#ifndef LP_AVX512_LEGACY_IMPL_H
#define LP_AVX512_LEGACY_IMPL_H

#include "kernels_impl.h"

#if defined(__x86_64__)

#include "avx512_util.h"

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

/* Offsets of qs and qh in a weight block; qh < 0 when there is none. */
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

static inline int qh_off(legacy_fmt f)
{
    return f == FMT_Q5_0 ? (int)offsetof(lp_block_q5_0, qh)
         : f == FMT_Q5_1 ? (int)offsetof(lp_block_q5_1, qh) : -1;
}

/* Activation block size and the offset of its quants. */
static inline size_t a_size(legacy_fmt f)
{
    return has_min(f) ? sizeof(lp_block_q8_1) : sizeof(lp_block_q8_0);
}

static inline size_t a_qs(legacy_fmt f)
{
    return has_min(f) ? offsetof(lp_block_q8_1, qs) : offsetof(lp_block_q8_0, qs);
}

/* Nibbles of 16 bytes (two blocks: p0, and p1 or none) as bytes 0..15:
 * lanes [p0 low, p0 high, p1 low, p1 high] of 128 bits each. */
static inline __m512i nibbles_pair(const uint8_t *p0, const uint8_t *p1)
{
    const __m256i b0 = _mm256_broadcastsi128_si256(lp_ld128(p0));
    const __m512i both = p1 ? lp_join256(b0, _mm256_broadcastsi128_si256(lp_ld128(p1)))
                            : _mm512_zextsi256_si512(b0);
    /* Shift the odd 128-bit lanes (i16 words 8..15 and 24..31). */
    const __m512i shifted = _mm512_mask_srli_epi16(both, (__mmask32)0xff00ff00, both, 4);
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0f));
}

static inline uint32_t ld_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The exact integer dot of one or two blocks (x1 == NULL: one, the high
 * lanes then are 0), eight i32 lanes per block. */
static inline __m512i pair_dot(legacy_fmt f, const uint8_t *x0, const uint8_t *x1,
                               const uint8_t *y0, const uint8_t *y1)
{
    const size_t aq = a_qs(f);
    const __m256i a0 = lp_ld256(y0 + aq);
    const __m512i a = x1 ? lp_join256(a0, lp_ld256(y1 + aq)) : _mm512_zextsi256_si512(a0);
    if (f == FMT_Q8_0) {
        const __m256i w0 = lp_ld256(x0 + qs_off(f));
        const __m512i w = x1 ? lp_join256(w0, lp_ld256(x1 + qs_off(f))) : _mm512_zextsi256_si512(w0);
        return lp_z_dot_s8s8(w, a);
    }
    __m512i u = nibbles_pair(x0 + qs_off(f), x1 ? x1 + qs_off(f) : NULL);
    if (qh_off(f) >= 0) {
        const uint64_t bits = (uint64_t)ld_u32(x0 + qh_off(f))
                            | (x1 ? (uint64_t)ld_u32(x1 + qh_off(f)) << 32 : 0);
        u = _mm512_mask_add_epi8(u, _cvtu64_mask64(bits), u, _mm512_set1_epi8(0x10));
    }
    switch (f) {
    case FMT_Q4_0: return lp_z_dot_offset(u, _mm512_set1_epi8(8), a);
    case FMT_Q5_0: return lp_z_dot_offset(u, _mm512_set1_epi8(16), a);
    default: return lp_z_dot_u8s8(u, a);
    }
}

/* acc = fma(d, block lanes, acc) for the two blocks of a pair in order:
 * the FMA chain runs in eight lanes, as ggml's, one block after the other. */
static inline __m256 fma_pair(__m256 acc, __m256 d0, __m256 d1, __m512i p)
{
    const __m512 pf = _mm512_cvtepi32_ps(p);
    acc = _mm256_fmadd_ps(d0, _mm512_castps512_ps256(pf), acc);
    return _mm256_fmadd_ps(d1, _mm512_extractf32x8_ps(pf, 1), acc);
}

static inline float dot_legacy(legacy_fmt f, int64_t n, const uint8_t *x, const uint8_t *y)
{
    const size_t bx = w_size(f), by = a_size(f);
    const int64_t nb = n / 32;
    __m256 acc = _mm256_setzero_ps();
    __m128 summs = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4, x += 4 * bx, y += 4 * by) {
        /* Even lanes dx*dy; odd lanes of xp, yp: m and s (unused bytes
         * for formats without them). */
        const __m256 xp = lp_f16_pairs4(x, bx), yp = lp_f16_pairs4(y, by);
        const __m256 d = _mm256_mul_ps(xp, yp);
        const __m512i p01 = pair_dot(f, x, x + bx, y, y + by);
        const __m512i p23 = pair_dot(f, x + 2 * bx, x + 3 * bx, y + 2 * by, y + 3 * by);
        acc = fma_pair(acc, lp_splat8(d, 0), lp_splat8(d, 2), p01);
        acc = fma_pair(acc, lp_splat8(d, 4), lp_splat8(d, 6), p23);
        if (has_min(f)) {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                summs = _mm_fmadd_ss(_mm256_castps256_ps128(lp_splat8(xp, 2 * j + 1)),
                                     _mm256_castps256_ps128(lp_splat8(yp, 2 * j + 1)), summs);
        }
    }
    for (; i < nb; i++, x += bx, y += by) {
        const __m256 d = _mm256_set1_ps(lp_ld_f16(x) * lp_ld_f16(y));
        const __m512i p = pair_dot(f, x, NULL, y, NULL);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm512_castsi512_si256(p)), acc);
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

static void fill_legacy(lp_kernels *k)
{
    k->dot[LP_TYPE_Q4_0] = dot_q4_0;
    k->dot[LP_TYPE_Q4_1] = dot_q4_1;
    k->dot[LP_TYPE_Q5_0] = dot_q5_0;
    k->dot[LP_TYPE_Q5_1] = dot_q5_1;
    k->dot[LP_TYPE_Q8_0] = dot_q8_0;
}

#else

static void fill_legacy(lp_kernels *k)
{
    (void)k;
}

#endif

#endif
