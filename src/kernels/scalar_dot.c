/* scalar_dot.c — the bottom of every kernel table: quant.h's reference
 * dots and activation quantizers behind the lp_kernels signatures.
 *
 * lp_vec_dot_fn has no type argument, so each type gets a one-line
 * wrapper; the reference code is the definition the SIMD kernels are
 * tested against, and the only path on CPUs without AVX2. */
#include "kernels.h"

#define REF_DOT(T)                                                       \
    static float dot_##T(int64_t n, const void *w, const void *a)       \
    {                                                                    \
        return lp_vec_dot_ref(LP_TYPE_##T, n, w, a);                     \
    }

REF_DOT(F32)
REF_DOT(F16)
REF_DOT(BF16)
REF_DOT(Q4_0)
REF_DOT(Q4_1)
REF_DOT(Q5_0)
REF_DOT(Q5_1)
REF_DOT(Q8_0)
REF_DOT(Q2_K)
REF_DOT(Q3_K)
REF_DOT(Q4_K)
REF_DOT(Q5_K)
REF_DOT(Q6_K)

/* lp_quantize_row only fails for a type it does not know or a length
 * that is not a whole number of blocks; callers guarantee neither. */
#define REF_QUANT(T)                                                     \
    static void quant_##T(const float *src, void *dst, int64_t n)       \
    {                                                                    \
        (void)lp_quantize_row(LP_TYPE_##T, src, dst, n);                 \
    }

REF_QUANT(F32)
REF_QUANT(F16)
REF_QUANT(BF16)
REF_QUANT(Q8_0)
REF_QUANT(Q8_1)
REF_QUANT(Q8_K)

void lp_kernels_fill_scalar(lp_kernels *k)
{
    k->dot[LP_TYPE_F32] = dot_F32;
    k->dot[LP_TYPE_F16] = dot_F16;
    k->dot[LP_TYPE_BF16] = dot_BF16;
    k->dot[LP_TYPE_Q4_0] = dot_Q4_0;
    k->dot[LP_TYPE_Q4_1] = dot_Q4_1;
    k->dot[LP_TYPE_Q5_0] = dot_Q5_0;
    k->dot[LP_TYPE_Q5_1] = dot_Q5_1;
    k->dot[LP_TYPE_Q8_0] = dot_Q8_0;
    k->dot[LP_TYPE_Q2_K] = dot_Q2_K;
    k->dot[LP_TYPE_Q3_K] = dot_Q3_K;
    k->dot[LP_TYPE_Q4_K] = dot_Q4_K;
    k->dot[LP_TYPE_Q5_K] = dot_Q5_K;
    k->dot[LP_TYPE_Q6_K] = dot_Q6_K;

    k->quantize[LP_TYPE_F32] = quant_F32;
    k->quantize[LP_TYPE_F16] = quant_F16;
    k->quantize[LP_TYPE_BF16] = quant_BF16;
    k->quantize[LP_TYPE_Q8_0] = quant_Q8_0;
    k->quantize[LP_TYPE_Q8_1] = quant_Q8_1;
    k->quantize[LP_TYPE_Q8_K] = quant_Q8_K;
}
