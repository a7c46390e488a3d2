/* avx512_gemm_legacy_impl.h — register tiles of Q8_0 and Q4_0 weights
 * times Q8_0 activations (lp_gemm_fn), in the orders of the per-output
 * kernels: ggml_vec_dot's (avx512_legacy_impl.h, scalar_qdot.c) and that
 * of llama.cpp's repacked Q4_0 (q4_0x8.h). Included by exactly two
 * translation units, avx512_gemm_legacy.c and avx512vnni_gemm_legacy.c.
 *
 * A tile is 4 weight rows x 4 activation rows. vec_dot's order: one zmm
 * holds two outputs of a row, activation rows t and t+1 in its low and
 * high 256 bits, each as ggml's eight i32 (then f32) lanes of a block; per
 * block a weight row is decoded once for the four activations, an
 * activation pair loaded once for the four rows. Integer side: weights
 * are made unsigned by an offset, u = w + off (Q8_0: w ^ 0x80, off 128;
 * Q4_0: the raw nibble, off 8), so with VNNI a lane is one VPDPBUSD of u
 * and the activations a, started from -off * sum(a) over its four values:
 * exact in i32, the same integer as ggml's. Without VNNI, Q8_0 takes
 * ggml's |w| and sign-moved a (maddubs must not saturate) and Q4_0
 * subtracts the offset's maddubs. f32 side, per output and block, as the
 * per-output kernels: acc = fma(f16(w.d) * f16(a.d), lanes, acc) in eight
 * lanes, summed by lp_hsum_ps256 at the end.
 *
 * q4_0x8's order needs only each block's total per output, then
 * r = fma((float)total, d, r): see tile_x8_prep below.
 *
 * The rows' block scales (and for Q8_0 with VNNI their unsigned quants,
 * for q4_0x8 their transposed values) are prepared once per group of four
 * rows (gemm_tile.h's w_prep); rows too long for that buffer take the
 * tiles that read the rows themselves. */
#ifndef LP_AVX512_GEMM_LEGACY_IMPL_H
#define LP_AVX512_GEMM_LEGACY_IMPL_H

#include "gemm_impl.h"

#if defined(__x86_64__)

#include "avx512_util.h"
#include "gemm_tile.h"

#define GEMM_INLINE static inline __attribute__((always_inline))

enum { LEG_RM = 4, LEG_RN = 4, LEG_NP = LEG_RN / 2, BLK = 34 /* Q8_0 */, BLK_Q4 = 18 };

typedef enum { G_Q8_0, G_Q4_0 } gfmt;

#if defined(__AVX512VNNI__)
enum { SIGN_TRICK = 0 };
#else
enum { SIGN_TRICK = 1 };
#endif

/* One block of a weight row, decoded for the tile's four activations. */
typedef struct wblk {
    __m512i u;      /* unsigned bytes, the block's 32 values in both halves */
    __mmask64 neg;  /* Q8_0 without VNNI: where w < 0 (u is then |w|) */
} wblk;

GEMM_INLINE size_t w_blk(gfmt f)
{
    return f == G_Q8_0 ? BLK : BLK_Q4;
}

GEMM_INLINE wblk w_decode(gfmt f, const uint8_t *x)
{
    wblk b = {0};
    if (f == G_Q8_0) {
        const __m512i w = _mm512_broadcast_i64x4(lp_ld256(x + 2));
        if (SIGN_TRICK) {
            b.neg = _mm512_movepi8_mask(w);
            b.u = _mm512_abs_epi8(w);
        } else {
            b.u = _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
        }
        return b;
    }
    /* 128-bit lanes [lo, hi, lo, hi]: low nibbles are values 0..15, high
     * ones 16..31, so each half is the block in order. */
    const __m512i q = _mm512_broadcast_i32x4(lp_ld128(x + 2));
    const __m512i s = _mm512_mask_srli_epi16(q, (__mmask32)0xff00ff00u, q, 4);
    b.u = _mm512_and_si512(s, _mm512_set1_epi8(0x0f));
    return b;
}

