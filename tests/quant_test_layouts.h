/* quant_test_layouts.h — for the quant tests: where each weight type keeps
 * its f16 scale fields and its quant bytes within a block (ggml-common.h
 * layouts, written out independently of src/quant_*.c). */
#ifndef LP_QUANT_TEST_LAYOUTS_H
#define LP_QUANT_TEST_LAYOUTS_H

#include <stddef.h>

#include "quant.h"

typedef struct {
    lp_type type;
    int f16_off[2], n_f16; /* f16 fields: d, and dmin or m */
    int q_lo, q_hi;        /* quant bytes [q_lo, q_hi) of a block */
} quant_layout;

/* F32/F16/BF16: "blocks" of one value, all of it quant, no scale. */
static const quant_layout k_quant_layouts[] = {
    { LP_TYPE_F32, {0}, 0, 0, 4 },
    { LP_TYPE_F16, {0}, 0, 0, 2 },
    { LP_TYPE_BF16, {0}, 0, 0, 2 },
    { LP_TYPE_Q4_0, {0}, 1, 2, 18 },
    { LP_TYPE_Q4_1, {0, 2}, 2, 4, 20 },
    { LP_TYPE_Q5_0, {0}, 1, 2, 22 },     /* qh, qs */
    { LP_TYPE_Q5_1, {0, 2}, 2, 4, 24 },  /* qh, qs */
    { LP_TYPE_Q8_0, {0}, 1, 2, 34 },
    { LP_TYPE_Q2_K, {80, 82}, 2, 16, 80 },
    { LP_TYPE_Q3_K, {108}, 1, 0, 96 },   /* hmask, qs */
    { LP_TYPE_Q4_K, {0, 2}, 2, 16, 144 },
    { LP_TYPE_Q5_K, {0, 2}, 2, 16, 176 }, /* qh, qs */
    { LP_TYPE_Q6_K, {208}, 1, 0, 192 },  /* ql, qh */
};
#define N_QUANT_LAYOUTS (sizeof k_quant_layouts / sizeof k_quant_layouts[0])

static inline const quant_layout *quant_layout_of(uint32_t type)
{
    for (size_t i = 0; i < N_QUANT_LAYOUTS; i++)
        if ((uint32_t)k_quant_layouts[i].type == type)
            return &k_quant_layouts[i];
    return NULL;
}

#endif
