/* avx512_gemm_kquant_impl.h — register tiles of Q4_K and Q6_K weights
 * times Q8_K activations (lp_gemm_fn), each output in the order of the
 * per-output kernels (avx512_kquant_impl.h, scalar_kdot.c: ggml's x86
 * vec_dot). Included by exactly two translation units,
 * avx512_gemm_kquant.c and avx512vnni_gemm_kquant.c.
 *
 * A tile is 4 weight rows x 4 activation rows. Per super-block, each
 * quarter (64 values) of a weight row is decoded once for the four
 * activations, and each activation quarter is read once per row from L1.
 * The integer lanes are avx512_kquant_impl.h's: a zmm covers 64 values,
 * each half one 32-value chunk in ggml's lane layout, folded into ggml's
 * eight i32 lanes at the end of the super-block (exact). With VNNI a
 * quarter is two steps: Q4_K's maddubs pairs into VPDPWSSD with (scale,
 * scale); for Q6_K, VPDPBUSD of the unsigned quants and the activations,
 * started from -32 * sum(a) for the offset, gives four-value sums t
 * (|t| < 2^15), and VPDPWSSD with (scale, 0) pairs adds scale * t.
 * Without VNNI it is the per-output kernel's maddubs steps. Each row's
 * super-block header (unpacked scales and mins, d, dmin) is prepared once
 * per group of four rows (gemm_tile.h's w_prep).
 *
 * f32 side, per output and super-block, as the per-output kernels: acc =
 * fma(f16(w.d) * a.d, lanes, acc) in eight lanes, two outputs (activation
 * rows t, t+1) per zmm; Q4_K's mins accm = fnmadd(f16(w.dmin) * a.d,
 * mins . bsums, accm) in four lanes, four outputs per zmm; at the end
 * hsum8(acc) (+ hsum4(accm)). */
#ifndef LP_AVX512_GEMM_KQUANT_IMPL_H
#define LP_AVX512_GEMM_KQUANT_IMPL_H

#include "gemm_impl.h"

#if defined(__x86_64__)

#include "avx512_util.h"
#include "gemm_tile.h"

#define GEMM_INLINE static inline __attribute__((always_inline))

enum { KQ_RM = 4, KQ_RN = 4, KQ_NP = KQ_RN / 2 };

#define KQ_QS offsetof(lp_block_q8_K, qs)
#define KQ_BSUMS offsetof(lp_block_q8_K, bsums)

typedef enum { KF_Q4_K, KF_Q6_K } kfmt;

GEMM_INLINE size_t kf_size(kfmt f)
{
    return f == KF_Q4_K ? sizeof(lp_block_q4_K) : sizeof(lp_block_q6_K);
}

/* Lanes [g x8, g+1 x8] (32-value scale groups) or [g x4 .. g+3 x4]. */
GEMM_INLINE __m512i kq_idx(kfmt f, int j)
{
    if (f == KF_Q4_K)
        return _mm512_add_epi32(_mm512_set1_epi32(2 * j),
                                _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    return _mm512_add_epi32(_mm512_set1_epi32(4 * j),
                            _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
}

/* Sixteen i32 scales as the multiplier of the integer step: (s, 0) i16
 * pairs for Q6_K's VPDPWSSD on four-value sums, (s, s) for maddubs
 * pairs. */
GEMM_INLINE __m512i kq_scale_pairs(kfmt f, __m512i s32)
{
#if defined(__AVX512VNNI__)
    if (f == KF_Q6_K)
        return _mm512_and_si512(s32, _mm512_set1_epi32(0xffff));
#endif
    (void)f;
    return lp_z_pair16(s32);
}

/* One weight row's super-block, as the tile uses it. */
typedef struct krow {
    __m512i S;    /* scales, one per i32 lane (kq_scale_pairs) */
    __m512i mins; /* Q4_K: the 8 mins as i16 in every 128-bit lane */
    float d, dmin;
} krow;

/* w_prep's output for one super-block of the tile's rows: their krow
 * fields, so a tile only loads them. */
typedef struct kq_prep {
    __m512i S[KQ_RM];
    __m128i mins[KQ_RM];
    float d[KQ_RM], dmin[KQ_RM];
} kq_prep;

GEMM_INLINE krow kq_row(kfmt f, const uint8_t *x)
{
    krow k;
    if (f == KF_Q4_K) {
        uint64_t scales, mins;
        lp_k4_unpack(x + offsetof(lp_block_q4_K, scales), &scales, &mins);
        k.S = kq_scale_pairs(f, _mm512_cvtepu8_epi32(_mm_cvtsi64_si128((long long)scales)));
        k.mins = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mins)));
        k.d = lp_ld_f16(x + offsetof(lp_block_q4_K, d));
        k.dmin = lp_ld_f16(x + offsetof(lp_block_q4_K, dmin));
    } else {
        k.S = kq_scale_pairs(f, _mm512_cvtepi8_epi32(lp_ld128(x + offsetof(lp_block_q6_K, scales))));
        k.mins = _mm512_setzero_si512();
        k.d = lp_ld_f16(x + offsetof(lp_block_q6_K, d));
        k.dmin = 0.0f;
    }
    return k;
}

