/* quantize.h — f32 rows to ggml block formats, byte for byte as
 * llama.cpp's llama-quantize writes them without an importance matrix
 * (ggml's quantize_row_*_ref): the legacy types Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, the k-quants Q2_K..Q6_K, and the float types F32, F16 (round to
 * nearest even; NaN becomes 0x7e00) and BF16 (ggml's rounding).
 * Inputs with NaN, Inf or subnormals give ggml's bytes too.
 *
 * Rows are independent, so callers may split them across threads freely.
 * Nothing here allocates; the code is in quantize_legacy.c (floats, the
 * 32-element types, the dispatch) and quantize_kquant*.c. */
#ifndef LP_QUANTIZE_H
#define LP_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "quant.h"

/* Whether lp_quantize_rows can produce type t. */
bool lp_quantize_supported(lp_type t);

/* Quantize nrows rows of n_per_row f32 values (src, row-major) into dst,
 * which must hold nrows * lp_type_row_bytes(t, n_per_row) bytes.
 * n_per_row must be a multiple of t's block size. Returns 0, or -1 with
 * *err set for an unsupported type or a bad row length. */
int lp_quantize_rows(lp_type t, const float *src, void *dst, int64_t nrows,
                     int64_t n_per_row, lp_err *err);

#endif
