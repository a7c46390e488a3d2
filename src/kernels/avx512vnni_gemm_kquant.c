/* avx512vnni_gemm_kquant.c — the Q4_K / Q6_K register tiles of
 * avx512_gemm_kquant_impl.h built with -mavx512vnni: each quarter of an
 * output's super-block is one VPDPBUSD and one VPDPWSSD. */
#include "avx512_gemm_kquant_impl.h"

void lp_avx512vnni_fill_gemm_kquant(lp_kernels *k)
{
    fill_gemm_kquant(k);
}
