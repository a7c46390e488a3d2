/* quantize_kquant.c — f32 to the k-quants Q2_K..Q6_K, one super-block of
 * 256 at a time, as ggml's quantize_row_q{2..6}_K_ref (ggml-quants.c).
 *
 * Each super-block is quantized in three steps: a scale (and for Q2_K,
 * Q4_K, Q5_K a min) per sub-block from the searches in
 * quantize_kquant_search.c; those scales themselves quantized against one
 * f16 super-scale; then every value re-quantized against the scale it
 * will actually be dequantized with. The packing follows the layouts that
 * quant_layout.c reads back. */
#include <math.h>
#include <string.h>

#include "quant_impl.h"
#include "quantize_internal.h"

static int clampi(int v, int lo, int hi)
{
    v = hi < v ? hi : v;
    return lo > v ? lo : v;
}

/* Q2_K and Q3_K store 2-bit values: value 32*s + l of each 128 in bits
 * 2s..2s+1 of byte l of that half's 32. */
static void pack2(const uint8_t *L, uint8_t qs[LP_QK_K / 4])
{
    for (int j = 0; j < LP_QK_K; j += 128) {
        for (int l = 0; l < 32; l++) {
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 |
                                      L[j + l + 64] << 4 | L[j + l + 96] << 6);
        }
    }
}

/* Q3_K and Q6_K: every value again against its stored signed scale
 * d * sc[j] (sixteen groups of 16), levels -nmax..nmax-1 biased by nmax. */
static void requantize16(const float *x, lp_half d16, const int8_t sc[16], int nmax, int8_t *L)
{
    for (int j = 0; j < 16; j++) {
        const float d = lp_f16_to_f32(d16) * sc[j];
        if (!d)
            continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = lp_qz_nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(clampi(l, -nmax, nmax - 1) + nmax);
        }
    }
}

/* ---- Q2_K ------------------------------------------------------------- */

static const lp_qz_search k_q2_search = { -0.5f, 0.1f, 15, true };

/* 4-bit codes for 16 non-negative values against their max / 15. Returns
 * the f16 super-scale (0 when the max is not positive). */
static lp_half q2_codes(const float v[16], uint8_t codes[16])
{
    float max = 0;
    for (int j = 0; j < 16; j++)
        max = v[j] > max ? v[j] : max;
    if (!(max > 0)) {
        memset(codes, 0, 16);
        return lp_qz_f16(0.f);
    }
    float iscale = 15.f / max;
    for (int j = 0; j < 16; j++)
        codes[j] = (uint8_t)lp_qz_nearest_int(iscale * v[j]);
    return lp_qz_f16(max / 15.f);
}

static void q2_K_block(const float *x, lp_block_q2_K *y)
{
    uint8_t L[LP_QK_K];
    float scales[16], mins[16], weights[16];
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++)
            weights[l] = fabsf(x[16 * j + l]);
        scales[j] = lp_qz_make_qkx2(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j],
                                    &k_q2_search);
    }
    uint8_t sc[16], mn[16];
    y->d = q2_codes(scales, sc);
    y->dmin = q2_codes(mins, mn);
    for (int j = 0; j < 16; j++)
        y->scales[j] = (uint8_t)(sc[j] | (unsigned)mn[j] << 4);

    for (int j = 0; j < 16; j++) {
        const float d = lp_f16_to_f32(y->d) * (y->scales[j] & 0xf);
        if (!d)
            continue;
        const float dm = lp_f16_to_f32(y->dmin) * (y->scales[j] >> 4);
        for (int ii = 0; ii < 16; ii++) {
            int l = lp_qz_nearest_int((x[16 * j + ii] + dm) / d);
            L[16 * j + ii] = (uint8_t)clampi(l, 0, 3);
        }
    }
    pack2(L, y->qs);
}

/* ---- Q3_K ------------------------------------------------------------- */

/* The sixteen 6-bit scales, biased by 32: low 4 bits in bytes 0..7 (two
 * per byte), high 2 bits in bytes 8..11 (four per byte). */
