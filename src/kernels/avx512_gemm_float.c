/* avx512_gemm_float.c — register tiles of F32, F16 and BF16 weights
 * (lp_gemm_fn) in llamafile tinyBLAS's order, the order of the table's
 * dot_gemm (avx512_float.c, scalar_float.c): per output one 16-lane
 * accumulator, one FMA (BF16: one VDPBF16PS, or its rebuild) per 16 (32)
 * elements in order, _mm512_reduce_add_ps at the end.
 *
 * A tile is 4 weight rows x 4 activation rows: each step loads (and
 * converts) four weight vectors and four activation vectors for sixteen
 * FMAs, where the per-output dot loads two for one. Used only where ggml
 * uses tinyBLAS (lp_matmul_uses_gemm: n a multiple of the step). */
#include "gemm_impl.h"

#if defined(__x86_64__)

#include <cpuid.h>

#include "avx512_util.h"
#include "gemm_tile.h"

#define GEMM_INLINE static inline __attribute__((always_inline))

enum { FL_RM = 4, FL_RN = 4 };

typedef enum { FL_F32, FL_F16, FL_BF16 } flt;

/* 16 values (F32, F16) or 32 (BF16, raw) at p. */
GEMM_INLINE __m512 fl_load(flt f, const uint8_t *p)
{
    switch (f) {
    case FL_F32: return _mm512_loadu_ps(p);
    case FL_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    default: return _mm512_castsi512_ps(_mm512_loadu_si512(p));
    }
}

/* ---- VDPBF16PS rebuilt, as avx512_float.c (DAZ inputs, FTZ results) --- */

GEMM_INLINE __m512i daz_bf16(__m512i u)
{
    const __mmask32 den = _mm512_testn_epi16_mask(u, _mm512_set1_epi16(0x7f80)) &
                          _mm512_test_epi16_mask(u, _mm512_set1_epi16(0x7fff));
    return _mm512_mask_blend_epi16(den, u, _mm512_and_si512(u, _mm512_set1_epi16((short)0x8000)));
}

GEMM_INLINE __m512 ftz(__m512 r)
{
    const __m512i b = _mm512_castps_si512(r);
    const __mmask16 den = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f800000)) &
                          _mm512_test_epi32_mask(b, _mm512_set1_epi32(0x7fffffff));
    return _mm512_castsi512_ps(
        _mm512_mask_and_epi32(b, den, b, _mm512_set1_epi32((int)0x80000000u)));
}

/* 32 bf16 split into their odd (o) and even (e) elements as f32. */
typedef struct bf_pair {
    __m512 o, e;
} bf_pair;

GEMM_INLINE bf_pair bf_split(__m512 raw)
{
    const __m512i u = daz_bf16(_mm512_castps_si512(raw));
    return (bf_pair){_mm512_castsi512_ps(_mm512_and_si512(u, _mm512_set1_epi32((int)0xffff0000u))),
                     _mm512_castsi512_ps(_mm512_slli_epi32(u, 16))};
}

GEMM_INLINE __m512 dp_split(__m512 acc, bf_pair x, bf_pair y)
{
    acc = ftz(_mm512_fmadd_ps(x.o, y.o, acc));
    return ftz(_mm512_fmadd_ps(x.e, y.e, acc));
}

/* ---- the tiles ---------------------------------------------------------- */

GEMM_INLINE void tile_float(flt f, const gemm_tile_args *ta, float *out)
{
    const int64_t n = ta->n;
    const uint8_t *const *w = ta->w, *const *a = ta->a;
    const size_t es = f == FL_F32 ? 4 : 2;
    const int64_t step = f == FL_BF16 ? 32 : 16;
    __m512 acc[FL_RM][FL_RN];
    for (int r = 0; r < FL_RM; r++)
        for (int t = 0; t < FL_RN; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += step) {
        if (f == FL_BF16) {
            bf_pair x[FL_RM];
            for (int r = 0; r < FL_RM; r++)
                x[r] = bf_split(fl_load(f, w[r] + es * (size_t)i));
            for (int t = 0; t < FL_RN; t++) {
                const bf_pair y = bf_split(fl_load(f, a[t] + es * (size_t)i));
                for (int r = 0; r < FL_RM; r++)
                    acc[r][t] = dp_split(acc[r][t], x[r], y);
            }
            continue;
        }
        __m512 x[FL_RM];
        for (int r = 0; r < FL_RM; r++)
            x[r] = fl_load(f, w[r] + es * (size_t)i);
        for (int t = 0; t < FL_RN; t++) {
            const __m512 y = fl_load(f, a[t] + es * (size_t)i);
            for (int r = 0; r < FL_RM; r++)
                acc[r][t] = _mm512_fmadd_ps(x[r], y, acc[r][t]);
        }
    }
    for (int r = 0; r < FL_RM; r++)
        for (int t = 0; t < FL_RN; t++)
            out[r * GEMM_TILE_MAX + t] = _mm512_reduce_add_ps(acc[r][t]);
}

