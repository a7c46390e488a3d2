/* scalar_kdot.c — scalar emulation of ggml's x86 dots of the K-quants
 * (Q2_K..Q6_K) with Q8_K activations (see scalar_impl.h for why).
 *
 * ggml-cpu-quants.c's AVX2 kernels, per super-block of 256 values in
 * order, with d = y.d * f16(x.d) and dmin = -y.d * f16(x.dmin):
 *
 *   lane_l  = exact integer sum of scale * w * a over the values
 *             32c + 4l .. 32c + 4l + 3 of every chunk c = 0..7, with the
 *             format's offset inside w (Q3_K: q-4, Q6_K: q-32)
 *   Q2_K:     acc[l] = fma(dmin, (float)(min_2l*bsum_2l + min_2l+1*bsum_2l+1), acc[l])
 *             before acc[l] = fma(d, (float)lane_l, acc[l])
 *   Q3_K, Q6_K: acc[l] = fma(d, (float)lane_l, acc[l])
 *   Q4_K:     accm[k] = fma(dmin, (float)(min_2k*(bsum_4k+bsum_4k+1)
 *             + min_2k+1*(bsum_4k+2+bsum_4k+3)), accm[k]), k = 0..3,
 *             and acc[l] = fma(d, (float)lane_l, acc[l]);
 *             result hsum8(acc) + hsum4(accm)
 *   Q5_K:     summs = fma(dmin, (float)(sum_j min_j*(bsum_2j+bsum_2j+1)), summs)
 *             (GNU C contracts ggml's scalar "summs += dmin * m"),
 *             acc as Q4_K; result hsum8(acc) + summs
 *
 * and otherwise returns hsum8(acc). The packed scales are read with the
 * helpers the dequantizer uses (quant_impl.h); the quants are unpacked
 * here a whole block at a time (the per-value helpers are a call each),
 * and test_kernels checks both against lp_vec_dot_ref. */
#include <math.h>

#include "quant_impl.h"
#include "scalar_impl.h"

/* lane[l] of one super-block: q are the signed weights, scale[i / 16]
 * the scale of value i. */
static void lanes(int32_t lane[8], const int8_t q[LP_QK_K], const int8_t a[LP_QK_K],
                  const int scale[16])
{
    for (int l = 0; l < 8; l++) {
        int32_t s = 0;
        for (int c = 0; c < 8; c++) {
            for (int t = 32 * c + 4 * l; t < 32 * c + 4 * l + 4; t++)
                s += scale[t / 16] * (q[t] * a[t]);
        }
        lane[l] = s;
    }
}

/* Q2_K and Q3_K: value 128h + 32k + l has bits 2k..2k+1 of qs[32h + l]. */
static void unpack2(const uint8_t qs[LP_QK_K / 4], int8_t q[LP_QK_K])
{
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
                q[128 * h + 32 * k + l] = (int8_t)((qs[32 * h + l] >> (2 * k)) & 3);
}

/* Q4_K and Q5_K: value 64j + l is the low nibble of qs[32j + l], value
 * 64j + 32 + l its high nibble; the fifth bit (Q5_K) is bit 2j resp.
 * 2j + 1 of qh[l]. */
static void unpack45(const uint8_t qs[LP_QK_K / 2], const uint8_t *qh, int8_t q[LP_QK_K])
{
    for (int j = 0; j < 4; j++) {
        for (int l = 0; l < 32; l++) {
            const uint8_t b = qs[32 * j + l];
            int lo = b & 0xf, hi = b >> 4;
            if (qh) {
                lo |= ((qh[l] >> (2 * j)) & 1) << 4;
                hi |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
            }
            q[64 * j + l] = (int8_t)lo;
            q[64 * j + 32 + l] = (int8_t)hi;
        }
    }
}

static void lanes_fma(float acc[8], float d, const int32_t lane[8])
{
    for (int l = 0; l < 8; l++)
        acc[l] = fmaf(d, (float)lane[l], acc[l]);
}

static float dot_q2_K(int64_t n, const void *w, const void *a)
{
    float acc[8] = { 0 };
    for (int64_t i = 0; i < n / LP_QK_K; i++) {
        lp_block_q2_K x;
        lp_block_q8_K y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        const float d = y.d * lp_f16_to_f32(x.d);
        const float dmin = -y.d * lp_f16_to_f32(x.dmin);
        int32_t lane[8];
        for (int l = 0; l < 8; l++)
            lane[l] = (x.scales[2 * l] >> 4) * y.bsums[2 * l]
                    + (x.scales[2 * l + 1] >> 4) * y.bsums[2 * l + 1];
        lanes_fma(acc, dmin, lane);
        int8_t q[LP_QK_K];
        int scale[16];
        unpack2(x.qs, q);
        for (int g = 0; g < 16; g++)
            scale[g] = x.scales[g] & 0xf;
        lanes(lane, q, y.qs, scale);
        lanes_fma(acc, d, lane);
    }
    return lp_lanes8_hsum(acc);
}

