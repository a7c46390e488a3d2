/* scalar_flash.c — flash attention's steps in portable C (flash.h says
 * what they compute), and the choice of table. */
#include "flash.h"

#include <math.h>
#include <string.h>

static void acc16(int d, int g, lp_half *acc, const lp_half *v, const float *ms, const float *vs)
{
    for (int h = 0; h < g; h++) {
        lp_half *a = acc + (size_t)h * d;
        if (ms[h] != 1.0f)
            for (int i = 0; i < d; i++)
                a[i] = lp_f32_to_f16(lp_f16_to_f32(a[i]) * ms[h]);
        for (int i = 0; i < d; i++)
            a[i] = lp_f32_to_f16(fmaf(lp_f16_to_f32(v[i]), vs[h], lp_f16_to_f32(a[i])));
    }
}

static void acc32(int d, int g, float *acc, const float *v, const float *ms, const float *vs)
{
    for (int h = 0; h < g; h++) {
        float *a = acc + (size_t)h * d;
        if (ms[h] != 1.0f)
            for (int i = 0; i < d; i++)
                a[i] *= ms[h];
        for (int i = 0; i < d; i++)
            a[i] = fmaf(v[i], vs[h], a[i]);
    }
}

static void deq_q8_0(const void *row, float *out, int d)
{
    const uint8_t *p = row;
    for (int b = 0; b < d / LP_QK8_0; b++, p += sizeof(lp_block_q8_0)) {
        lp_block_q8_0 blk;
        memcpy(&blk, p, sizeof blk);
        const float s = lp_f16_to_f32(blk.d);
        for (int j = 0; j < LP_QK8_0; j++)
            out[b * LP_QK8_0 + j] = (float)blk.qs[j] * s;
    }
}

void lp_flash_kernels_init(lp_flash_kernels *f, lp_isa isa)
{
    *f = (lp_flash_kernels){.acc16 = acc16, .acc32 = acc32, .deq_q8_0 = deq_q8_0};
    if (isa >= LP_ISA_AVX2)
        lp_flash_fill_avx2(f);
    if (isa >= LP_ISA_AVX512)
        lp_flash_fill_avx512(f);
}
