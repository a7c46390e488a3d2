/* avx512vnni_fill.c — the AVX-512 VNNI kernel table. */
#include "kernels_impl.h"

void lp_kernels_fill_avx512_vnni(lp_kernels *k)
{
    (void)k;
}
