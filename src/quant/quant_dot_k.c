/* quant_dot_k.c — reference dots of K-quant weights with Q8_K activations.
 *
 * Mirrors ggml_vec_dot_q{2..6}_K_q8_K_generic (ggml-cpu/quants.c). What
 * must match is the floating-point part; the integer sums are exact and
 * may be formed in any order:
 *
 *   Q2_K: per super-block, sumf += dall*isum - dmin*summs, with
 *         dall = d_a*d_w, dmin = d_a*dmin_w.
 *   Q3_K, Q6_K: the integer products go to 8 int32 lanes (element k to
 *         lane k % 8); per super-block sums[l] += (d_w*d_a) * lane[l]; at
 *         the end sumf = ((0 + sums[0]) + sums[1]) + ... + sums[7].
 *   Q4_K, Q5_K: the same lanes, plus per super-block
 *         sumf -= (dmin_w*d_a) * (sum of bsums times mins), with the lane
 *         sums added to that sumf at the end.
 *
 * The lanes are a property of ggml's scalar code (written so compilers
 * vectorize it), not of the data; keeping them makes our result the same
 * f32 value as ggml's generic path, bit for bit. */
#include "quant_impl.h"

#define LANES 8

/* lane[k % 8] += scale[k / group] * w[k] * a[k] over one super-block. */
static void lanes_accumulate(int32_t lane[LANES], const int8_t w[LP_QK_K],
                             const int8_t a[LP_QK_K], const int *scale, int group)
{
    for (int l = 0; l < LANES; l++)
        lane[l] = 0;
    for (int k = 0; k < LP_QK_K; k++)
        lane[k % LANES] += scale[k / group] * (w[k] * a[k]);
}

static void lanes_to_sums(float sums[LANES], float d, const int32_t lane[LANES])
{
    for (int l = 0; l < LANES; l++)
        sums[l] += d * lane[l];
}

static float add_sums(float sumf, const float sums[LANES])
{
    for (int l = 0; l < LANES; l++)
        sumf += sums[l];
    return sumf;
}

float lp_dot_q2_K_ref(int64_t nb, const void *w, const void *a)
{
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q2_K x;
        lp_block_q8_K y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        /* Mins act on whole groups of 16: use the precomputed bsums. */
        int summs = 0;
        for (int g = 0; g < 16; g++)
            summs += y.bsums[g] * (x.scales[g] >> 4);
        int isum = 0;
        for (int k = 0; k < LP_QK_K; k++)
            isum += (x.scales[k / 16] & 0xf) * (y.qs[k] * lp_q2_K_quant(&x, k));
        const float dall = y.d * lp_f16_to_f32(x.d);
        const float dmin = y.d * lp_f16_to_f32(x.dmin);
        sumf += dall * isum - dmin * summs;
    }
    return sumf;
}

float lp_dot_q3_K_ref(int64_t nb, const void *w, const void *a)
{
    float sums[LANES] = {0};
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q3_K x;
        lp_block_q8_K y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int8_t q[LP_QK_K], raw[16];
        int scale[16];
        for (int k = 0; k < LP_QK_K; k++)
            q[k] = (int8_t)lp_q3_K_quant(&x, k);
        lp_q3_K_scales(x.scales, raw);
        for (int g = 0; g < 16; g++)
            scale[g] = raw[g] - 32;
        int32_t lane[LANES];
        lanes_accumulate(lane, q, y.qs, scale, 16);
        lanes_to_sums(sums, lp_f16_to_f32(x.d) * y.d, lane);
    }
    return add_sums(0.0f, sums);
}

/* Q4_K and Q5_K share everything but how a quant is read. */
static float dot_k4(int64_t nb, const void *w, const void *a, bool five_bit)
{
    float sums[LANES] = {0};
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q4_K x4;
        lp_block_q5_K x5;
        lp_block_q8_K y;
        const uint8_t *packed;
        lp_half d, dmin;
        int8_t q[LP_QK_K];
        if (five_bit) {
            LP_LOAD_BLOCK(x5, w, i);
            for (int k = 0; k < LP_QK_K; k++)
                q[k] = (int8_t)lp_q5_K_quant(&x5, k);
            packed = x5.scales, d = x5.d, dmin = x5.dmin;
        } else {
            LP_LOAD_BLOCK(x4, w, i);
            for (int k = 0; k < LP_QK_K; k++)
                q[k] = (int8_t)lp_q4_K_quant(&x4, k);
            packed = x4.scales, d = x4.d, dmin = x4.dmin;
        }
        LP_LOAD_BLOCK(y, a, i);
        int scale[8], mins[8];
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            lp_k4_scale_min(j, packed, &sc, &mn);
            scale[j] = sc;
            mins[j] = mn;
        }
        int sumi = 0;
        for (int g = 0; g < 16; g++)
            sumi += y.bsums[g] * mins[g / 2];
        int32_t lane[LANES];
        lanes_accumulate(lane, q, y.qs, scale, 32);
        lanes_to_sums(sums, lp_f16_to_f32(d) * y.d, lane);
        sumf -= (lp_f16_to_f32(dmin) * y.d) * sumi;
    }
    return add_sums(sumf, sums);
}

float lp_dot_q4_K_ref(int64_t nb, const void *w, const void *a)
{
    return dot_k4(nb, w, a, false);
}

float lp_dot_q5_K_ref(int64_t nb, const void *w, const void *a)
{
    return dot_k4(nb, w, a, true);
}

float lp_dot_q6_K_ref(int64_t nb, const void *w, const void *a)
{
    float sums[LANES] = {0};
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q6_K x;
        lp_block_q8_K y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int8_t q[LP_QK_K];
        int scale[16];
        for (int k = 0; k < LP_QK_K; k++)
            q[k] = (int8_t)lp_q6_K_quant(&x, k);
        for (int g = 0; g < 16; g++)
            scale[g] = x.scales[g];
        int32_t lane[LANES];
        lanes_accumulate(lane, q, y.qs, scale, 16);
        lanes_to_sums(sums, lp_f16_to_f32(x.d) * y.d, lane);
    }
    return add_sums(0.0f, sums);
}
