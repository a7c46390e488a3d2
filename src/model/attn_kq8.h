/* attn_kq8.h — llama.cpp's attention without flash attention when the K
 * cache is q8_0 (-ctk q8_0 without -fa): ggml's mul_mat of the q8_0 K
 * view by the query quantized to Q8_0, then the same softmax and f16 P·V
 * over the transposed f16 V as lp_attend_head (ops.h). */
#ifndef LP_ATTN_KQ8_H
#define LP_ATTN_KQ8_H

#include <stddef.h>

#include "ops.h"

/* As lp_attend_head, but K is q8_0: row j of this kv head at
 * K + j * k_row_bytes. sh->qk / qk_rows are the Q8_0 dots ggml's mul_mat
 * picks (sh->k_stride is unused); s->q16 holds the Q8_0 query (head_dim
 * halves are more than head_dim / 32 blocks take). */
void lp_attend_head_kq8(const lp_kernels *k, const lp_attn_shape *sh, const float *q,
                        const uint8_t *K, size_t k_row_bytes, const lp_half *Vt,
                        int n_visible, float *out, lp_attn_scratch *s);

#endif
