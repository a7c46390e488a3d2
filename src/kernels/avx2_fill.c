/* avx2_fill.c — the AVX2 (+FMA +F16C) kernel table: every dot type and
 * the Q8_0/Q8_1/Q8_K/F16/BF16 activation quantizers. */
#include "kernels_impl.h"

void lp_kernels_fill_avx2(lp_kernels *k)
{
    lp_avx2_fill_float(k);
    lp_avx2_fill_quantize(k);
    lp_avx2_fill_legacy(k);
    lp_avx2_fill_kquant(k);
}