/* Per activation pair and block: the quants and the lanes' start value
 * -off * sum(a) (not needed by the sign trick). */
typedef struct ablk {
    __m512i a, bias;
} ablk;

GEMM_INLINE ablk a_load(gfmt f, const uint8_t *y0, const uint8_t *y1)
{
    ablk p;
    p.a = lp_join256(lp_ld256(y0 + 2), lp_ld256(y1 + 2));
    if (f == G_Q8_0 && SIGN_TRICK) {
        p.bias = _mm512_setzero_si512();
        return p;
    }
    const __m512i off = _mm512_set1_epi8((char)(f == G_Q8_0 ? 0x80 : 8));
    p.bias = _mm512_sub_epi32(_mm512_setzero_si512(), lp_z_dot_u8s8(off, p.a));
    return p;
}

/* The sixteen i32 lanes (two outputs x ggml's eight) of one block. */
GEMM_INLINE __m512i pair_isum(gfmt f, wblk w, ablk p)
{
#if defined(__AVX512VNNI__)
    (void)f;
    return _mm512_dpbusd_epi32(p.bias, w.u, p.a);
#else
    if (f == G_Q8_0) {
        const __m512i s = _mm512_mask_sub_epi8(p.a, w.neg, _mm512_setzero_si512(), p.a);
        return lp_z_dot_u8s8(w.u, s);
    }
    return _mm512_add_epi32(lp_z_dot_u8s8(w.u, p.a), p.bias);
#endif
}

/* Block b's weight scale of row r: from w_prep's buffer (4 f32 per
 * block) or converted here. */
GEMM_INLINE float w_scale(const gemm_tile_args *t, int r, int64_t b, size_t bx)
{
    return t->prep ? ((const float *)t->prep)[4 * b + r] : lp_ld_f16(t->w[r] + b * bx);
}

/* [f16(y0.d) x8 | f16(y1.d) x8]. */
GEMM_INLINE __m512 a_scales(const uint8_t *y0, const uint8_t *y1)
{
    uint16_t h0, h1;
    memcpy(&h0, y0, 2);
    memcpy(&h1, y1, 2);
    const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)h0 | (uint32_t)h1 << 16)));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                 _mm512_castps128_ps512(f));
}

/* Q8_0 with VNNI: per block, the four rows' scales and their quants
 * already made unsigned (w ^ 0x80). */
typedef struct q8_prep {
    float d[4];
    uint8_t q[4][32];
} q8_prep;

/* ggml_vec_dot's order: per output, eight f32 lanes, one fma per block;
 * np activation pairs (the tile's 4 rows, or its first 2). */
GEMM_INLINE void tile_vecdot(gfmt f, int np, const gemm_tile_args *t, float *out)
{
    const size_t bx = w_blk(f);
    const uint8_t *const *w = t->w, *const *a = t->a;
    __m512 acc[LEG_RM][LEG_NP];
    for (int r = 0; r < LEG_RM; r++)
        for (int p = 0; p < np; p++)
            acc[r][p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < t->n / 32; b++) {
        ablk ap[LEG_NP];
        __m512 ad[LEG_NP];
        for (int p = 0; p < np; p++) {
            const uint8_t *y0 = a[2 * p] + b * BLK, *y1 = a[2 * p + 1] + b * BLK;
            ap[p] = a_load(f, y0, y1);
            ad[p] = a_scales(y0, y1);
        }
        for (int r = 0; r < LEG_RM; r++) {
            wblk wb;
            __m512 wd;
            if (f == G_Q8_0 && !SIGN_TRICK && t->prep) {
                const q8_prep *pp = (const q8_prep *)t->prep + b;
                wb.u = _mm512_broadcast_i64x4(lp_ld256(pp->q[r]));
                wd = _mm512_set1_ps(pp->d[r]);
            } else {
                wb = w_decode(f, w[r] + b * bx);
                wd = _mm512_set1_ps(w_scale(t, r, b, bx));
            }
            for (int p = 0; p < np; p++) {
                const __m512 d = _mm512_mul_ps(wd, ad[p]);
                acc[r][p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(pair_isum(f, wb, ap[p])),
                                            acc[r][p]);
            }
        }
    }
    for (int r = 0; r < LEG_RM; r++) {
        for (int p = 0; p < np; p++) {
            out[r * GEMM_TILE_MAX + 2 * p] = lp_hsum_ps256(_mm512_castps512_ps256(acc[r][p]));
            out[r * GEMM_TILE_MAX + 2 * p + 1] = lp_hsum_ps256(_mm512_extractf32x8_ps(acc[r][p], 1));
        }
    }
}