static void q3_pack_scales(const float scales[16], float max_scale, uint8_t out[12])
{
    float iscale = -32.f / max_scale;
    memset(out, 0, 12);
    for (int j = 0; j < 16; j++) {
        int8_t l8 = (int8_t)lp_qz_nearest_int(iscale * scales[j]); /* ggml's int8_t */
        int l = clampi(l8, -32, 31) + 32;
        if (j < 8)
            out[j] = (uint8_t)(l & 0xf);
        else
            out[j - 8] |= (uint8_t)((l & 0xf) << 4);
        out[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

/* Levels 0..7 to hmask (bit 2, value i in bit i/32 of byte i%32) and qs. */
static void q3_pack(int8_t *L, lp_block_q3_K *y)
{
    memset(y->hmask, 0, sizeof y->hmask);
    for (int j = 0; j < LP_QK_K; j++) {
        if (L[j] > 3) {
            y->hmask[j % 32] |= (uint8_t)(1u << (j / 32));
            L[j] = (int8_t)(L[j] - 4);
        }
    }
    pack2((const uint8_t *)L, y->qs);
}

static void q3_K_block(const float *x, lp_block_q3_K *y)
{
    int8_t L[LP_QK_K];
    float scales[16];
    for (int j = 0; j < 16; j++)
        scales[j] = lp_qz_make_q3(16, 4, x + 16 * j, L + 16 * j);
    const float max_scale = lp_qz_signed_absmax(scales, 16);
    if (max_scale) {
        q3_pack_scales(scales, max_scale, y->scales);
        y->d = lp_qz_f16(1 / (-32.f / max_scale));
    } else {
        memset(y->scales, 0, sizeof y->scales);
        y->d = lp_qz_f16(0.f);
    }

    int8_t sc[16];
    lp_q3_K_scales(y->scales, sc);
    for (int j = 0; j < 16; j++)
        sc[j] = (int8_t)(sc[j] - 32);
    requantize16(x, y->d, sc, 4, L);
    q3_pack(L, y);
}

/* ---- Q4_K and Q5_K ---------------------------------------------------- */

static const lp_qz_search k_q4_search = { -1.f, 0.1f, 20, false };
static const lp_qz_search k_q5_search = { -0.5f, 0.1f, 15, false };

/* Scales and mins of the eight sub-blocks of 32, weighted by |x| plus
 * the sub-block's rms. Returns the largest scale and sets *max_min. */
static float k4_subblocks(const float *x, int nmax, const lp_qz_search *s, uint8_t *L,
                          float scales[8], float mins[8], float *max_min)
{
    float max_scale = 0;
    *max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += xs[l] * xs[l];
        float av_x = sqrtf(sum_x2 / 32);
        float weights[32];
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(xs[l]);
        scales[j] = lp_qz_make_qkx2(32, nmax, xs, weights, L + 32 * j, &mins[j], s);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > *max_min)
            *max_min = mins[j];
    }
    return max_scale;
}

/* The 6-bit scale/min codes packed as lp_k4_scale_min unpacks them, and
 * the f16 d and dmin. */
static void k4_pack_scales(const float scales[8], const float mins[8], float max_scale,
                           float max_min, uint8_t out[12], lp_half *d, lp_half *dmin)
{
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)lp_qz_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)lp_qz_nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            out[j] = ls;
            out[j + 4] = lm;
        } else {
            out[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
            out[j - 4] |= (uint8_t)((ls >> 4) << 6);
            out[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d = lp_qz_f16(max_scale / 63.f);
    *dmin = lp_qz_f16(max_min / 63.f);
}

/* Every value again against its stored scale and min, levels 0..nmax. */
static void k4_requantize(const float *x, int nmax, const uint8_t packed[12], lp_half d16,
                          lp_half dmin16, uint8_t *L)
{
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        lp_k4_scale_min(j, packed, &sc, &m);
        const float d = lp_f16_to_f32(d16) * sc;
        if (!d)
            continue;
        const float dm = lp_f16_to_f32(dmin16) * m;
        for (int ii = 0; ii < 32; ii++) {
            int l = lp_qz_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)clampi(l, 0, nmax);
        }
    }
}

