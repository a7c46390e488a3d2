/* quant.h — ggml tensor types: ids, block layouts, conversions, scalar
 * reference dequantize / activation-quantize / dot products.
 *
 * Type ids are ggml's (they are what GGUF files store). Block layouts are
 * byte-for-byte ggml's (ggml-common.h); each has a static assert of its size
 * so a layout mistake fails at compile time. All multi-byte fields are
 * little-endian; like ggml we only build for little-endian hosts.
 *
 * Nothing here allocates. Row lengths `n` are element counts and must be a
 * multiple of the type's block size (callers check; see lp_type_row_bytes). */
#ifndef LP_QUANT_H
#define LP_QUANT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum lp_type {
    LP_TYPE_F32 = 0,
    LP_TYPE_F16 = 1,
    LP_TYPE_Q4_0 = 2,
    LP_TYPE_Q4_1 = 3,
    LP_TYPE_Q5_0 = 6,
    LP_TYPE_Q5_1 = 7,
    LP_TYPE_Q8_0 = 8,
    LP_TYPE_Q8_1 = 9,
    LP_TYPE_Q2_K = 10,
    LP_TYPE_Q3_K = 11,
    LP_TYPE_Q4_K = 12,
    LP_TYPE_Q5_K = 13,
    LP_TYPE_Q6_K = 14,
    LP_TYPE_Q8_K = 15,
    LP_TYPE_BF16 = 30,
    LP_TYPE_COUNT = 43 /* ids below this may appear in files; see traits */
} lp_type;

typedef uint16_t lp_half; /* IEEE 754 binary16 bits */
typedef uint16_t lp_bf16; /* bfloat16 bits */

#define LP_QK4_0 32
#define LP_QK4_1 32
#define LP_QK5_0 32
#define LP_QK5_1 32
#define LP_QK8_0 32
#define LP_QK8_1 32
#define LP_QK_K 256
#define LP_K_SCALE_SIZE 12

typedef struct { lp_half d; uint8_t qs[LP_QK4_0 / 2]; } lp_block_q4_0;
static_assert(sizeof(lp_block_q4_0) == sizeof(lp_half) + LP_QK4_0 / 2, "q4_0 layout");

typedef struct { lp_half d, m; uint8_t qs[LP_QK4_1 / 2]; } lp_block_q4_1;
static_assert(sizeof(lp_block_q4_1) == 2 * sizeof(lp_half) + LP_QK4_1 / 2, "q4_1 layout");

typedef struct { lp_half d; uint8_t qh[LP_QK5_0 / 8]; uint8_t qs[LP_QK5_0 / 2]; } lp_block_q5_0;
static_assert(sizeof(lp_block_q5_0) == sizeof(lp_half) + LP_QK5_0 / 8 + LP_QK5_0 / 2,
              "q5_0 layout");

typedef struct { lp_half d, m; uint8_t qh[LP_QK5_1 / 8]; uint8_t qs[LP_QK5_1 / 2]; } lp_block_q5_1;
static_assert(sizeof(lp_block_q5_1) == 2 * sizeof(lp_half) + LP_QK5_1 / 8 + LP_QK5_1 / 2,
              "q5_1 layout");

typedef struct { lp_half d; int8_t qs[LP_QK8_0]; } lp_block_q8_0;
static_assert(sizeof(lp_block_q8_0) == sizeof(lp_half) + LP_QK8_0, "q8_0 layout");

/* s = d * sum(qs), precomputed so Q4_1/Q5_1 dots can apply the min. */
typedef struct { lp_half d, s; int8_t qs[LP_QK8_1]; } lp_block_q8_1;
static_assert(sizeof(lp_block_q8_1) == 2 * sizeof(lp_half) + LP_QK8_1, "q8_1 layout");

typedef struct {
    uint8_t scales[LP_QK_K / 16]; /* 4-bit scale | 4-bit min per 16 */
    uint8_t qs[LP_QK_K / 4];
    lp_half d, dmin;
} lp_block_q2_K;
static_assert(sizeof(lp_block_q2_K) == 2 * sizeof(lp_half) + LP_QK_K / 16 + LP_QK_K / 4,
              "q2_K layout");