/* The sixteen lanes of z, z[k] = zmm of row k/2, pair k%2, as the block
 * totals of the sixteen outputs: element 8(r/2) + 4h + 2(r%2) + p holds
 * row r with activation 2p + h (h: the half). Exact i32 adds. */
GEMM_INLINE __m512i totals16(const __m512i z[8])
{
    __m512i t[4], u[2];
    for (int m = 0; m < 4; m++)
        t[m] = _mm512_add_epi32(_mm512_unpacklo_epi32(z[2 * m], z[2 * m + 1]),
                                _mm512_unpackhi_epi32(z[2 * m], z[2 * m + 1]));
    for (int m = 0; m < 2; m++)
        u[m] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * m], t[2 * m + 1]),
                                _mm512_unpackhi_epi64(t[2 * m], t[2 * m + 1]));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* The f16 field at each of four pointers, as f32 lanes 0..3. */
GEMM_INLINE __m128 f16x4(const uint8_t *const *p, size_t off)
{
    uint64_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint16_t h;
        memcpy(&h, p[i] + off, 2);
        v |= (uint64_t)h << (16 * i);
    }
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)v));
}

/* w_prep for 32-value blocks of bx bytes, f16 scale first: 4 f32 per
 * block, one per row. */
GEMM_INLINE void prep_scales(size_t bx, int64_t n, const uint8_t *const *w, void *prep)
{
    float *ws = prep;
    for (int64_t b = 0; b < n / 32; b++)
        _mm_storeu_ps(ws + 4 * b, f16x4(w, (size_t)b * bx));
}

/* ---- q4_0x8's order: per output one chain r = fma(total, d, r) --------
 * With prepared rows (the usual case) a tile's sixteen block totals come
 * straight out of eight VPDPBUSD, lane 4t + r for row r and activation t:
 * step j multiplies every row's dword j (values 4j..4j+3, as signed
 * w = u - 8, broadcast per 128-bit lane) with every activation's dword j
 * made unsigned (a + 128), the lanes starting from -128 * sum(w) of
 * their row. So each lane is sum(w * a), exactly, as ggml's total. */

typedef struct x8_prep {
    int32_t w[8][4]; /* w[j][r]: row r's signed values 4j..4j+3 */
    int32_t bias[4]; /* -128 * the sum of row r's values */
    float d[4];      /* row r's scale */
} x8_prep;

GEMM_INLINE void prep_x8(int64_t n, const uint8_t *const *w, void *out)
{
    x8_prep *p = out;
    /* Lane 4j + r of the result: dword j of row r, rows 0-1 from the first
     * source and 2-3 from the second. */
    __m512i idx[2];
    for (int h = 0; h < 2; h++) {
        int32_t v[16];
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++)
                v[4 * j + r] = (r < 2 ? 8 * r : 16 + 8 * (r - 2)) + 4 * h + j;
        idx[h] = _mm512_loadu_si512(v);
    }
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i v[4];
        for (int r = 0; r < 4; r++) {
            const __m256i u = lp_nibbles32(w[r] + b * BLK_Q4 + 2);
            const int32_t sum = (int32_t)lp_hsum_epi32_256(_mm256_sad_epu8(u, _mm256_setzero_si256()));
            p[b].bias[r] = -128 * (sum - 256);
            v[r] = _mm256_sub_epi8(u, _mm256_set1_epi8(8));
        }
        const __m512i r01 = lp_join256(v[0], v[1]), r23 = lp_join256(v[2], v[3]);
        _mm512_storeu_si512(&p[b].w[0][0], _mm512_permutex2var_epi32(r01, idx[0], r23));
        _mm512_storeu_si512(&p[b].w[4][0], _mm512_permutex2var_epi32(r01, idx[1], r23));
        _mm_storeu_ps(p[b].d, f16x4(w, (size_t)b * BLK_Q4));
    }
}

