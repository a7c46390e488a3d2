/* avx512_flash.c — flash attention's V accumulation with 512-bit vectors.
 *
 * ggml keeps the accumulator in memory and loads, updates and stores it
 * at every position; the chain through memory (store, reload, convert)
 * then costs more than all the rest of attention. Here a group of heads'
 * accumulators (at most 16 vectors) stays in registers for the whole
 * block, rounded to f16 after every step exactly as ggml's store would
 * (VCVTPS2PH to nearest even, then back), and each V row is loaded and
 * converted once for the group. Same element-wise formulas, same order
 * over positions, so the bits equal scalar_flash.c's. Head sizes that are
 * not a listed multiple of 16 take the per-position path with masked
 * tails. */
#include "flash.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define NEAR _MM_FROUND_TO_NEAREST_INT
#define INLINE static inline __attribute__((always_inline))

INLINE __m512 r16(__m512 x)
{
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, NEAR));
}

INLINE __m512 ld_f16(const void *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

INLINE void st_f16(void *p, __m512 x)
{
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(x, NEAR));
}

INLINE float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

/* A kv head's slice of a cache row is a few lines, rows a whole row of
 * every kv head apart: a stride the hardware prefetcher may not follow
 * far enough, so ask for the row this many positions ahead. (Reading past
 * the block's end is only a hint; prefetches never fault.) */
#define PREFETCH_ROWS 16

INLINE void prefetch_row(const uint8_t *p, int bytes)
{
    for (int o = 0; o < bytes; o += 64)
        _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}

/* Values 16 * i .. 16 * i + 15 of a q8_0 row. */
INLINE __m512 ld_q8(const uint8_t *row, int i)
{
    const uint8_t *blk = row + (size_t)(i / 2) * sizeof(lp_block_q8_0);
    const __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2 + 16 * (i % 2)));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(f16_at(blk)));
}

/* NH heads of NV vectors each (NV * NH <= 16) through n positions, the
 * accumulators in registers; F16 says whether they are f16 (rounded every
 * step) or f32, and V rows f16 or q8_0 to match. */
INLINE void run(const int NV, const int NH, const bool F16, int d, int g, int n, const uint8_t *v,
                size_t v_stride, const float *ms, const float *vs, void *acc)
{
    __m512 a[16], x[16];
#pragma GCC unroll 16
    for (int c = 0; c < NV * NH; c++) {
        const size_t at = (size_t)(c / NV) * d + (size_t)(c % NV) * 16;
        a[c] = F16 ? ld_f16((lp_half *)acc + at) : _mm512_loadu_ps((float *)acc + at);
    }
    for (int j = 0; j < n; j++, v += v_stride, ms += g, vs += g) {
        prefetch_row(v + PREFETCH_ROWS * v_stride, F16 ? 32 * NV : 17 * NV);
#pragma GCC unroll 16
        for (int i = 0; i < NV; i++)
            x[i] = F16 ? ld_f16(v + 32 * i) : ld_q8(v, i);
#pragma GCC unroll 16
        for (int h = 0; h < NH; h++) {
            if (ms[h] != 1.0f) {
                const __m512 m = _mm512_set1_ps(ms[h]);
#pragma GCC unroll 16
                for (int i = 0; i < NV; i++) {
                    a[h * NV + i] = _mm512_mul_ps(a[h * NV + i], m);
                    if (F16)
                        a[h * NV + i] = r16(a[h * NV + i]);
                }
            }
            const __m512 w = _mm512_set1_ps(vs[h]);
#pragma GCC unroll 16
            for (int i = 0; i < NV; i++) {
                a[h * NV + i] = _mm512_fmadd_ps(x[i], w, a[h * NV + i]);
                if (F16)
                    a[h * NV + i] = r16(a[h * NV + i]);
            }
        }
    }
#pragma GCC unroll 16
    for (int c = 0; c < NV * NH; c++) {
        const size_t at = (size_t)(c / NV) * d + (size_t)(c % NV) * 16;
        if (F16)
            st_f16((lp_half *)acc + at, a[c]);
        else
            _mm512_storeu_ps((float *)acc + at, a[c]);
    }
}

/* Heads [h, h + NH) with NH = 16 / nv when that many are left, else one:
 * returns how many it did, 0 if nv has no register form. */
