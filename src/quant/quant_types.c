/* quant_types.c — the ggml type table, row sizes, and f16/bf16 conversions.
 *
 * The table lists every type id ggml defines below LP_TYPE_COUNT, with
 * ggml's block size and bytes per block (ggml.c type_traits), so that a
 * GGUF file holding any of them parses even where we cannot compute with
 * it. vec_dot_type follows ggml's CPU backend (ggml-cpu.c type_traits_cpu);
 * for types ggml's CPU cannot dot it is F32, as ggml's zeroed entry is. */
#include <string.h>

#include "quant.h"

/* Ids we have no enumerator for; only this table needs them. */
enum {
    T_IQ2_XXS = 16, T_IQ2_XS = 17, T_IQ3_XXS = 18, T_IQ1_S = 19,
    T_IQ4_NL = 20, T_IQ3_S = 21, T_IQ2_S = 22, T_IQ4_XS = 23,
    T_I8 = 24, T_I16 = 25, T_I32 = 26, T_I64 = 27, T_F64 = 28,
    T_IQ1_M = 29, T_TQ1_0 = 34, T_TQ2_0 = 35, T_MXFP4 = 39,
    T_NVFP4 = 40, T_Q1_0 = 41, T_Q2_0 = 42,
};

#define MATMUL(nm, blck, size, dot) { nm, blck, size, true, dot }
#define STORE(nm, blck, size, dot) { nm, blck, size, false, dot }

/* Ids 4, 5 (Q4_2, Q4_3), 31-33 (Q4_0_4_4 ...) and 36-38 (IQ4_NL_4_4 ...)
 * were removed from ggml; their entries stay zero (name NULL). */
static const lp_type_traits k_traits[LP_TYPE_COUNT] = {
    [LP_TYPE_F32]  = MATMUL("f32", 1, 4, LP_TYPE_F32),
    [LP_TYPE_F16]  = MATMUL("f16", 1, 2, LP_TYPE_F16),
    [LP_TYPE_BF16] = MATMUL("bf16", 1, 2, LP_TYPE_BF16),
    [LP_TYPE_Q4_0] = MATMUL("q4_0", LP_QK4_0, sizeof(lp_block_q4_0), LP_TYPE_Q8_0),
    [LP_TYPE_Q4_1] = MATMUL("q4_1", LP_QK4_1, sizeof(lp_block_q4_1), LP_TYPE_Q8_1),
    [LP_TYPE_Q5_0] = MATMUL("q5_0", LP_QK5_0, sizeof(lp_block_q5_0), LP_TYPE_Q8_0),
    [LP_TYPE_Q5_1] = MATMUL("q5_1", LP_QK5_1, sizeof(lp_block_q5_1), LP_TYPE_Q8_1),
    [LP_TYPE_Q8_0] = MATMUL("q8_0", LP_QK8_0, sizeof(lp_block_q8_0), LP_TYPE_Q8_0),
    [LP_TYPE_Q2_K] = MATMUL("q2_K", LP_QK_K, sizeof(lp_block_q2_K), LP_TYPE_Q8_K),
    [LP_TYPE_Q3_K] = MATMUL("q3_K", LP_QK_K, sizeof(lp_block_q3_K), LP_TYPE_Q8_K),
    [LP_TYPE_Q4_K] = MATMUL("q4_K", LP_QK_K, sizeof(lp_block_q4_K), LP_TYPE_Q8_K),
    [LP_TYPE_Q5_K] = MATMUL("q5_K", LP_QK_K, sizeof(lp_block_q5_K), LP_TYPE_Q8_K),
    [LP_TYPE_Q6_K] = MATMUL("q6_K", LP_QK_K, sizeof(lp_block_q6_K), LP_TYPE_Q8_K),
    /* Activation formats: stored and dequantized, never a weight we dot. */
    [LP_TYPE_Q8_1] = STORE("q8_1", LP_QK8_1, sizeof(lp_block_q8_1), LP_TYPE_Q8_1),
    [LP_TYPE_Q8_K] = STORE("q8_K", LP_QK_K, sizeof(lp_block_q8_K), LP_TYPE_F32),
    /* Parsed only. Sizes from ggml-common.h's block structs. */
    [T_IQ2_XXS] = STORE("iq2_xxs", 256, 66, LP_TYPE_Q8_K),
    [T_IQ2_XS]  = STORE("iq2_xs", 256, 74, LP_TYPE_Q8_K),
    [T_IQ3_XXS] = STORE("iq3_xxs", 256, 98, LP_TYPE_Q8_K),
    [T_IQ1_S]   = STORE("iq1_s", 256, 50, LP_TYPE_Q8_K),
    [T_IQ4_NL]  = STORE("iq4_nl", 32, 18, LP_TYPE_Q8_0),
    [T_IQ3_S]   = STORE("iq3_s", 256, 110, LP_TYPE_Q8_K),
    [T_IQ2_S]   = STORE("iq2_s", 256, 82, LP_TYPE_Q8_K),
    [T_IQ4_XS]  = STORE("iq4_xs", 256, 136, LP_TYPE_Q8_K),
    [T_I8]      = STORE("i8", 1, 1, LP_TYPE_F32),
    [T_I16]     = STORE("i16", 1, 2, LP_TYPE_F32),
    [T_I32]     = STORE("i32", 1, 4, LP_TYPE_F32),
    [T_I64]     = STORE("i64", 1, 8, LP_TYPE_F32),
    [T_F64]     = STORE("f64", 1, 8, LP_TYPE_F32),
    [T_IQ1_M]   = STORE("iq1_m", 256, 56, LP_TYPE_Q8_K),
    [T_TQ1_0]   = STORE("tq1_0", 256, 54, LP_TYPE_Q8_K),
    [T_TQ2_0]   = STORE("tq2_0", 256, 66, LP_TYPE_Q8_K),
    [T_MXFP4]   = STORE("mxfp4", 32, 17, LP_TYPE_Q8_0),
    [T_NVFP4]   = STORE("nvfp4", 64, 36, LP_TYPE_Q8_0),
    [T_Q1_0]    = STORE("q1_0", 128, 18, LP_TYPE_Q8_0),
    [T_Q2_0]    = STORE("q2_0", 64, 18, LP_TYPE_Q8_0),
};

