/* avx512vnni_legacy.c — the 32-block dots of avx512_legacy_impl.h built
 * with -mavx512vnni, where each u8*s8 dot is one VPDPBUSD. */
#include "avx512_legacy_impl.h"

void lp_avx512vnni_fill_legacy(lp_kernels *k)
{
    fill_legacy(k);
}
