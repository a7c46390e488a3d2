/* q4_0x8.h — Q4_0 dots in the order of llama.cpp's repacked Q4_0 weights.
 *
 * llama.cpp's CPU backend (c392e509, on any CPU with AVX2) moves every
 * Q4_0 weight that feeds a matrix product and has a multiple of 8 rows
 * into its "CPU_AARCH64" buffer, 8 rows interleaved (block_q4_0x8), and
 * multiplies it with ggml_gemv_q4_0_8x8_q8_0 (one activation row) or
 * ggml_gemm_q4_0_8x8_q8_0 (four at a time; the rest by gemv). Their f32
 * steps per output are NOT ggml_vec_dot_q4_0_q8_0's eight lanes but one
 * chain, block b after block b-1:
 *
 *     r = fma((float)isum_b, f16(x.d) * f16(y.d), r),   r starting at +0
 *
 * with isum_b the exact integer dot of block b; the activations are
 * ggml's Q8_0 bytes (quantize_mat_q8_0 interleaves the same values).
 * Checked against that ggml for 1 to 9 activation rows, and with it a
 * llama graph reproduces the reference logits of synth-llama-Q4_0 that
 * vec_dot's order does not (the 60-token prompt). token_embd, read by
 * GET_ROWS, is not repacked, so a tied output matrix keeps vec_dot's
 * order.
 *
 * The rows stay in GGUF's plain Q4_0 layout: only the order of the f32
 * steps is llama.cpp's. Every ISA gives the same bits. */
#ifndef LP_Q4_0X8_H
#define LP_Q4_0X8_H

#include "kernels.h"

/* The kernel for isa (one the CPU can run): an lp_vec_dot_fn for plain
 * Q4_0 rows with Q8_0 activations. */
lp_vec_dot_fn lp_q4_0x8_dot(lp_isa isa);

/* Per ISA; the AVX2 one exists on x86-64 only. */
float lp_q4_0x8_dot_scalar(int64_t n, const void *w, const void *a); /* scalar_qdot.c */
float lp_q4_0x8_dot_avx2(int64_t n, const void *w, const void *a);   /* avx2_legacy.c */

#endif
