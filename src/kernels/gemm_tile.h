/* gemm_tile.h — internal to src/kernels: walking a block of outputs in
 * register tiles, for the lp_gemm_fn kernels (avx512_gemm_*.c).
 *
 * A tile kernel computes up to GEMM_TILE_MAX x GEMM_TILE_MAX outputs:
 * `rm` weight rows times `rn` activation rows, each output over the whole
 * length n, and writes out[i * GEMM_TILE_MAX + j] for row i, activation j.
 * Where the block does not divide into whole tiles, the last tile repeats
 * its last row (or activation) pointer and drops those outputs: each
 * output is computed on its own, so a repeated one changes nothing.
 *
 * Weight block scales (formats with a f16 scale per 32 values) are
 * converted to f32 once per group of rm rows by the shape's w_prep, for
 * all the activation tiles that follow, into a buffer of GEMM_PREP_FLOATS
 * (rows longer than that leave ws NULL and the tile converts them itself).
 * The activations' are left to the tile: measured, converting them ahead
 * gained nothing.
 *
 * Plain C, no intrinsics: included by the ISA translation units only
 * because they alone call it. */
#ifndef LP_GEMM_TILE_H
#define LP_GEMM_TILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { GEMM_TILE_MAX = 8, GEMM_PREP_FLOATS = 4096 };

typedef struct gemm_tile_args {
    int64_t n;
    const uint8_t *w[GEMM_TILE_MAX];  /* weight rows */
    const uint8_t *a[GEMM_TILE_MAX];  /* activation rows */
    const float *ws;                  /* w_prep's weight scales, or NULL */
} gemm_tile_args;

typedef void (*gemm_tile_fn)(const gemm_tile_args *t, float *out);

/* ws[rm * b + i] = the f32 scale of block b of row w[i], for every block. */
typedef void (*gemm_prep_fn)(int64_t n, const uint8_t *const *w, float *ws);

/* One tile shape: `wide` for most of the block, `narrow` (fewer
 * activation rows, or NULL) for a remainder of at most rn_narrow. */
typedef struct gemm_shape {
    int rm, rn;
    gemm_tile_fn wide;
    int rn_narrow;
    gemm_tile_fn narrow;
    gemm_prep_fn w_prep; /* NULL: the format has no per-block f16 scales */
} gemm_shape;

static inline void gemm_walk(const gemm_shape *s, int64_t n, const void *w, size_t w_stride,
                             int64_t rows, const void *a, size_t a_stride, int64_t n_tok,
                             float *y, size_t y_stride)
{
    const uint8_t *wb = w, *ab = a;
    const int64_t nb = n / 32; /* w_prep's floats per row */
    float ws[GEMM_PREP_FLOATS];
    gemm_tile_args t = {.n = n};
    for (int64_t r0 = 0; r0 < rows; r0 += s->rm) {
        const int nr = rows - r0 < s->rm ? (int)(rows - r0) : s->rm;
        for (int i = 0; i < s->rm; i++)
            t.w[i] = wb + (size_t)(r0 + (i < nr ? i : nr - 1)) * w_stride;
        t.ws = NULL;
        if (s->w_prep && nb * s->rm <= GEMM_PREP_FLOATS) {
            s->w_prep(n, t.w, ws);
            t.ws = ws;
        }
        for (int64_t t0 = 0; t0 < n_tok;) {
            const int64_t left = n_tok - t0;
            const bool narrow = s->narrow && left <= s->rn_narrow;
            const int rn = narrow ? s->rn_narrow : s->rn;
            const int nt = left < rn ? (int)left : rn;
            for (int j = 0; j < rn; j++)
                t.a[j] = ab + (size_t)(t0 + (j < nt ? j : nt - 1)) * a_stride;
            float out[GEMM_TILE_MAX * GEMM_TILE_MAX];
            (narrow ? s->narrow : s->wide)(&t, out);
            for (int j = 0; j < nt; j++)
                for (int i = 0; i < nr; i++)
                    y[(size_t)(t0 + j) * y_stride + (size_t)(r0 + i)] = out[i * GEMM_TILE_MAX + j];
            t0 += nt;
        }
    }
}

#endif
