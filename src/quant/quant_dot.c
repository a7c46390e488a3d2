/* quant_dot.c — the scalar reference dot products (float and 32-blocks).
 *
 * lp_vec_dot_ref is the definition the SIMD kernels are tested against.
 * It follows ggml's portable code operation for operation:
 *   F32, F16, BF16: the scalar fallbacks of ggml_vec_dot_{f32,f16,bf16}
 *     (ggml-cpu/vec.cpp): each product rounded to f32, summed in double.
 *   Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: ggml_vec_dot_*_generic (ggml-cpu/
 *     quants.c): an exact integer sum per block of 32, then one f32 update
 *     per block whose factors are multiplied in exactly ggml's order (it
 *     differs between types; each is spelled out below).
 *   K-quants: quant_dot_k.c.
 * Built as ISO C (-std=c17: GCC does not contract a*b+c into an FMA);
 * with contraction on, the block updates stop matching ggml's bits.
 *
 * The integer block sums are exact, so their order does not matter; only
 * the f32 operations do, and those are kept in ggml's order. */
#include <math.h>

#include "quant_impl.h"

static float dot_f32(int64_t n, const void *w, const void *a)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float x, y;
        memcpy(&x, (const uint8_t *)w + 4 * i, 4);
        memcpy(&y, (const uint8_t *)a + 4 * i, 4);
        sum += (double)(x * y);
    }
    return (float)sum;
}

static float dot_f16(int64_t n, const void *w, const void *a)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        lp_half x, y;
        memcpy(&x, (const uint8_t *)w + 2 * i, 2);
        memcpy(&y, (const uint8_t *)a + 2 * i, 2);
        sum += (double)(lp_f16_to_f32(x) * lp_f16_to_f32(y));
    }
    return (float)sum;
}

static float dot_bf16(int64_t n, const void *w, const void *a)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        lp_bf16 x, y;
        memcpy(&x, (const uint8_t *)w + 2 * i, 2);
        memcpy(&y, (const uint8_t *)a + 2 * i, 2);
        sum += (double)(lp_bf16_to_f32(x) * lp_bf16_to_f32(y));
    }
    return (float)sum;
}

/* Sum over a block of 32 of wq[j] * aq[j]. */
static int isum32(const int wq[32], const int8_t aq[32])
{
    int s = 0;
    for (int j = 0; j < 32; j++)
        s += wq[j] * aq[j];
    return s;
}

/* The 32 quants of a 4- or 5-bit block: low nibbles are values 0..15,
 * high nibbles 16..31; with qh (4 bytes), bit j of it is value j's fifth
 * bit. bias is subtracted (8 for Q4_0, 16 for Q5_0). */
static void unpack32(const uint8_t qs[16], const uint8_t *qh, int bias, int out[32])
{
    uint32_t h = 0;
    if (qh != NULL)
        memcpy(&h, qh, 4);
    for (int j = 0; j < 16; j++) {
        out[j] = (qs[j] & 0xf) | (int)((h >> j) & 1) << 4;
        out[j + 16] = (qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
    }
    for (int j = 0; j < 32; j++)
        out[j] -= bias;
}

static float dot_q4_0(int64_t nb, const void *w, const void *a)
{
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q4_0 x;
        lp_block_q8_0 y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int q[32];
        unpack32(x.qs, NULL, 8, q);
        int sumi = isum32(q, y.qs);
        sumf += sumi * lp_f16_to_f32(x.d) * lp_f16_to_f32(y.d); /* (s*dx)*dy */
    }
    return sumf;
}

static float dot_q4_1(int64_t nb, const void *w, const void *a)
{
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q4_1 x;
        lp_block_q8_1 y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int q[32];
        unpack32(x.qs, NULL, 0, q);
        int sumi = isum32(q, y.qs);
        /* The min m meets the activations through s = d_a * sum(q_a). */
        sumf += (lp_f16_to_f32(x.d) * lp_f16_to_f32(y.d)) * sumi
              + lp_f16_to_f32(x.m) * lp_f16_to_f32(y.s);
    }
    return sumf;
}

static float dot_q5_0(int64_t nb, const void *w, const void *a)
{
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q5_0 x;
        lp_block_q8_0 y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int q[32];
        unpack32(x.qs, x.qh, 16, q);
        int sumi = isum32(q, y.qs);
        sumf += (lp_f16_to_f32(x.d) * lp_f16_to_f32(y.d)) * sumi;
    }
    return sumf;
}

static float dot_q5_1(int64_t nb, const void *w, const void *a)
{
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q5_1 x;
        lp_block_q8_1 y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int q[32];
        unpack32(x.qs, x.qh, 0, q);
        int sumi = isum32(q, y.qs);
        sumf += (lp_f16_to_f32(x.d) * lp_f16_to_f32(y.d)) * sumi
              + lp_f16_to_f32(x.m) * lp_f16_to_f32(y.s);
    }
    return sumf;
}

static float dot_q8_0(int64_t nb, const void *w, const void *a)
{
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        lp_block_q8_0 x, y;
        LP_LOAD_BLOCK(x, w, i);
        LP_LOAD_BLOCK(y, a, i);
        int q[32];
        for (int j = 0; j < 32; j++)
            q[j] = x.qs[j];
        int sumi = isum32(q, y.qs);
        sumf += sumi * (lp_f16_to_f32(x.d) * lp_f16_to_f32(y.d));
    }
    return sumf;
}

float lp_vec_dot_ref(lp_type w_type, int64_t n, const void *w, const void *a)
{
    const lp_type_traits *t = lp_type_traits_get((uint32_t)w_type);
    if (t == NULL || !t->can_matmul || n < 0 || n % t->blck_size != 0)
        return NAN;
    const int64_t nb = n / t->blck_size;
    switch (w_type) {
    case LP_TYPE_F32: return dot_f32(n, w, a);
    case LP_TYPE_F16: return dot_f16(n, w, a);
    case LP_TYPE_BF16: return dot_bf16(n, w, a);
    case LP_TYPE_Q4_0: return dot_q4_0(nb, w, a);
    case LP_TYPE_Q4_1: return dot_q4_1(nb, w, a);
    case LP_TYPE_Q5_0: return dot_q5_0(nb, w, a);
    case LP_TYPE_Q5_1: return dot_q5_1(nb, w, a);
    case LP_TYPE_Q8_0: return dot_q8_0(nb, w, a);
    case LP_TYPE_Q2_K: return lp_dot_q2_K_ref(nb, w, a);
    case LP_TYPE_Q3_K: return lp_dot_q3_K_ref(nb, w, a);
    case LP_TYPE_Q4_K: return lp_dot_q4_K_ref(nb, w, a);
    case LP_TYPE_Q5_K: return lp_dot_q5_K_ref(nb, w, a);
    case LP_TYPE_Q6_K: return lp_dot_q6_K_ref(nb, w, a);
    default: return NAN;
    }
}