/* Quarter j (values 64j..64j+63) of a weight super-block as unsigned
 * quants in the activations' order (avx512_kquant_impl.h's layouts). */
GEMM_INLINE __m512i kq_quarter(kfmt f, const uint8_t *x, int j)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    if (f == KF_Q4_K)
        return _mm512_and_si512(lp_z_dup_srl(x + offsetof(lp_block_q4_K, qs) + 32 * j, 4), m4);
    const int h = j / 2;
    const __m512i l = lp_ld512(x + offsetof(lp_block_q6_K, ql) + 64 * h);
    const __m512i hz = lp_z_dup_srl(x + offsetof(lp_block_q6_K, qh) + 32 * h, 2);
    const __m512i hm = _mm512_and_si512(hz, _mm512_set1_epi8(0x33));
    /* VPTERNLOG 0xE4: c ? a : b, bit by bit. */
    if (j % 2 == 0)
        return _mm512_ternarylogic_epi32(l, _mm512_slli_epi16(hm, 4), m4, 0xE4);
    return _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), hm, m4, 0xE4);
}

/* What an activation quarter needs besides its quants: Q6_K's offset,
 * as the lanes' start -32 * sum(a) (VNNI) or maddubs(32, a) (without). */
GEMM_INLINE __m512i kq_offset(kfmt f, __m512i a)
{
    if (f == KF_Q4_K)
        return _mm512_setzero_si512();
    const __m512i m32 = _mm512_set1_epi8(32);
#if defined(__AVX512VNNI__)
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), m32, a));
#else
    return _mm512_maddubs_epi16(m32, a);
#endif
}

/* sumi + the scaled lanes of one quarter. */
GEMM_INLINE __m512i kq_step(kfmt f, __m512i sumi, __m512i u, __m512i a, __m512i off, __m512i s)
{
#if defined(__AVX512VNNI__)
    /* Q4_K: maddubs pairs need no zeroed accumulator, one step fewer. */
    if (f == KF_Q4_K)
        return _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(u, a), s);
    return _mm512_dpwssd_epi32(sumi, _mm512_dpbusd_epi32(off, u, a), s);
#else
    __m512i p = _mm512_maddubs_epi16(u, a);
    if (f == KF_Q6_K)
        p = _mm512_sub_epi16(p, off);
    return _mm512_add_epi32(sumi, _mm512_madd_epi16(p, s));
#endif
}

