/* scalar_dot.c — the bottom of every kernel table, and the only path on
 * CPUs without AVX2: the float dots and activation quantizers of quant.h
 * behind the lp_kernels signatures, and the quantized dots from
 * scalar_qdot.c / scalar_kdot.c, which emulate ggml's x86 kernels bit for
 * bit (scalar_impl.h says why they are not lp_vec_dot_ref).
 *
 * lp_vec_dot_fn has no type argument, so each reference function gets a
 * one-line wrapper. */
#include "scalar_impl.h"

#define REF_DOT(T)                                                       \
    static float dot_##T(int64_t n, const void *w, const void *a)       \
    {                                                                    \
        return lp_vec_dot_ref(LP_TYPE_##T, n, w, a);                     \
    }

REF_DOT(F32)
REF_DOT(F16)
REF_DOT(BF16)

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
    lp_scalar_fill_qdot(k);
    lp_scalar_fill_kdot(k);

    k->quantize[LP_TYPE_F32] = quant_F32;
    k->quantize[LP_TYPE_F16] = quant_F16;
    k->quantize[LP_TYPE_BF16] = quant_BF16;
    k->quantize[LP_TYPE_Q8_0] = quant_Q8_0;
    k->quantize[LP_TYPE_Q8_1] = quant_Q8_1;
    k->quantize[LP_TYPE_Q8_K] = quant_Q8_K;
}
