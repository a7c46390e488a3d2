/* avx512_fill.c — the AVX-512 (F/BW/DQ/VL) kernel table: 512-bit dots for
 * every weight type. The activation quantizers stay AVX2's (they run once
 * per activation row, not once per weight row). */
#include "kernels_impl.h"

void lp_kernels_fill_avx512(lp_kernels *k)
{
    lp_avx512_fill_float(k);
    lp_avx512_fill_legacy(k);
    lp_avx512_fill_kquant(k);
}
