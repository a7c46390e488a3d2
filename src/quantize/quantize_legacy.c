/* quantize_legacy.c — the float types, the 32-element types (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0) and lp_quantize_rows, which picks a row function.
 *
 * The block quantizers are ggml's quantize_row_*_ref (ggml-quants.c), the
 * code llama-quantize runs when it has no importance matrix. Where ggml
 * converts a float to a small integer type ((int8_t)(x + 8.5f), roundf
 * into an int8_t) the x86 code truncates to int32 with CVTTSS2SI and keeps
 * the low byte; out-of-range values and NaN (a block whose max is a tiny
 * subnormal makes 1/d infinite) come out of CVTTSS2SI as INT32_MIN. We
 * spell that out (x86_trunc) instead of leaving it undefined. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "quantize.h"
#include "quantize_internal.h"

lp_half lp_qz_f16(float f)
{
    if (isnan(f))
        return (lp_half)(signbit(f) ? 0xfe00 : 0x7e00);
    return lp_f32_to_f16(f);
}

/* CVTTSS2SI: truncate toward zero; NaN and values outside int32 give
 * INT32_MIN ("integer indefinite"). */
static int32_t x86_trunc(float v)
{
    if (!(v >= -2147483648.0f && v < 2147483648.0f))
        return INT32_MIN;
    return (int32_t)v;
}

/* The low byte of the truncation, as ggml's (int8_t) / (uint8_t) casts
 * of a float compile on x86. */
static int low_i8(float v)
{
    return (int8_t)(uint8_t)((uint32_t)x86_trunc(v) & 0xff);
}

static uint8_t low_u8(float v)
{
    return (uint8_t)((uint32_t)x86_trunc(v) & 0xff);
}

/* MIN(top, (int8_t)v) as ggml writes it, stored into a uint8_t. */
static uint8_t min_i8(int top, float v)
{
    int q = low_i8(v);
    return (uint8_t)(top < q ? top : q);
}

static void min_max(const float *x, int n, float *min, float *max)
{
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min)
            *min = x[j];
        if (x[j] > *max)
            *max = x[j];
    }
}

/* ---- the 32-element blocks -------------------------------------------- */