GEMM_INLINE void tile_x8_prep(const gemm_tile_args *t, float *out)
{
    const x8_prep *p = t->prep;
    const uint8_t *const *a = t->a;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    /* Lane 4t + r: activation t's dword j (t 0-1 from a01, 2-3 from a23). */
    __m512i idx[8];
    for (int j = 0; j < 8; j++) {
        int32_t v[16];
        for (int e = 0; e < 16; e++)
            v[e] = (e / 4 < 2 ? 8 * (e / 4) : 16 + 8 * (e / 4 - 2)) + j;
        idx[j] = _mm512_loadu_si512(v);
    }
    const __m512i it = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < t->n / 32; b++) {
        const uint8_t *y[4];
        for (int i = 0; i < 4; i++)
            y[i] = a[i] + b * BLK + 2;
        const __m512i a01 = _mm512_xor_si512(lp_join256(lp_ld256(y[0]), lp_ld256(y[1])), flip);
        const __m512i a23 = _mm512_xor_si512(lp_join256(lp_ld256(y[2]), lp_ld256(y[3])), flip);
        /* Two chains (even and odd j) halve the latency; integer adds,
         * so the total is the same. */
        __m512i s2[2] = {_mm512_broadcast_i32x4(lp_ld128(p[b].bias)), _mm512_setzero_si512()};
        for (int j = 0; j < 8; j++) {
            const __m512i aj = _mm512_permutex2var_epi32(a01, idx[j], a23);
            const __m512i wj = _mm512_broadcast_i32x4(lp_ld128(p[b].w[j]));
#if defined(__AVX512VNNI__)
            s2[j % 2] = _mm512_dpbusd_epi32(s2[j % 2], aj, wj);
#else
            s2[j % 2] = _mm512_add_epi32(s2[j % 2], lp_z_dot_u8s8(aj, wj));
#endif
        }
        const __m512i s = _mm512_add_epi32(s2[0], s2[1]);
        const __m512 wd = _mm512_broadcast_f32x4(_mm_loadu_ps(p[b].d));
        const __m512 ad = _mm512_permutexvar_ps(it, _mm512_castps128_ps512(f16x4(a, (size_t)b * BLK)));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(wd, ad), acc);
    }
    float v[16];
    _mm512_storeu_ps(v, acc);
    for (int e = 0; e < 16; e++)
        out[(e % 4) * GEMM_TILE_MAX + e / 4] = v[e];
}

/* Without prepared rows (too long for the buffer): the lanes of each
 * output's block as vec_dot has them, reduced to totals by totals16. */
GEMM_INLINE void tile_x8_raw(const gemm_tile_args *t, float *out)
{
    const uint8_t *const *w = t->w, *const *a = t->a;
    /* Row and activation of each element of totals16. */
    const __m512i ir = _mm512_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3);
    const __m512i it = _mm512_setr_epi32(0, 2, 0, 2, 1, 3, 1, 3, 0, 2, 0, 2, 1, 3, 1, 3);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < t->n / 32; b++) {
        ablk ap[LEG_NP];
        for (int p = 0; p < LEG_NP; p++)
            ap[p] = a_load(G_Q4_0, a[2 * p] + b * BLK, a[2 * p + 1] + b * BLK);
        __m512i z[8];
        for (int r = 0; r < LEG_RM; r++) {
            const wblk wb = w_decode(G_Q4_0, w[r] + b * BLK_Q4);
            for (int p = 0; p < LEG_NP; p++)
                z[2 * r + p] = pair_isum(G_Q4_0, wb, ap[p]);
        }
        const __m128 wd = f16x4(w, (size_t)b * BLK_Q4);
        const __m128 ad = f16x4(a, (size_t)b * BLK);
        const __m512 d = _mm512_mul_ps(_mm512_permutexvar_ps(ir, _mm512_castps128_ps512(wd)),
                                       _mm512_permutexvar_ps(it, _mm512_castps128_ps512(ad)));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(totals16(z)), d, acc);
    }
    float v[16];
    _mm512_storeu_ps(v, acc);
    for (int e = 0; e < 16; e++) {
        const int r = 2 * (e / 8) + (e % 4) / 2, tok = 2 * (e % 2) + (e / 4) % 2;
        out[r * GEMM_TILE_MAX + tok] = v[e];
    }
}

