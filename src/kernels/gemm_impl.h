/* gemm_impl.h — internal to src/kernels: the fillers of the tiled
 * (lp_gemm_fn) entries, one per ISA translation unit, called by
 * lp_kernels_init after the dot fillers. Plain prototypes only. On CPUs
 * other than x86-64 each is a no-op, leaving the entries NULL. */
#ifndef LP_GEMM_IMPL_H
#define LP_GEMM_IMPL_H

#include <stdbool.h>

#include "kernels.h"

void lp_avx512_fill_gemm_legacy(lp_kernels *k);     /* avx512_gemm_legacy.c */
void lp_avx512vnni_fill_gemm_legacy(lp_kernels *k); /* avx512vnni_gemm_legacy.c */
void lp_avx512_fill_gemm_kquant(lp_kernels *k);     /* avx512_gemm_kquant.c */
void lp_avx512vnni_fill_gemm_kquant(lp_kernels *k); /* avx512vnni_gemm_kquant.c */
void lp_avx512_fill_gemm_float(lp_kernels *k);      /* avx512_gemm_float.c */
/* The BF16 tile with the VDPBF16PS instruction (native) or its rebuild;
 * lp_avx512_fill_gemm_float picks by cpuid. Public for tests, which hold
 * both to the dots (lp_avx512_fill_bf16 in float_impl.h). */
void lp_avx512_fill_gemm_bf16(lp_kernels *k, bool native);

#endif
