/* matmul.h — y = W·x for a quantized weight matrix and a batch of f32
 * activation rows, split across the thread pool by output rows.
 *
 * The activations are first converted to the weight's dot type (Q8_0,
 * Q8_1, Q8_K, F16, BF16 or F32), once per call, then every weight row is
 * dotted with every activation row: for a batch (two or more rows) by the
 * table's tiled kernel where it has one (lp_gemm_fn: register tiles over
 * blocks of rows and activations sized for L2, each thread its own
 * contiguous rows), else one dot per output. Either way each output is
 * computed by one thread in one fixed order, so results do not depend on
 * the thread count, the batch blocking or the path. */
#ifndef LP_MATMUL_H
#define LP_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"
#include "kernels.h"

/* A 2-D weight: `rows` rows of `cols` elements (GGUF ne[0] = cols). */
typedef struct lp_weight {
    uint32_t type;
    int64_t rows, cols;
    size_t row_bytes;
    const uint8_t *data; /* borrowed (usually the gguf mapping) */
    bool gathered;       /* also read row by row (token_embd): llama.cpp cannot
                            repack such a tensor, see q4_0x8.h */
} lp_weight;

/* Scratch bytes lp_matmul needs for n_tok activation rows of `cols`
 * elements converted to the dot type of weight type `type`. */
size_t lp_matmul_scratch_bytes(uint32_t type, int64_t cols, int n_tok);

/* Whether ggml (Feb 2025, llamafile on, x86 with AVX-512 BF16) computes an
 * m x k weight times n_tok activation rows with llamafile's tinyBLAS (so
 * every output in k->dot_gemm's order) rather than ggml_vec_dot (k->dot):
 * only for n_tok >= 2, and for float weights only when k is a multiple of
 * its vector step (16; 32 for BF16) and m of 4. */
bool lp_matmul_uses_gemm(const lp_kernels *k, uint32_t type, int64_t m, int64_t n_tok,
                         int64_t cols);

/* y[t * w->rows + r] = W[r] · x[t * w->cols ...], t < n_tok, each output by
 * the dot ggml would use for this shape (lp_matmul_uses_gemm), or, for Q4_0
 * weights llama.cpp repacks (rows % 8 == 0, not gathered), q4_0x8's order.
 * scratch: lp_matmul_scratch_bytes(w->type, w->cols, n_tok) bytes. */
void lp_matmul(lp_threadpool *tp, const lp_kernels *k, const lp_weight *w,
               const float *x, int n_tok, float *y, void *scratch);

/* The same, every output computed as a one-token product of its row would
 * be (k->dot's order, never tinyBLAS's), the weights still read once for
 * all rows (the tiles of that order where the table has them): a decode
 * batch of separate sessions, each bit for bit as it would run alone. */
void lp_matmul_solo(lp_threadpool *tp, const lp_kernels *k, const lp_weight *w,
                    const float *x, int n_tok, float *y, void *scratch);

#endif
