/* avx512_legacy_impl.h — AVX-512 dots of the 32-element block formats
 * (Q4_0, Q5_0, Q8_0 · Q8_0; Q4_1, Q5_1 · Q8_1). Included by exactly two
 * translation units: avx512_legacy.c and avx512vnni_legacy.c; the integer
 * steps come from avx512_util.h and use VNNI in the second.
 *
 * Two blocks share a zmm (block i in the low 256 bits). Four blocks per
 * iteration let the eight f16 scales be widened with one VCVTPH2PS. The
 * exact i32 lane sums of each block are multiplied by its dx*dy and added
 * in f32: only that order differs from the scalar reference.
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

static inline float dot_legacy(legacy_fmt f, int64_t n, const uint8_t *x, const uint8_t *y)
{
    const size_t bx = w_size(f), by = a_size(f);
    const int64_t nb = n / 32;
    /* Spread products 0,1 (and 2,3) over the two halves of a zmm. */
    const __m512i idx01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i idx23 = _mm512_add_epi32(idx01, _mm512_set1_epi32(2));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4, x += 4 * bx, y += 4 * by) {
        const __m512 d = _mm512_castps128_ps512(lp_prod4_f16(x, bx, y, by));
        const __m512i p01 = pair_dot(f, x, x + bx, y, y + by);
        const __m512i p23 = pair_dot(f, x + 2 * bx, x + 3 * bx, y + 2 * by, y + 3 * by);
        acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx01, d), _mm512_cvtepi32_ps(p01), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx23, d), _mm512_cvtepi32_ps(p23), acc1);
        /* The min meets the activations via s = d_a * sum(a): m * s. */
        if (has_min(f))
            accm = _mm_add_ps(accm, lp_prod4_f16(x + 2, bx, y + 2, by));
    }
    for (; i < nb; i++, x += bx, y += by) {
        const __m512 d = _mm512_maskz_mov_ps(0x00ff, _mm512_set1_ps(lp_ld_f16(x) * lp_ld_f16(y)));
        acc0 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(pair_dot(f, x, NULL, y, NULL)), acc0);
        if (has_min(f))
            accm = _mm_add_ss(accm, _mm_set_ss(lp_ld_f16(x + 2) * lp_ld_f16(y + 2)));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + lp_hsum_ps128(accm);
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
