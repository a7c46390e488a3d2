/* avx512vnni_fill.c — the AVX-512 VNNI kernel table: the integer dots
 * (every quantized weight type) rebuilt with VPDPBUSD / VPDPWSSD; the
 * float dots are AVX-512's, which VNNI would not change. */
#include "kernels_impl.h"

void lp_kernels_fill_avx512_vnni(lp_kernels *k)
{
    lp_avx512vnni_fill_legacy(k);
    lp_avx512vnni_fill_kquant(k);
}
