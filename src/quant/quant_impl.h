/* quant_impl.h — helpers shared by the quant_*.c files only (not public).
 *
 * They unpack the packed scale and quant fields of K-quant blocks the way
 * ggml's dequantize_row_* and *_generic dot products read them, so the
 * dequantizer and the reference dots cannot disagree on a layout. */
#ifndef LP_QUANT_IMPL_H
#define LP_QUANT_IMPL_H

#include <stdint.h>
#include <string.h>

#include "quant.h"

/* Copy block i of a row into a local (rows may sit at any address). */
#define LP_LOAD_BLOCK(dst, src, i) \
    memcpy(&(dst), (const uint8_t *)(src) + (size_t)(i) * sizeof(dst), sizeof(dst))

/* Q3_K's sixteen 6-bit scales: low 4 bits in bytes 0..7, high 2 bits in
 * bytes 8..11. Written biased (0..63); users subtract 32. */
void lp_q3_K_scales(const uint8_t packed[LP_K_SCALE_SIZE], int8_t out[16]);

/* Q4_K/Q5_K: scale and min j (0..7), each 6 bits, from the 12 packed bytes. */
void lp_k4_scale_min(int j, const uint8_t q[LP_K_SCALE_SIZE], uint8_t *sc, uint8_t *mn);

/* Quant i (0..255) of a Q3_K block, -4..3 (2 low bits, hmask bit clear
 * means 4 lower). */
int lp_q3_K_quant(const lp_block_q3_K *b, int i);

/* Quant i (0..255) of a Q5_K block, 0..31. */
int lp_q5_K_quant(const lp_block_q5_K *b, int i);

/* Quant i (0..255) of a Q6_K block, -32..31. */
int lp_q6_K_quant(const lp_block_q6_K *b, int i);

/* Quant i (0..255) of a Q2_K block, 0..3. */
int lp_q2_K_quant(const lp_block_q2_K *b, int i);

/* Quant i (0..255) of a Q4_K block, 0..15. */
int lp_q4_K_quant(const lp_block_q4_K *b, int i);

/* K-quant reference dots over nb super-blocks (quant_dot_k.c); the
 * activations are Q8_K. */
float lp_dot_q2_K_ref(int64_t nb, const void *w, const void *a);
float lp_dot_q3_K_ref(int64_t nb, const void *w, const void *a);
float lp_dot_q4_K_ref(int64_t nb, const void *w, const void *a);
float lp_dot_q5_K_ref(int64_t nb, const void *w, const void *a);
float lp_dot_q6_K_ref(int64_t nb, const void *w, const void *a);

#endif
