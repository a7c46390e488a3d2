/* avx512vnni_gemm_legacy.c — the Q8_0 / Q4_0 register tiles of
 * avx512_gemm_legacy_impl.h built with -mavx512vnni: each block's lanes of
 * an output are one VPDPBUSD. */
#include "avx512_gemm_legacy_impl.h"

void lp_avx512vnni_fill_gemm_legacy(lp_kernels *k)
{
    fill_gemm_legacy(k);
}
