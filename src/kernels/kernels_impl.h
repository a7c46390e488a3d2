/* kernels_impl.h — internal to src/kernels: the part fillers each ISA's
 * translation units export to that ISA's lp_kernels_fill_*.
 *
 * Plain prototypes only (no intrinsics), so any file may include it. On
 * CPUs other than x86-64 every part filler is a no-op, leaving the scalar
 * entries in place. */
#ifndef LP_KERNELS_IMPL_H
#define LP_KERNELS_IMPL_H

#include "kernels.h"

void lp_avx2_fill_float(lp_kernels *k);    /* avx2_float.c */
void lp_avx2_fill_quantize(lp_kernels *k); /* avx2_quantize.c */
void lp_avx2_fill_legacy(lp_kernels *k);   /* avx2_legacy.c */
void lp_avx2_fill_kquant(lp_kernels *k);   /* avx2_kquant.c */

void lp_avx512_fill_float(lp_kernels *k);  /* avx512_float.c */
void lp_avx512_fill_legacy(lp_kernels *k); /* avx512_legacy.c */
void lp_avx512_fill_kquant(lp_kernels *k); /* avx512_kquant.c */

void lp_avx512vnni_fill_legacy(lp_kernels *k); /* avx512vnni_legacy.c */
void lp_avx512vnni_fill_kquant(lp_kernels *k); /* avx512vnni_kquant.c */

#endif