static void q4_K_block(const float *x, lp_block_q4_K *y)
{
    uint8_t L[LP_QK_K];
    float scales[8], mins[8], max_min;
    float max_scale = k4_subblocks(x, 15, &k_q4_search, L, scales, mins, &max_min);
    k4_pack_scales(scales, mins, max_scale, max_min, y->scales, &y->d, &y->dmin);
    k4_requantize(x, 15, y->scales, y->d, y->dmin, L);
    /* Each 64 values: the first 32 in low nibbles, the next 32 in high. */
    for (int j = 0; j < LP_QK_K; j += 64) {
        for (int l = 0; l < 32; l++)
            y->qs[j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

static void q5_K_block(const float *x, lp_block_q5_K *y)
{
    uint8_t L[LP_QK_K];
    float scales[8], mins[8], max_min;
    float max_scale = k4_subblocks(x, 31, &k_q5_search, L, scales, mins, &max_min);
    k4_pack_scales(scales, mins, max_scale, max_min, y->scales, &y->d, &y->dmin);
    k4_requantize(x, 31, y->scales, y->d, y->dmin, L);
    /* As Q4_K, with bit 4 of value i in bit i/32 of qh[i%32]. */
    memset(y->qh, 0, sizeof y->qh);
    for (int i = 0; i < LP_QK_K; i++) {
        if (L[i] > 15)
            y->qh[i % 32] |= (uint8_t)(1u << (i / 32));
    }
    for (int j = 0; j < LP_QK_K; j += 64) {
        for (int l = 0; l < 32; l++)
            y->qs[j / 2 + l] = (uint8_t)((L[j + l] & 0xf) | (L[j + l + 32] & 0xf) << 4);
    }
}

/* ---- Q6_K ------------------------------------------------------------- */

/* Levels 0..63: low nibbles in ql, high 2 bits in qh, per half of 128 as
 * lp_q6_K_quant reads them. */
static void q6_pack(const int8_t *L, lp_block_q6_K *y)
{
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0xf) | (Lh[l + 64] & 0xf) << 4);
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xf) | (Lh[l + 96] & 0xf) << 4);
            qh[l] = (uint8_t)(Lh[l] >> 4 | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                              (Lh[l + 96] >> 4) << 6);
        }
    }
}

static void q6_K_block(const float *x, lp_block_q6_K *y)
{
    int8_t L[LP_QK_K];
    float scales[16];
    for (int ib = 0; ib < 16; ib++)
        scales[ib] = lp_qz_make_qx(16, 32, x + 16 * ib, L + 16 * ib);
    const float max_scale = lp_qz_signed_absmax(scales, 16);
    if (fabsf(max_scale) < LP_QZ_GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = lp_qz_f16(1 / iscale);
    for (int ib = 0; ib < 16; ib++) {
        int s = lp_qz_nearest_int(iscale * scales[ib]);
        y->scales[ib] = (int8_t)(s < 127 ? s : 127);
    }
    requantize16(x, y->d, y->scales, 32, L);
    q6_pack(L, y);
}

/* ---- rows ------------------------------------------------------------- */

#define KQUANT_ROWS(name, block_t, block_fn)                                \
    void name(const float *x, uint8_t *dst, int64_t nb)                     \
    {                                                                       \
        for (int64_t i = 0; i < nb; i++) {                                  \
            block_t b;                                                      \
            block_fn(x + i * LP_QK_K, &b);                                  \
            memcpy(dst + (size_t)i * sizeof b, &b, sizeof b);               \
        }                                                                   \
    }

KQUANT_ROWS(lp_qz_q2_K, lp_block_q2_K, q2_K_block)
KQUANT_ROWS(lp_qz_q3_K, lp_block_q3_K, q3_K_block)
KQUANT_ROWS(lp_qz_q4_K, lp_block_q4_K, q4_K_block)
KQUANT_ROWS(lp_qz_q5_K, lp_block_q5_K, q5_K_block)
KQUANT_ROWS(lp_qz_q6_K, lp_block_q6_K, q6_K_block)
