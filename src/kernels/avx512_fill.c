/* avx512_fill.c — the AVX-512 (F/BW/DQ/VL) kernel table. */
#include "kernels_impl.h"

void lp_kernels_fill_avx512(lp_kernels *k)
{
    (void)k;
}
