/* kernels.h — per-ISA dot products, chosen once at start from cpuid.
 *
 * An lp_kernels table is a plain value (no allocation): fill it with
 * lp_kernels_init and pass it by pointer. Every entry a given ISA does not
 * implement falls back to the next lower ISA, ending at the scalar
 * emulations, so every table is complete.
 *
 * Numerics: every entry of every table gives the same bits, and those are
 * the bits llama.cpp's ggml (c392e509, x86 AVX-512 build) computes: the
 * same f32 lanes, the same fused multiply-adds, the same reduction trees.
 * The scalar tables emulate that order in portable C (scalar_qdot.c,
 * scalar_kdot.c, scalar_float.c: fmaf exactly where ggml fuses), and the
 * SIMD tables are tested bit for bit against them. So a shard computes the
 * same numbers on any CPU and with any thread count, and the pipeline
 * reproduces the one-process run exactly. */
#ifndef LP_KERNELS_H
#define LP_KERNELS_H

#include <stdint.h>

#include "err.h"
#include "quant.h"

typedef enum lp_isa {
    LP_ISA_SCALAR = 0,
    LP_ISA_AVX2,        /* AVX2 + FMA + F16C */
    LP_ISA_AVX512,      /* AVX-512 F/BW/DQ/VL */
    LP_ISA_AVX512_VNNI, /* + AVX512_VNNI */
    LP_ISA_COUNT
} lp_isa;

/* One weight row (w_type) · one activation row (its vec_dot_type). */
typedef float (*lp_vec_dot_fn)(int64_t n, const void *w, const void *a);

/* nt (2..LP_DOTN_MAX) activation rows against one weight row: out[t] =
 * dot(n, w, a[t]), each with exactly the bits of `dot`, the weights
 * decoded once for all (decode batches of separate sessions: a weight row
 * is read and unpacked once, then each row's dot steps run as alone). */
#define LP_DOTN_MAX 4
typedef void (*lp_dotn_fn)(int64_t n, const void *w, const void *const *a, int nt,
                           float *out);

/* f32 activations to a dot type (see lp_quantize_row). */
typedef void (*lp_quantize_fn)(const float *src, void *dst, int64_t n);

/* ggml_vec_soft_max_f32: y[i] = exp(x[i] - max), returning the sum of the
 * y[i] in ggml's order (per 16-lane chunk, in double). */
typedef double (*lp_exp_sum_fn)(float *y, const float *x, float max, int64_t n);

/* ggml_vec_silu_f32: y[i] = x[i] / (1 + exp(-x[i])). */
typedef void (*lp_silu_fn)(float *y, const float *x, int64_t n);

/* y[r] = dot(n, w + r * w_stride bytes, a) for r < rows: the same bits as
 * `dot`, several rows at a time (attention's Q.K over positions and P.V
 * over dimensions). */
typedef void (*lp_dot_rows_fn)(int64_t n, const void *w, size_t w_stride, const void *a,
                               float *y, int64_t rows);

/* A block of outputs at once (prompt processing): y[t * y_stride + r] =
 * dot(n, w + r * w_stride bytes, a + t * a_stride bytes) for r < rows and
 * t < n_tok, each output in exactly the order (so with the bits) of the
 * per-output kernel the table entry names. Only the order across outputs
 * differs: a register tile of outputs loads each weight block once per
 * few activation rows and each activation block once per few weight rows. */
typedef void (*lp_gemm_fn)(int64_t n, const void *w, size_t w_stride, int64_t rows,
                           const void *a, size_t a_stride, int64_t n_tok, float *y,
                           size_t y_stride);

typedef struct lp_kernels {
    lp_isa isa;
    lp_vec_dot_fn dot[LP_TYPE_COUNT];       /* by weight type; NULL = unsupported */
    lp_quantize_fn quantize[LP_TYPE_COUNT]; /* by dot type; NULL = not a dot type */
    /* The same dot in the order of llamafile's tinyBLAS, which ggml uses
     * instead of `dot` for products with >= 2 activation rows when it
     * accepts the shape (lp_matmul_uses_gemm); NULL = `dot` throughout. */
    lp_vec_dot_fn dot_gemm[LP_TYPE_COUNT];
    /* `dot` for up to LP_DOTN_MAX activation rows at once; NULL = call
     * `dot` per row (or the tiles, in `gemm`). */
    lp_dotn_fn dotn[LP_TYPE_COUNT];
    /* `dot` over many rows with one activation row; NULL = call `dot`. */
    lp_dot_rows_fn dot_rows[LP_TYPE_COUNT];
    /* Tiled forms (lp_gemm_fn) of `dot`, `dot_gemm` and lp_q4_0x8_dot;
     * NULL = one dot call per output (the scalar tables: they are the
     * reference the tiles are tested against). */
    lp_gemm_fn gemm[LP_TYPE_COUNT];
    lp_gemm_fn gemm_tb[LP_TYPE_COUNT];
    lp_gemm_fn gemm_q4_0x8;
    /* Float row ops, bit-identical to ggml's AVX-512 build in every table
     * (scalar_float.c says how). */
    lp_exp_sum_fn exp_sum;
    lp_silu_fn silu;
} lp_kernels;

const char *lp_isa_name(lp_isa isa);
/* Parse "scalar", "avx2", "avx512", "avx512vnni"; -1 if unknown. */
int lp_isa_parse(const char *s);

/* Best ISA this CPU (and OS: XSAVE state) supports. */
lp_isa lp_cpu_best_isa(void);

/* Fill k for isa; fails (err set) if the CPU cannot run it. */
int lp_kernels_init(lp_kernels *k, lp_isa isa, lp_err *err);

/* Per-ISA fillers, each overriding the entries it implements. Defined in
 * the per-ISA translation units, which alone are compiled with that ISA's
 * flags. */
void lp_kernels_fill_scalar(lp_kernels *k);
void lp_kernels_fill_avx2(lp_kernels *k);
void lp_kernels_fill_avx512(lp_kernels *k);
void lp_kernels_fill_avx512_vnni(lp_kernels *k);

/* The float entries of the scalar table (scalar_float.c): F32/F16/BF16
 * dot and dot_gemm, exp_sum, silu, as portable emulations of ggml's
 * AVX-512 code. lp_kernels_init runs it right after lp_kernels_fill_scalar. */
void lp_scalar_fill_float(lp_kernels *k);

#endif