static void prep_q8_0(int64_t n, const uint8_t *const *w, void *prep)
{
    if (SIGN_TRICK) {
        prep_scales(BLK, n, w, prep);
        return;
    }
    q8_prep *p = prep;
    for (int64_t b = 0; b < n / 32; b++) {
        _mm_storeu_ps(p[b].d, f16x4(w, (size_t)b * BLK));
        for (int r = 0; r < 4; r++)
            _mm256_storeu_si256((__m256i *)p[b].q[r],
                                _mm256_xor_si256(lp_ld256(w[r] + b * BLK + 2), _mm256_set1_epi8((char)0x80)));
    }
}

static void prep_q4_0(int64_t n, const uint8_t *const *w, void *prep)
{
    prep_scales(BLK_Q4, n, w, prep);
}

static void tile_q8_0_44(const gemm_tile_args *t, float *out)
{
    tile_vecdot(G_Q8_0, 2, t, out);
}

static void tile_q8_0_42(const gemm_tile_args *t, float *out)
{
    tile_vecdot(G_Q8_0, 1, t, out);
}

static void tile_q4_0_44(const gemm_tile_args *t, float *out)
{
    tile_vecdot(G_Q4_0, 2, t, out);
}

static void tile_q4_0_42(const gemm_tile_args *t, float *out)
{
    tile_vecdot(G_Q4_0, 1, t, out);
}

static void tile_q4_0x8_44(const gemm_tile_args *t, float *out)
{
    if (t->prep)
        tile_x8_prep(t, out);
    else
        tile_x8_raw(t, out);
}

static void prep_q4_0x8(int64_t n, const uint8_t *const *w, void *prep)
{
    prep_x8(n, w, prep);
}

#define GEMM_ENTRY(NAME, ...)                                                              \
    static void NAME(int64_t n, const void *w, size_t ws, int64_t rows, const void *a,     \
                     size_t as, int64_t n_tok, float *y, size_t ys)                        \
    {                                                                                      \
        static const gemm_shape s = {__VA_ARGS__};                                         \
        gemm_walk(&s, n, w, ws, rows, a, as, n_tok, y, ys);                                \
    }

GEMM_ENTRY(gemm_q8_0, LEG_RM, LEG_RN, tile_q8_0_44, 2, tile_q8_0_42, prep_q8_0, 32,
           SIGN_TRICK ? 16 : sizeof(q8_prep))
GEMM_ENTRY(gemm_q4_0, LEG_RM, LEG_RN, tile_q4_0_44, 2, tile_q4_0_42, prep_q4_0, 32, 16)
GEMM_ENTRY(gemm_q4_0x8, LEG_RM, LEG_RN, tile_q4_0x8_44, 0, NULL, prep_q4_0x8, 32,
           sizeof(x8_prep))

static void fill_gemm_legacy(lp_kernels *k)
{
    k->gemm[LP_TYPE_Q8_0] = gemm_q8_0;
    k->gemm[LP_TYPE_Q4_0] = gemm_q4_0;
    k->gemm_q4_0x8 = gemm_q4_0x8;
}

#else

static void fill_gemm_legacy(lp_kernels *k)
{
    (void)k;
}

#endif

#endif
