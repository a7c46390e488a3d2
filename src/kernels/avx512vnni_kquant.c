/* avx512vnni_kquant.c — the K-quant dots of avx512_kquant_impl.h built
 * with -mavx512vnni, where each scale-and-accumulate is one VPDPWSSD. */
#include "avx512_kquant_impl.h"

void lp_avx512vnni_fill_kquant(lp_kernels *k)
{
    fill_kquant(k);
}
