/* avx512_legacy.c — the 32-block dots (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)
 * with AVX-512 BW: the code is avx512_legacy_impl.h, here without VNNI. */
#include "avx512_legacy_impl.h"

void lp_avx512_fill_legacy(lp_kernels *k)
{
    fill_legacy(k);
}