#define GROUP(NV)                                                                             \
    case NV:                                                                                  \
        if (left >= 16 / NV) {                                                                \
            run(NV, 16 / NV, F16, d, g, n, v, v_stride, ms, vs, acc);                         \
            return 16 / NV;                                                                   \
        }                                                                                     \
        run(NV, 1, F16, d, g, n, v, v_stride, ms, vs, acc);                                   \
        return 1;

INLINE int group(const bool F16, int nv, int left, int d, int g, int n, const uint8_t *v,
                 size_t v_stride, const float *ms, const float *vs, void *acc)
{
    switch (nv) {
        GROUP(1)
        GROUP(2)
        GROUP(4)
        GROUP(5)
        GROUP(6)
        GROUP(8)
        GROUP(16)
    default: return 0;
    }
}

/* One position of one head, accumulator in memory (any d; q8_0: d % 32
 * == 0). */
static void step(bool f16, int d, void *acc, const uint8_t *v, float ms, float vs)
{
    for (int i = 0; i < d; i += 16) {
        const __mmask16 k = d - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - i)) - 1);
        __m512 y = f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, (lp_half *)acc + i))
                       : _mm512_maskz_loadu_ps(k, (float *)acc + i);
        const __m512 x = f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, v + 2 * i))
                             : ld_q8(v, i / 16);
        if (ms != 1.0f) {
            y = _mm512_mul_ps(y, _mm512_set1_ps(ms));
            if (f16)
                y = r16(y);
        }
        y = _mm512_fmadd_ps(x, _mm512_set1_ps(vs), y);
        if (f16)
            _mm256_mask_storeu_epi16((lp_half *)acc + i, k, _mm512_cvtps_ph(y, NEAR));
        else
            _mm512_mask_storeu_ps((float *)acc + i, k, y);
    }
}

INLINE void accumulate(const bool F16, int d, int g, int n, const uint8_t *v, size_t v_stride,
                       const float *ms, const float *vs, void *acc)
{
    const size_t esz = F16 ? sizeof(lp_half) : sizeof(float);
    for (int h = 0; h < g;) {
        uint8_t *ah = (uint8_t *)acc + (size_t)h * d * esz;
        int done = d % 16 ? 0 : group(F16, d / 16, g - h, d, g, n, v, v_stride, ms + h, vs + h, ah);
        if (done == 0) {
            for (int j = 0; j < n; j++)
                step(F16, d, ah, v + (size_t)j * v_stride, ms[(size_t)j * g + h],
                     vs[(size_t)j * g + h]);
            done = 1;
        }
        h += done;
    }
}

static void v16(int d, int g, int n, const uint8_t *v, size_t v_stride, const float *ms,
                const float *vs, lp_half *acc)
{
    accumulate(true, d, g, n, v, v_stride, ms, vs, acc);
}

static void vq8(int d, int g, int n, const uint8_t *v, size_t v_stride, const float *ms,
                const float *vs, float *acc)
{
    accumulate(false, d, g, n, v, v_stride, ms, vs, acc);
}

/* glibc's expf on 8 lanes (flash.h): in double, the fused steps where its
 * FMA build fuses them. */
static __m256 expf8(__m256 x)
{
    const __m512d xd = _mm512_cvtps_pd(x), inv = _mm512_set1_pd(LP_EXPF_INVLN2N);
    const __m512d shift = _mm512_set1_pd(LP_EXPF_SHIFT);
    const __m512d kd = _mm512_fmadd_pd(inv, xd, shift);
    const __m512i ki = _mm512_castpd_si512(kd);
    const __m512d r = _mm512_fmsub_pd(inv, xd, _mm512_sub_pd(kd, shift));
    const __m512i idx = _mm512_and_si512(ki, _mm512_set1_epi64(31));
    const __m512i t = _mm512_add_epi64(_mm512_i64gather_epi64(idx, (const void *)lp_expf_tab, 8),
                                       _mm512_slli_epi64(ki, 47));
    const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(LP_EXPF_C0), r, _mm512_set1_pd(LP_EXPF_C1));
    const __m512d y1 = _mm512_fmadd_pd(r, _mm512_set1_pd(LP_EXPF_C2), _mm512_set1_pd(1.0));
    const __m512d y = _mm512_fmadd_pd(z, _mm512_mul_pd(r, r), y1);
    return _mm512_cvtpd_ps(_mm512_mul_pd(y, _mm512_castsi512_pd(t)));
}

