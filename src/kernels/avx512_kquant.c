/* avx512_kquant.c — the K-quant dots (Q2_K..Q6_K) with AVX-512 BW: the
 * code is avx512_kquant_impl.h, here without VNNI. */
#include "avx512_kquant_impl.h"

void lp_avx512_fill_kquant(lp_kernels *k)
{
    fill_kquant(k);
}