/* [fold(s0) | fold(s1)]: ggml's eight lanes of two outputs. */
GEMM_INLINE __m512i kq_fold2(__m512i s0, __m512i s1)
{
    return _mm512_add_epi32(_mm512_shuffle_i32x4(s0, s1, _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_i32x4(s0, s1, _MM_SHUFFLE(3, 2, 3, 2)));
}

/* [bs_t0 | bs_t1 | bs_t2 | bs_t3], bs_t[k] = bsums[2k] + bsums[2k+1] as
 * i16 (the per-output kernel's hadd; exact). */
GEMM_INLINE __m512i kq_bsums4(const uint8_t *const *y)
{
    __m256i h[2];
    for (int i = 0; i < 2; i++) {
        const uint8_t *p = y[2 * i] + KQ_BSUMS, *q = y[2 * i + 1] + KQ_BSUMS;
        h[i] = _mm256_hadd_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(lp_ld128(p)), lp_ld128(q), 1),
                                 _mm256_inserti128_si256(_mm256_castsi128_si256(lp_ld128(p + 16)),
                                                         lp_ld128(q + 16), 1));
    }
    return lp_join256(h[0], h[1]);
}

GEMM_INLINE void tile_kquant(kfmt f, int np, const gemm_tile_args *ta, float *out)
{
    const int64_t n = ta->n;
    const uint8_t *const *w = ta->w, *const *a = ta->a;
    const int nt = 2 * np;
    const size_t bx = kf_size(f), by = sizeof(lp_block_q8_K);
    __m512 acc[KQ_RM][KQ_NP], accm[KQ_RM];
    for (int r = 0; r < KQ_RM; r++) {
        accm[r] = _mm512_setzero_ps();
        for (int p = 0; p < np; p++)
            acc[r][p] = _mm512_setzero_ps();
    }
    const kq_prep *prep = ta->prep;
    for (int64_t i = 0; i < n / LP_QK_K; i++) {
        const uint8_t *x[KQ_RM], *y[KQ_RN];
        krow k[KQ_RM];
        for (int r = 0; r < KQ_RM; r++) {
            x[r] = w[r] + i * bx;
            if (prep) {
                k[r] = (krow){prep[i].S[r], _mm512_broadcast_i32x4(prep[i].mins[r]), prep[i].d[r],
                              prep[i].dmin[r]};
            } else {
                k[r] = kq_row(f, x[r]);
            }
        }
        for (int t = 0; t < KQ_RN; t++)
            y[t] = a[t < nt ? t : nt - 1] + i * by;
        __m512i sumi[KQ_RM][KQ_RN];
        for (int r = 0; r < KQ_RM; r++)
            for (int t = 0; t < nt; t++)
                sumi[r][t] = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            __m512i u[KQ_RM], s[KQ_RM], aq[KQ_RN], off[KQ_RN];
            for (int t = 0; t < nt; t++) {
                aq[t] = lp_ld512(y[t] + KQ_QS + 64 * j);
                off[t] = kq_offset(f, aq[t]);
            }
            for (int r = 0; r < KQ_RM; r++) {
                u[r] = kq_quarter(f, x[r], j);
                s[r] = _mm512_permutexvar_epi32(kq_idx(f, j), k[r].S);
            }
            for (int r = 0; r < KQ_RM; r++)
                for (int t = 0; t < nt; t++)
                    sumi[r][t] = kq_step(f, sumi[r][t], u[r], aq[t], off[t], s[r]);
        }
        /* ad: activation t's f32 scale in lane t. */
        const __m128 ad = _mm_setr_ps(lp_ld_f32(y[0]), lp_ld_f32(y[1]), lp_ld_f32(y[2]),
                                      lp_ld_f32(y[3]));
        const __m512 adz = _mm512_castps128_ps512(ad);
        for (int p = 0; p < np; p++) {
            const __m512i ip = _mm512_setr_epi32(2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p,
                                                 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1,
                                                 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1);
            const __m512 adp = _mm512_permutexvar_ps(ip, adz);
            for (int r = 0; r < KQ_RM; r++) {
                const __m512 d = _mm512_mul_ps(_mm512_set1_ps(k[r].d), adp);
                const __m512i lanes = kq_fold2(sumi[r][2 * p], sumi[r][2 * p + 1]);
                acc[r][p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(lanes), acc[r][p]);
            }
        }
        if (f == KF_Q4_K) {
            const __m512i bs = kq_bsums4(y);
            const __m512 ad4 = _mm512_permutexvar_ps(
                _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), adz);
            for (int r = 0; r < KQ_RM; r++) {
                const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(k[r].dmin), ad4);
                const __m512i mp = _mm512_madd_epi16(k[r].mins, bs);
                /* fnmadd: -(dmin*m) + accm, as the per-output kernel. */
                accm[r] = _mm512_fnmadd_ps(dmin, _mm512_cvtepi32_ps(mp), accm[r]);
            }
        }
    }
    for (int r = 0; r < KQ_RM; r++) {
        float m[16];
        _mm512_storeu_ps(m, accm[r]);
        for (int p = 0; p < np; p++) {
            for (int h = 0; h < 2; h++) {
                const __m256 v = h ? _mm512_extractf32x8_ps(acc[r][p], 1) : _mm512_castps512_ps256(acc[r][p]);
                const int t = 2 * p + h;
                float sum = lp_hsum_ps256(v);
                if (f == KF_Q4_K)
                    sum = sum + lp_hsum_ps128(_mm_loadu_ps(m + 4 * t));
                out[r * GEMM_TILE_MAX + t] = sum;
            }
        }
    }
}

