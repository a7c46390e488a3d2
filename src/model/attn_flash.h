/* attn_flash.h — flash attention (llama.cpp's -fa) on the CPU: a streaming
 * softmax over the KV positions, never a full row of scores.
 *
 * Numerics follow ggml's ggml_compute_forward_flash_attn_ext_f16 (Feb
 * 2025): the query rounded to K's dot type (f16, or Q8_0 for a q8_0 K),
 * s = K·q by ggml's vec_dot times the scale, then per position in order an
 * online max M and sum S, the V accumulator rescaled by expf(Mold - M) on a
 * new maximum and V added with weight expf(s - M) — in f16 (rounded after
 * every step, as ggml's f16 accumulator is) for an f16 V, in f32 for a
 * q8_0 V — and finally the accumulator times 1/S.
 *
 * The one departure: positions are cut into fixed blocks of `block` (from
 * position 0), each block runs ggml's loop from a fresh state, and the
 * blocks' (M, S, V) are merged in block order (M = max, each side scaled
 * by expf(M_side - M), summed). A query that sees at most one block
 * therefore gets ggml's bits exactly; longer ones differ from ggml by the
 * merge's rounding only. Because the blocks and the merge order are fixed,
 * the result never depends on the thread count, nor on whether a token is
 * decoded alone or inside a prompt.
 *
 * Work: a prompt step gives each share whole (token, kv head) pairs, every
 * block in turn; a one-token step (decoding) splits the blocks of every kv
 * head across the shares (a partial M, S, V each) and merges them in a
 * second pass, so long contexts use every thread. Either way the g query
 * heads that share a kv head (GQA) are done together: a block of K and V
 * is read once for all of them and never copied per head.
 *
 * Scratch is bounded by the block and the head count, not by the context:
 * lp_attn_flash_scratch_bytes. Nothing here allocates. */
#ifndef LP_ATTN_FLASH_H
#define LP_ATTN_FLASH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "kv.h"
#include "threadpool.h"

/* KV positions per block: the most a query may see and still get ggml's
 * bits exactly, and the unit of the decode split. */
#define LP_FLASH_BLOCK 256
/* Blocks per kv head in one round of the decode split: bounds the
 * partials' scratch (a context longer than WAVE * BLOCK takes more rounds). */
#define LP_FLASH_WAVE 16

typedef struct lp_flash_args {
    int n_head, n_head_kv, head_dim;
    int n_tok;     /* queries, at positions pos0 .. pos0 + n_tok - 1 */
    int pos0;      /* query t sees positions 0 .. pos0 + t (causal) */
    int block;     /* 1 .. LP_FLASH_BLOCK (model.c: LP_FLASH_BLOCK) */
    float scale;   /* 1 / sqrt(head_dim) */
    lp_kv_type type_k, type_v;
    const uint8_t *K, *V;      /* position rows: kv head h of position p at
                                  K + p * k_stride + h * (head_dim's row bytes) */
    size_t k_stride, v_stride; /* bytes */
} lp_flash_args;

/* Scratch lp_attn_flash needs for a model of these heads on n_threads. */
size_t lp_attn_flash_scratch_bytes(int n_head, int n_head_kv, int head_dim, int n_threads);

/* out[t][h][d] = attention of query q[t][h][.] (f32, [n_tok][n_head]
 * [head_dim]) over the cache. scratch: lp_attn_flash_scratch_bytes for
 * this thread pool's size. head_dim must be a multiple of 32 for q8_0 types
 * (lp_attn_opts_check). */
void lp_attn_flash(lp_threadpool *tp, const lp_kernels *k, const lp_flash_args *a, const float *q,
                   float *out, void *scratch);

#endif