const lp_type_traits *lp_type_traits_get(uint32_t type)
{
    if (type >= LP_TYPE_COUNT || k_traits[type].name == NULL)
        return NULL;
    return &k_traits[type];
}

size_t lp_type_row_bytes(uint32_t type, int64_t n)
{
    const lp_type_traits *t = lp_type_traits_get(type);
    if (t == NULL || n < 0 || n % t->blck_size != 0)
        return 0;
    uint64_t blocks = (uint64_t)(n / t->blck_size);
    if (blocks > SIZE_MAX / t->type_size)
        return 0;
    return (size_t)blocks * t->type_size;
}

/* ---- binary16 -------------------------------------------------------- */

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Widening is exact; a NaN keeps its payload and comes out quiet, as
 * VCVTPH2PS (and ggml's portable fp16_to_fp32) give it. */
float lp_f16_to_f32(lp_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;

    if (exp == 0x1f)
        return f32_from_bits(sign | 0x7f800000 | (mant ? 0x400000 | mant << 13 : 0));
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24, exact in f32. */
        float v = (float)mant * 0x1p-24f;
        return f32_from_bits(sign | f32_bits(v));
    }
    return f32_from_bits(sign | (exp + 112) << 23 | mant << 13);
}

/* Round x / 2^shift to the nearest integer, ties to even (1 <= shift <= 31). */
static uint32_t shift_rne(uint32_t x, unsigned shift)
{
    uint32_t q = x >> shift;
    uint32_t rem = x & ((UINT32_C(1) << shift) - 1);
    uint32_t half = UINT32_C(1) << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

/* Narrowing with round-to-nearest-even, as VCVTPS2PH with imm 0 does:
 * overflow goes to infinity, tiny values to signed zero or subnormals, and
 * a NaN keeps the top 10 bits of its payload with the quiet bit set. */
lp_half lp_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;

    if (ax > 0x7f800000)
        return sign | 0x7e00 | (uint16_t)((ax >> 13) & 0x3ff);
    if (ax >= 0x477ff000) /* >= 65520, the tie between 65504 and 2^16 */
        return sign | 0x7c00;
    if (ax >= 0x38800000) {
        /* Normal: rebias the exponent (127 -> 15) and round away 13 bits;
         * a carry out of the mantissa bumps the exponent correctly. */
        return sign | (uint16_t)shift_rne(ax - UINT32_C(0x38000000), 13);
    }
    if (ax <= 0x33000000) /* <= 2^-25, the tie between 0 and 2^-24 */
        return sign;
    /* Subnormal result: value = m * 2^(e-150), in units of 2^-24. */
    uint32_t e = ax >> 23;
    uint32_t m = (ax & 0x7fffff) | 0x800000;
    return sign | (uint16_t)shift_rne(m, 126 - e);
}

/* ---- bfloat16 -------------------------------------------------------- */

float lp_bf16_to_f32(lp_bf16 h)
{
    return f32_from_bits((uint32_t)h << 16);
}

/* ggml's GGML_FP32_TO_BF16 (ggml-impl.h), which ggml's CPU backend also
 * uses for BF16 activations on x86: NaN truncated and forced quiet,
 * everything else rounded to nearest even (overflow goes to infinity). */
lp_bf16 lp_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000)
        return (lp_bf16)((u >> 16) | 64);
    return (lp_bf16)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}
