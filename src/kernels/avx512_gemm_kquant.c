/* avx512_gemm_kquant.c — Q4_K / Q6_K register tiles with AVX-512 BW: the
 * code is avx512_gemm_kquant_impl.h, here without VNNI. */
#include "avx512_gemm_kquant_impl.h"

void lp_avx512_fill_gemm_kquant(lp_kernels *k)
{
    fill_gemm_kquant(k);
}