static void q4_0_rows(const float *x, uint8_t *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK4_0) {
        const float d = lp_qz_signed_absmax(x, LP_QK4_0) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        lp_block_q4_0 b;
        b.d = lp_qz_f16(d);
        for (int j = 0; j < LP_QK4_0 / 2; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[j + LP_QK4_0 / 2] * id;
            b.qs[j] = (uint8_t)(min_i8(15, x0 + 8.5f) | min_i8(15, x1 + 8.5f) << 4);
        }
        memcpy(dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

static void q4_1_rows(const float *x, uint8_t *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK4_1) {
        float min, max;
        min_max(x, LP_QK4_1, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        lp_block_q4_1 b;
        b.d = lp_qz_f16(d);
        b.m = lp_qz_f16(min);
        for (int j = 0; j < LP_QK4_1 / 2; j++) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[j + LP_QK4_1 / 2] - min) * id;
            b.qs[j] = (uint8_t)(min_i8(15, x0 + 0.5f) | min_i8(15, x1 + 0.5f) << 4);
        }
        memcpy(dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

/* Q5_0/Q5_1: low nibbles as Q4, bit 4 of quant j in bit j of qh. */
static void pack5(const uint8_t q[32], uint8_t qs[16], uint8_t qh_out[4])
{
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
        qh |= (uint32_t)((q[j] & 0x10u) >> 4) << j;
        qh |= (uint32_t)((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    memcpy(qh_out, &qh, sizeof qh);
}

static void q5_0_rows(const float *x, uint8_t *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK5_0) {
        const float d = lp_qz_signed_absmax(x, LP_QK5_0) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t q[LP_QK5_0];
        for (int j = 0; j < LP_QK5_0; j++)
            q[j] = min_i8(31, x[j] * id + 16.5f);
        lp_block_q5_0 b;
        b.d = lp_qz_f16(d);
        pack5(q, b.qs, b.qh);
        memcpy(dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

static void q5_1_rows(const float *x, uint8_t *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK5_1) {
        float min, max;
        min_max(x, LP_QK5_1, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t q[LP_QK5_1];
        for (int j = 0; j < LP_QK5_1; j++)
            q[j] = low_u8((x[j] - min) * id + 0.5f);
        lp_block_q5_1 b;
        b.d = lp_qz_f16(d);
        b.m = lp_qz_f16(min);
        pack5(q, b.qs, b.qh);
        memcpy(dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

static void q8_0_rows(const float *x, uint8_t *dst, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LP_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < LP_QK8_0; j++)
            amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]); /* ggml's MAX */
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        lp_block_q8_0 b;
        b.d = lp_qz_f16(d);
        for (int j = 0; j < LP_QK8_0; j++)
            b.qs[j] = (int8_t)low_i8(roundf(x[j] * id));
        memcpy(dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

/* ---- the float types (nb is the element count) ------------------------ */

static void f32_rows(const float *x, uint8_t *dst, int64_t n)
{
    memcpy(dst, x, (size_t)n * sizeof *x);
}

static void f16_rows(const float *x, uint8_t *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        lp_half h = lp_qz_f16(x[i]);
        memcpy(dst + 2 * i, &h, sizeof h);
    }
}

static void bf16_rows(const float *x, uint8_t *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        lp_bf16 h = lp_f32_to_bf16(x[i]); /* ggml_compute_fp32_to_bf16 */
        memcpy(dst + 2 * i, &h, sizeof h);
    }
}

/* ---- dispatch --------------------------------------------------------- */

typedef void (*row_fn)(const float *x, uint8_t *dst, int64_t nb);

static row_fn row_fn_for(lp_type t)
{
    switch (t) {
    case LP_TYPE_F32: return f32_rows;
    case LP_TYPE_F16: return f16_rows;
    case LP_TYPE_BF16: return bf16_rows;
    case LP_TYPE_Q4_0: return q4_0_rows;
    case LP_TYPE_Q4_1: return q4_1_rows;
    case LP_TYPE_Q5_0: return q5_0_rows;
    case LP_TYPE_Q5_1: return q5_1_rows;
    case LP_TYPE_Q8_0: return q8_0_rows;
    case LP_TYPE_Q2_K: return lp_qz_q2_K;
    case LP_TYPE_Q3_K: return lp_qz_q3_K;
    case LP_TYPE_Q4_K: return lp_qz_q4_K;
    case LP_TYPE_Q5_K: return lp_qz_q5_K;
    case LP_TYPE_Q6_K: return lp_qz_q6_K;
    default: return NULL;
    }
}

bool lp_quantize_supported(lp_type t)
{
    return row_fn_for(t) != NULL;
}

int lp_quantize_rows(lp_type t, const float *src, void *dst, int64_t nrows,
                     int64_t n_per_row, lp_err *err)
{
    row_fn fn = row_fn_for(t);
    const lp_type_traits *tr = lp_type_traits_get((uint32_t)t);
    if (fn == NULL || tr == NULL)
        return lp_err_set(err, "quantize: cannot produce type %s (id %d)",
                          tr ? tr->name : "unknown", (int)t);
    if (nrows < 0 || n_per_row <= 0 || n_per_row % tr->blck_size != 0)
        return lp_err_set(err,
                          "quantize to %s: %" PRId64 " rows of %" PRId64
                          " values; a row must be a positive multiple of %" PRId64,
                          tr->name, nrows, n_per_row, tr->blck_size);
    size_t row_bytes = lp_type_row_bytes((uint32_t)t, n_per_row);
    bool too_big = row_bytes == 0 || (uint64_t)nrows > SIZE_MAX / row_bytes ||
                   nrows > INT64_MAX / n_per_row;
    if (too_big)
        return lp_err_set(err, "quantize to %s: %" PRId64 " rows of %" PRId64
                          " values do not fit in memory", tr->name, nrows, n_per_row);
    if (nrows > 0 && (src == NULL || dst == NULL))
        return lp_err_set(err, "quantize to %s: no source or destination", tr->name);

    int64_t nb = n_per_row / tr->blck_size;
    for (int64_t r = 0; r < nrows; r++)
        fn(src + r * n_per_row, (uint8_t *)dst + (size_t)r * row_bytes, nb);
    return 0;
}