GEMM_INLINE void prep_kquant(kfmt f, int64_t n, const uint8_t *const *w, void *out)
{
    kq_prep *p = out;
    for (int64_t i = 0; i < n / LP_QK_K; i++) {
        for (int r = 0; r < KQ_RM; r++) {
            const krow k = kq_row(f, w[r] + i * kf_size(f));
            p[i].S[r] = k.S;
            p[i].mins[r] = _mm512_castsi512_si128(k.mins);
            p[i].d[r] = k.d;
            p[i].dmin[r] = k.dmin;
        }
    }
}

static void prep_q4_K(int64_t n, const uint8_t *const *w, void *out)
{
    prep_kquant(KF_Q4_K, n, w, out);
}

static void prep_q6_K(int64_t n, const uint8_t *const *w, void *out)
{
    prep_kquant(KF_Q6_K, n, w, out);
}

static void tile_q4_K_44(const gemm_tile_args *t, float *out)
{
    tile_kquant(KF_Q4_K, 2, t, out);
}

static void tile_q4_K_42(const gemm_tile_args *t, float *out)
{
    tile_kquant(KF_Q4_K, 1, t, out);
}

static void tile_q6_K_44(const gemm_tile_args *t, float *out)
{
    tile_kquant(KF_Q6_K, 2, t, out);
}

static void tile_q6_K_42(const gemm_tile_args *t, float *out)
{
    tile_kquant(KF_Q6_K, 1, t, out);
}

#define GEMM_ENTRY(NAME, ...)                                                              \
    static void NAME(int64_t n, const void *w, size_t ws, int64_t rows, const void *a,     \
                     size_t as, int64_t n_tok, float *y, size_t ys)                        \
    {                                                                                      \
        static const gemm_shape s = {__VA_ARGS__};                                         \
        gemm_walk(&s, n, w, ws, rows, a, as, n_tok, y, ys);                                \
    }

GEMM_ENTRY(gemm_q4_K, KQ_RM, KQ_RN, tile_q4_K_44, 2, tile_q4_K_42, prep_q4_K, LP_QK_K,
           sizeof(kq_prep))
GEMM_ENTRY(gemm_q6_K, KQ_RM, KQ_RN, tile_q6_K_44, 2, tile_q6_K_42, prep_q6_K, LP_QK_K,
           sizeof(kq_prep))

static void fill_gemm_kquant(lp_kernels *k)
{
    k->gemm[LP_TYPE_Q4_K] = gemm_q4_K;
    k->gemm[LP_TYPE_Q6_K] = gemm_q6_K;
}

#else

static void fill_gemm_kquant(lp_kernels *k)
{
    (void)k;
}

#endif

#endif
