/* quant_dequant.c — weight (and activation) blocks back to f32.
 *
 * Each function mirrors ggml's dequantize_row_* (ggml-quants.c) operation
 * for operation, because the result must be bit-identical: the same
 * products in the same order, each rounded to f32 on its own. That needs
 * the build's -std=c17 (for GCC: -ffp-contract=off); a GNU-mode build with
 * FMA enabled would fuse a*b+c and break exactness.
 *
 * Blocks are copied out with memcpy, so a row may sit at any address. */
#include <string.h>

#include "quant_impl.h"

static void deq_q4_0(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK4_0) {
        lp_block_q4_0 b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        for (int j = 0; j < LP_QK4_0 / 2; j++) {
            y[j] = ((b.qs[j] & 0x0f) - 8) * d;
            y[j + LP_QK4_0 / 2] = ((b.qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK4_1) {
        lp_block_q4_1 b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        const float m = lp_f16_to_f32(b.m);
        for (int j = 0; j < LP_QK4_1 / 2; j++) {
            y[j] = (b.qs[j] & 0x0f) * d + m;
            y[j + LP_QK4_1 / 2] = (b.qs[j] >> 4) * d + m;
        }
    }
}

/* Bit j of qh is the fifth bit of quant j (0..31). */
static int q5_high(uint32_t qh, int j)
{
    return (int)((qh >> j) & 1) << 4;
}

static void deq_q5_0(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK5_0) {
        lp_block_q5_0 b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        uint32_t qh;
        memcpy(&qh, b.qh, sizeof qh);
        for (int j = 0; j < LP_QK5_0 / 2; j++) {
            y[j] = (((b.qs[j] & 0x0f) | q5_high(qh, j)) - 16) * d;
            y[j + LP_QK5_0 / 2] = (((b.qs[j] >> 4) | q5_high(qh, j + 16)) - 16) * d;
        }
    }
}

static void deq_q5_1(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK5_1) {
        lp_block_q5_1 b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        const float m = lp_f16_to_f32(b.m);
        uint32_t qh;
        memcpy(&qh, b.qh, sizeof qh);
        for (int j = 0; j < LP_QK5_1 / 2; j++) {
            y[j] = ((b.qs[j] & 0x0f) | q5_high(qh, j)) * d + m;
            y[j + LP_QK5_1 / 2] = ((b.qs[j] >> 4) | q5_high(qh, j + 16)) * d + m;
        }
    }
}

static void deq_q8_0(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK8_0) {
        lp_block_q8_0 b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        for (int j = 0; j < LP_QK8_0; j++)
            y[j] = b.qs[j] * d;
    }
}

/* ggml has no to_float for Q8_1; this is the same d * q, for tests. */
static void deq_q8_1(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK8_1) {
        lp_block_q8_1 b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        for (int j = 0; j < LP_QK8_1; j++)
            y[j] = b.qs[j] * d;
    }
}

/* K-quants: per element, the same products ggml forms, in its order:
 * (d * scale) rounded, times the quant, minus (dmin * min) rounded. The
 * layouts live in quant_layout.c. */

static void deq_q2_K(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK_K) {
        lp_block_q2_K b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        const float min = lp_f16_to_f32(b.dmin);
        for (int k = 0; k < LP_QK_K; k++) {
            /* 16 values share a 4-bit scale (low) and min (high). */
            const uint8_t sc = b.scales[k / 16];
            const float dl = d * (sc & 0xf);
            const float ml = min * (sc >> 4);
            y[k] = dl * lp_q2_K_quant(&b, k) - ml;
        }
    }
}

static void deq_q3_K(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK_K) {
        lp_block_q3_K b;
        LP_LOAD_BLOCK(b, src, i);
        const float d_all = lp_f16_to_f32(b.d);
        int8_t scales[16];
        lp_q3_K_scales(b.scales, scales);
        for (int k = 0; k < LP_QK_K; k++) {
            const float dl = d_all * (scales[k / 16] - 32);
            y[k] = dl * lp_q3_K_quant(&b, k);
        }
    }
}

static void deq_q4_K(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK_K) {
        lp_block_q4_K b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        const float min = lp_f16_to_f32(b.dmin);
        for (int k = 0; k < LP_QK_K; k++) {
            uint8_t sc, mn;
            lp_k4_scale_min(k / 32, b.scales, &sc, &mn);
            const float dl = d * sc, ml = min * mn;
            y[k] = dl * lp_q4_K_quant(&b, k) - ml;
        }
    }
}

static void deq_q5_K(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK_K) {
        lp_block_q5_K b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        const float min = lp_f16_to_f32(b.dmin);
        for (int k = 0; k < LP_QK_K; k++) {
            uint8_t sc, mn;
            lp_k4_scale_min(k / 32, b.scales, &sc, &mn);
            const float dl = d * sc, ml = min * mn;
            y[k] = dl * lp_q5_K_quant(&b, k) - ml;
        }
    }
}

static void deq_q6_K(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK_K) {
        lp_block_q6_K b;
        LP_LOAD_BLOCK(b, src, i);
        const float d = lp_f16_to_f32(b.d);
        for (int k = 0; k < LP_QK_K; k++) {
            /* ggml: d * sc * q, i.e. (d * sc) * q, rounded twice. */
            y[k] = d * b.scales[k / 16] * lp_q6_K_quant(&b, k);
        }
    }
}

static void deq_q8_K(const void *src, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += LP_QK_K) {
        lp_block_q8_K b;
        LP_LOAD_BLOCK(b, src, i);
        for (int j = 0; j < LP_QK_K; j++)
            y[j] = b.d * b.qs[j];
    }
}

static void deq_f32(const void *src, float *y, int64_t n)
{
    memcpy(y, src, (size_t)n * sizeof(float));
}

static void deq_f16(const void *src, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        lp_half h;
        memcpy(&h, (const uint8_t *)src + 2 * i, 2);
        y[i] = lp_f16_to_f32(h);
    }
}

static void deq_bf16(const void *src, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        lp_bf16 h;
        memcpy(&h, (const uint8_t *)src + 2 * i, 2);
        y[i] = lp_bf16_to_f32(h);
    }
}

typedef void (*deq_fn)(const void *src, float *y, int64_t n_blocks);

static deq_fn deq_for(lp_type type)
{
    switch (type) {
    case LP_TYPE_F32: return deq_f32;
    case LP_TYPE_F16: return deq_f16;
    case LP_TYPE_BF16: return deq_bf16;
    case LP_TYPE_Q4_0: return deq_q4_0;
    case LP_TYPE_Q4_1: return deq_q4_1;
    case LP_TYPE_Q5_0: return deq_q5_0;
    case LP_TYPE_Q5_1: return deq_q5_1;
    case LP_TYPE_Q8_0: return deq_q8_0;
    case LP_TYPE_Q8_1: return deq_q8_1;
    case LP_TYPE_Q2_K: return deq_q2_K;
    case LP_TYPE_Q3_K: return deq_q3_K;
    case LP_TYPE_Q4_K: return deq_q4_K;
    case LP_TYPE_Q5_K: return deq_q5_K;
    case LP_TYPE_Q6_K: return deq_q6_K;
    case LP_TYPE_Q8_K: return deq_q8_K;
    default: return NULL;
    }
}

int lp_dequantize_row(lp_type type, const void *src, float *dst, int64_t n)
{
    deq_fn fn = deq_for(type);
    const lp_type_traits *t = lp_type_traits_get((uint32_t)type);
    if (fn == NULL || t == NULL || n < 0 || n % t->blck_size != 0)
        return -1;
    fn(src, dst, n / t->blck_size);
    return 0;
}
