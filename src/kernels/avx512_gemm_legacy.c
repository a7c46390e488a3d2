/* avx512_gemm_legacy.c — Q8_0 / Q4_0 register tiles with AVX-512 BW: the
 * code is avx512_gemm_legacy_impl.h, here without VNNI. */
#include "avx512_gemm_legacy_impl.h"

void lp_avx512_fill_gemm_legacy(lp_kernels *k)
{
    fill_gemm_legacy(k);
}
