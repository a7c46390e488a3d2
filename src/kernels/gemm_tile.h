/* gemm_tile.h — internal to src/kernels: walking a block of outputs in
 * register tiles, for the lp_gemm_fn kernels (avx512_gemm_*.c).
 *
 * A tile kernel computes GEMM_TILE_MAX x GEMM_TILE_MAX outputs at most:
 * `rm` weight rows times `rn` activation rows, each output over the whole
 * length n, and writes out[i * GEMM_TILE_MAX + j] for row i, activation j.
 * Where the block does not divide into whole tiles, the last tile repeats
 * its last row (or activation) pointer and drops those outputs: each
 * output is computed on its own, so a repeated one changes nothing.
 *
 * Plain C, no intrinsics: included by the ISA translation units only
 * because they alone call it. */
#ifndef LP_GEMM_TILE_H
#define LP_GEMM_TILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { GEMM_TILE_MAX = 8 };

typedef void (*gemm_tile_fn)(int64_t n, const uint8_t *const *w, const uint8_t *const *a,
                             float *out);

/* One tile shape: `wide` for most of the block, `narrow` (fewer
 * activation rows, or NULL) for a remainder of at most rn_narrow. */
typedef struct gemm_shape {
    int rm, rn;
    gemm_tile_fn wide;
    int rn_narrow;
    gemm_tile_fn narrow;
} gemm_shape;

static inline void gemm_walk(const gemm_shape *s, int64_t n, const void *w, size_t w_stride,
                             int64_t rows, const void *a, size_t a_stride, int64_t n_tok,
                             float *y, size_t y_stride)
{
    const uint8_t *wb = w, *ab = a;
    for (int64_t r0 = 0; r0 < rows; r0 += s->rm) {
        const int nr = rows - r0 < s->rm ? (int)(rows - r0) : s->rm;
        const uint8_t *wp[GEMM_TILE_MAX];
        for (int i = 0; i < s->rm; i++)
            wp[i] = wb + (size_t)(r0 + (i < nr ? i : nr - 1)) * w_stride;
        for (int64_t t0 = 0; t0 < n_tok;) {
            const int64_t left = n_tok - t0;
            const bool narrow = s->narrow && left <= s->rn_narrow;
            const int rn = narrow ? s->rn_narrow : s->rn;
            const int nt = left < rn ? (int)left : rn;
            const uint8_t *ap[GEMM_TILE_MAX];
            for (int j = 0; j < rn; j++)
                ap[j] = ab + (size_t)(t0 + (j < nt ? j : nt - 1)) * a_stride;
            float out[GEMM_TILE_MAX * GEMM_TILE_MAX];
            (narrow ? s->narrow : s->wide)(n, wp, ap, out);
            for (int j = 0; j < nt; j++)
                for (int i = 0; i < nr; i++)
                    y[(size_t)(t0 + j) * y_stride + (size_t)(r0 + i)] = out[i * GEMM_TILE_MAX + j];
            t0 += nt;
        }
    }
}

#endif