static float dot_q3_K(int64_t n, const void *w, const void *a)
{
    float acc[8] = { 0 };
    for (int64_t i = 0; i < n / LP_QK_K; i++) {
        lp_block_q3_K x;
        lp_block_q8_K y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int8_t q[LP_QK_K], raw[16];
        int scale[16];
        /* Low 2 bits as Q2_K; hmask bit 4h+k of byte l clear: 4 lower. */
        unpack2(x.qs, q);
        for (int k = 0; k < LP_QK_K; k++)
            q[k] = (int8_t)(q[k] - ((x.hmask[k % 32] >> (k / 32)) & 1 ? 0 : 4));
        lp_q3_K_scales(x.scales, raw);
        for (int g = 0; g < 16; g++)
            scale[g] = raw[g] - 32;
        int32_t lane[8];
        lanes(lane, q, y.qs, scale);
        lanes_fma(acc, y.d * lp_f16_to_f32(x.d), lane);
    }
    return lp_lanes8_hsum(acc);
}

/* Q4_K and Q5_K: the same but for the fifth bit and how the mins are
 * accumulated (see the top of the file). */
static float dot_k45(int64_t n, const void *w, const void *a, bool five_bit)
{
    float acc[8] = { 0 }, accm[4] = { 0 };
    float summs = 0.0f;
    for (int64_t i = 0; i < n / LP_QK_K; i++) {
        lp_block_q4_K x4;
        lp_block_q5_K x5;
        lp_block_q8_K y;
        const uint8_t *packed;
        lp_half hd, hdmin;
        int8_t q[LP_QK_K];
        if (five_bit) {
            LP_LOAD_BLOCK(x5, w, i);
            unpack45(x5.qs, x5.qh, q);
            packed = x5.scales, hd = x5.d, hdmin = x5.dmin;
        } else {
            LP_LOAD_BLOCK(x4, w, i);
            unpack45(x4.qs, NULL, q);
            packed = x4.scales, hd = x4.d, hdmin = x4.dmin;
        }
        LP_LOAD_BLOCK(y, a, i);
        const float d = y.d * lp_f16_to_f32(hd);
        const float dmin = -y.d * lp_f16_to_f32(hdmin);
        int scale[16], mins[8];
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            lp_k4_scale_min(j, packed, &sc, &mn);
            scale[2 * j] = scale[2 * j + 1] = sc;
            mins[j] = mn;
        }
        /* Sums of the 32 activations of each min's group. */
        int32_t pm[4];
        for (int k = 0; k < 4; k++)
            pm[k] = mins[2 * k] * (y.bsums[4 * k] + y.bsums[4 * k + 1])
                  + mins[2 * k + 1] * (y.bsums[4 * k + 2] + y.bsums[4 * k + 3]);
        if (five_bit) {
            summs = fmaf(dmin, (float)(pm[0] + pm[1] + pm[2] + pm[3]), summs);
        } else {
            for (int k = 0; k < 4; k++)
                accm[k] = fmaf(dmin, (float)pm[k], accm[k]);
        }
        int32_t lane[8];
        lanes(lane, q, y.qs, scale);
        lanes_fma(acc, d, lane);
    }
    const float sum = lp_lanes8_hsum(acc);
    return five_bit ? sum + summs : sum + lp_lanes4_hsum(accm);
}

static float dot_q4_K(int64_t n, const void *w, const void *a)
{
    return dot_k45(n, w, a, false);
}

static float dot_q5_K(int64_t n, const void *w, const void *a)
{
    return dot_k45(n, w, a, true);
}

static float dot_q6_K(int64_t n, const void *w, const void *a)
{
    float acc[8] = { 0 };
    for (int64_t i = 0; i < n / LP_QK_K; i++) {
        lp_block_q6_K x;
        lp_block_q8_K y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int8_t q[LP_QK_K];
        int scale[16];
        /* In half h: value 128h + 32k + l takes a nibble of ql[64h + l]
         * (k = 0, 2: low, high) or ql[64h + 32 + l] (k = 1, 3) and bits
         * 2k..2k+1 of qh[32h + l]; minus 32. */
        for (int h = 0; h < 2; h++) {
            for (int k = 0; k < 4; k++) {
                for (int l = 0; l < 32; l++) {
                    const int lo = (x.ql[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 0xf;
                    const int hi = (x.qh[32 * h + l] >> (2 * k)) & 3;
                    q[128 * h + 32 * k + l] = (int8_t)((lo | hi << 4) - 32);
                }
            }
        }
        for (int g = 0; g < 16; g++)
            scale[g] = x.scales[g];
        int32_t lane[8];
        lanes(lane, q, y.qs, scale);
        lanes_fma(acc, y.d * lp_f16_to_f32(x.d), lane);
    }
    return lp_lanes8_hsum(acc);
}

void lp_scalar_fill_kdot(lp_kernels *k)
{
    k->dot[LP_TYPE_Q2_K] = dot_q2_K;
    k->dot[LP_TYPE_Q3_K] = dot_q3_K;
    k->dot[LP_TYPE_Q4_K] = dot_q4_K;
    k->dot[LP_TYPE_Q5_K] = dot_q5_K;
    k->dot[LP_TYPE_Q6_K] = dot_q6_K;
}
