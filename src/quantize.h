/* quantize.h — f32 rows to ggml block formats, as llama.cpp's reference
 * quantizers do it (no importance matrix): the legacy types (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0) byte for byte, the k-quants (Q2_K..Q6_K) with the same
 * scale searches, and the float types F32/F16/BF16 with ggml's rounding.
 *
 * Rows are independent, so callers may split them across threads freely.
 * Nothing here allocates. */
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