static void exp_n(const float *x, float *y, int n)
{
    const __m256i top = _mm256_set1_epi32(LP_EXPF_SPECIAL_TOP - 1);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256i t = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(v), 20),
                                           _mm256_set1_epi32(0x7ff));
        _mm256_storeu_ps(y + i, expf8(v));
        const __m256i big = _mm256_cmpgt_epi32(t, top);
        const unsigned special = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(big));
        for (int k = 0; special && k < 8; k++)
            if (special >> k & 1)
                y[i + k] = expf(x[i + k]);
    }
    for (; i < n; i++)
        y[i] = expf(x[i]);
}

/* ---- K·q for a group of heads ---------------------------------------------- */

/* Sums of 16 vectors at once: lane 4L + e gets the sum of v[4e + L], each
 * by the tree _mm512_reduce_add_ps uses (lanes i + 8, then i + 4, then
 * i + 2, then 1 into 0), shuffled so that four levels serve all 16. */
INLINE __m512 reduce16(const __m512 v[16])
{
    __m512 w[8], x[4], u[2];
    for (int k = 0; k < 8; k++)
        w[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xee));
    for (int m = 0; m < 4; m++)
        x[m] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * m], w[2 * m + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * m], w[2 * m + 1], 0xdd));
    for (int p = 0; p < 2; p++)
        u[p] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * p], x[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(x[2 * p], x[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

typedef struct qk_batch {
    __m512 v[16];
    float *dst[16];
    int n;
} qk_batch;

static void qk_flush(qk_batch *b)
{
    for (int k = b->n; k < 16; k++)
        b->v[k] = _mm512_setzero_ps();
    float r[16];
    _mm512_storeu_ps(r, reduce16(b->v));
    for (int k = 0; k < b->n; k++)
        *b->dst[k] = r[4 * (k % 4) + k / 4];
    b->n = 0;
}

/* NC chunks of 16 per head, as a constant so the K row and the four
 * accumulators stay in registers. */
INLINE void qk_rows(const int NC, int g, int n, const uint8_t *K, size_t k_stride,
                    const float *q, float *scores, size_t s_stride)
{
    qk_batch b = {.n = 0};
    for (int j = 0; j < n; j++, K += k_stride) {
        prefetch_row(K + PREFETCH_ROWS * k_stride, 32 * NC);
        __m512 kc[16];
#pragma GCC unroll 16
        for (int c = 0; c < NC; c++)
            kc[c] = ld_f16(K + 32 * c);
        for (int h = 0; h < g; h++) {
            /* ggml_vec_dot_f16: four accumulators over chunks of 64. */
            __m512 s[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                s[c] = _mm512_fmadd_ps(kc[c], _mm512_loadu_ps(q + (size_t)h * NC * 16 + 16 * c),
                                       _mm512_setzero_ps()); /* ggml's zeroed sums */
#pragma GCC unroll 16
            for (int c = 4; c < NC; c++)
                s[c % 4] = _mm512_fmadd_ps(kc[c], _mm512_loadu_ps(q + (size_t)h * NC * 16 + 16 * c),
                                           s[c % 4]);
            b.v[b.n] = _mm512_add_ps(_mm512_add_ps(s[0], s[2]), _mm512_add_ps(s[1], s[3]));
            b.dst[b.n++] = scores + (size_t)h * s_stride + j;
            if (b.n == 16)
                qk_flush(&b);
        }
    }
    if (b.n)
        qk_flush(&b);
}

static void qk16(int d, int g, int n, const uint8_t *K, size_t k_stride, const float *q,
                 float *scores, size_t s_stride)
{
    switch (d / 16) {
    case 4: qk_rows(4, g, n, K, k_stride, q, scores, s_stride); break;
    case 8: qk_rows(8, g, n, K, k_stride, q, scores, s_stride); break;
    case 12: qk_rows(12, g, n, K, k_stride, q, scores, s_stride); break;
    default: qk_rows(16, g, n, K, k_stride, q, scores, s_stride); break;
    }
}

void lp_flash_fill_avx512(lp_flash_kernels *f)
{
    f->v16 = v16;
    f->vq8 = vq8;
    f->exp = exp_n;
    f->qk16 = qk16;
}

#else

void lp_flash_fill_avx512(lp_flash_kernels *f)
{
    (void)f;
}

#endif