typedef struct {
    uint8_t hmask[LP_QK_K / 8];
    uint8_t qs[LP_QK_K / 4];
    uint8_t scales[LP_QK_K / 16 * 6 / 8]; /* 16 6-bit scales */
    lp_half d;
} lp_block_q3_K;
static_assert(sizeof(lp_block_q3_K) ==
                  sizeof(lp_half) + LP_QK_K / 8 + LP_QK_K / 4 + LP_QK_K / 16 * 6 / 8,
              "q3_K layout");

typedef struct {
    lp_half d, dmin;
    uint8_t scales[LP_K_SCALE_SIZE]; /* 8 6-bit scales + 8 6-bit mins */
    uint8_t qs[LP_QK_K / 2];
} lp_block_q4_K;
static_assert(sizeof(lp_block_q4_K) == 2 * sizeof(lp_half) + LP_K_SCALE_SIZE + LP_QK_K / 2,
              "q4_K layout");

typedef struct {
    lp_half d, dmin;
    uint8_t scales[LP_K_SCALE_SIZE];
    uint8_t qh[LP_QK_K / 8];
    uint8_t qs[LP_QK_K / 2];
} lp_block_q5_K;
static_assert(sizeof(lp_block_q5_K) ==
                  2 * sizeof(lp_half) + LP_K_SCALE_SIZE + LP_QK_K / 8 + LP_QK_K / 2,
              "q5_K layout");

typedef struct {
    uint8_t ql[LP_QK_K / 2];
    uint8_t qh[LP_QK_K / 4];
    int8_t scales[LP_QK_K / 16];
    lp_half d;
} lp_block_q6_K;
static_assert(sizeof(lp_block_q6_K) == sizeof(lp_half) + LP_QK_K / 16 + 3 * LP_QK_K / 4,
              "q6_K layout");

/* Activations only: f32 scale, and sums of each 16 quants for K-quant mins. */
typedef struct {
    float d;
    int8_t qs[LP_QK_K];
    int16_t bsums[LP_QK_K / 16];
} lp_block_q8_K;
static_assert(sizeof(lp_block_q8_K) == sizeof(float) + LP_QK_K + LP_QK_K / 16 * sizeof(int16_t),
              "q8_K layout");

typedef struct lp_type_traits {
    const char *name;     /* ggml's name, e.g. "q4_K"; NULL for unused ids */
    int64_t blck_size;    /* elements per block */
    size_t type_size;     /* bytes per block */
    bool can_matmul;      /* layerpool can dequantize it and dot with it */
    lp_type vec_dot_type; /* activation format its dot product takes */
} lp_type_traits;

/* Traits for any id (< LP_TYPE_COUNT) ggml defines, including types we
 * cannot compute with (IQ*, TQ*, ...) so a GGUF with them still parses.
 * Returns NULL for ids ggml never defined or removed. */
const lp_type_traits *lp_type_traits_get(uint32_t type);

/* Bytes for a row of n elements; 0 if the type is unknown or n is not a
 * whole number of blocks. */
size_t lp_type_row_bytes(uint32_t type, int64_t n);

/* Exact IEEE conversions, matching x86 F16C / ggml's bf16 rounding. */
float lp_f16_to_f32(lp_half h);
lp_half lp_f32_to_f16(float f);
float lp_bf16_to_f32(lp_bf16 h);
lp_bf16 lp_f32_to_bf16(float f);

/* Weight rows to f32, bit-identical to ggml's to_float. Returns -1 if the
 * type cannot be dequantized. */
int lp_dequantize_row(lp_type type, const void *src, float *dst, int64_t n);

/* Activation rows to a dot type (F32, F16, BF16, Q8_0, Q8_1, Q8_K), as
 * ggml's CPU backend does on x86. Returns -1 for other types. */
int lp_quantize_row(lp_type dot_type, const float *src, void *dst, int64_t n);

/* Scalar reference dot product of one weight row (type w_type) with one
 * activation row already in traits(w_type)->vec_dot_type: ggml's generic
 * (portable) definition, blocks summed in order. The kernels (kernels.h)
 * agree with it to float rounding; they reproduce ggml's x86 order bit for
 * bit instead. NaN for a type that cannot be dotted or a bad length. */
float lp_vec_dot_ref(lp_type w_type, int64_t n, const void *w, const void *a);

#endif