/* The same with the instruction, where the CPU has it. */
__attribute__((target("avx512bf16"))) static void
tile_bf16_native(const gemm_tile_args *ta, float *out)
{
    const int64_t n = ta->n;
    const uint8_t *const *w = ta->w, *const *a = ta->a;
    __m512 acc[FL_RM][FL_RN];
    for (int r = 0; r < FL_RM; r++)
        for (int t = 0; t < FL_RN; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 32) {
        __m512bh x[FL_RM];
        for (int r = 0; r < FL_RM; r++)
            x[r] = (__m512bh)_mm512_loadu_si512(w[r] + 2 * (size_t)i);
        for (int t = 0; t < FL_RN; t++) {
            const __m512bh y = (__m512bh)_mm512_loadu_si512(a[t] + 2 * (size_t)i);
#pragma GCC unroll 4
            for (int r = 0; r < FL_RM; r++)
                acc[r][t] = _mm512_dpbf16_ps(acc[r][t], x[r], y);
        }
    }
    for (int r = 0; r < FL_RM; r++)
        for (int t = 0; t < FL_RN; t++)
            out[r * GEMM_TILE_MAX + t] = _mm512_reduce_add_ps(acc[r][t]);
}

static void tile_f32(const gemm_tile_args *t, float *out)
{
    tile_float(FL_F32, t, out);
}

static void tile_f16(const gemm_tile_args *t, float *out)
{
    tile_float(FL_F16, t, out);
}

static void tile_bf16(const gemm_tile_args *t, float *out)
{
    tile_float(FL_BF16, t, out);
}

#define GEMM_ENTRY(NAME, TILE)                                                             \
    static void NAME(int64_t n, const void *w, size_t ws, int64_t rows, const void *a,     \
                     size_t as, int64_t n_tok, float *y, size_t ys)                        \
    {                                                                                      \
        static const gemm_shape s = {FL_RM, FL_RN, TILE, 0, NULL, NULL, 0, 0};                 \
        gemm_walk(&s, n, w, ws, rows, a, as, n_tok, y, ys);                                \
    }

GEMM_ENTRY(gemm_f32, tile_f32)
GEMM_ENTRY(gemm_f16, tile_f16)
GEMM_ENTRY(gemm_bf16, tile_bf16)
GEMM_ENTRY(gemm_bf16_native, tile_bf16_native)

static bool cpu_has_avx512bf16(void)
{
    unsigned a, b, c, d;
    /* leaf 7 subleaf 1, eax bit 5 */
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
}

void lp_avx512_fill_gemm_bf16(lp_kernels *k, bool native)
{
    k->gemm_tb[LP_TYPE_BF16] = native ? gemm_bf16_native : gemm_bf16;
}

void lp_avx512_fill_gemm_float(lp_kernels *k)
{
    k->gemm_tb[LP_TYPE_F32] = gemm_f32;
    k->gemm_tb[LP_TYPE_F16] = gemm_f16;
    /* The same choice as avx512_float.c makes for dot_gemm. */
    lp_avx512_fill_gemm_bf16(k, cpu_has_avx512bf16());
}

#else

void lp_avx512_fill_gemm_bf16(lp_kernels *k, bool native)
{
    (void)k;
    (void)native;
}

void lp_avx512_fill_gemm_float(lp_kernels *k)
{
    (void)k;
}

#endif
