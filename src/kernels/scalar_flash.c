/* scalar_flash.c — flash attention's V accumulation in portable C
 * (flash.h says what it computes), and the choice of table. */
#include "flash.h"

#include <math.h>
#include <string.h>

static float f16_at(const uint8_t *p)
{
    lp_half h;
    memcpy(&h, p, sizeof h);
    return lp_f16_to_f32(h);
}

static void v16(int d, int g, int n, const uint8_t *v, size_t v_stride, const float *ms,
                const float *vs, lp_half *acc)
{
    for (int j = 0; j < n; j++, v += v_stride, ms += g, vs += g)
        for (int h = 0; h < g; h++) {
            lp_half *a = acc + (size_t)h * d;
            if (ms[h] != 1.0f)
                for (int i = 0; i < d; i++)
                    a[i] = lp_f32_to_f16(lp_f16_to_f32(a[i]) * ms[h]);
            for (int i = 0; i < d; i++)
                a[i] = lp_f32_to_f16(fmaf(f16_at(v + 2 * i), vs[h], lp_f16_to_f32(a[i])));
        }
}

/* Value i of a q8_0 row: its quant times its block's scale. */
static float q8_at(const uint8_t *row, int i)
{
    const uint8_t *b = row + (size_t)(i / LP_QK8_0) * sizeof(lp_block_q8_0);
    return (float)(int8_t)b[2 + i % LP_QK8_0] * f16_at(b);
}

static void vq8(int d, int g, int n, const uint8_t *v, size_t v_stride, const float *ms,
                const float *vs, float *acc)
{
    for (int j = 0; j < n; j++, v += v_stride, ms += g, vs += g)
        for (int h = 0; h < g; h++) {
            float *a = acc + (size_t)h * d;
            if (ms[h] != 1.0f)
                for (int i = 0; i < d; i++)
                    a[i] *= ms[h];
            for (int i = 0; i < d; i++)
                a[i] = fmaf(q8_at(v, i), vs[h], a[i]);
        }
}

const uint64_t lp_expf_tab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

static void exp_n(const float *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

static void f16_to_f32(const lp_half *x, float *y, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = lp_f16_to_f32(x[i]);
}

void lp_flash_kernels_init(lp_flash_kernels *f, lp_isa isa)
{
    *f = (lp_flash_kernels){.v16 = v16, .vq8 = vq8, .exp = exp_n, .f16_to_f32 = f16_to_f32};
    if (isa >= LP_ISA_AVX2)
        lp_flash_fill_avx2(f);
    if (isa >= LP_ISA_AVX512)
        lp_flash_fill_avx512(f);
}
