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
 * What a tile needs of each weight block besides its quants (f16 scales
 * as f32; the K-quants' unpacked scales and mins) is prepared once per
 * group of rm rows by the shape's w_prep, for all the activation tiles
 * that follow, into a buffer of GEMM_PREP_BYTES: prep_bytes for every
 * prep_values values of the row. Rows too long for it leave `prep` NULL
 * and the tile unpacks the blocks itself. (Activation scales are left to
 * the tile: measured, converting them ahead gained nothing.)
 *
 * Plain C, no intrinsics: included by the ISA translation units only
 * because they alone call it. */
#ifndef LP_GEMM_TILE_H
#define LP_GEMM_TILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { GEMM_TILE_MAX = 8, GEMM_PREP_BYTES = 96 << 10 };

typedef struct gemm_tile_args {
    int64_t n;
    const uint8_t *w[GEMM_TILE_MAX];  /* weight rows */
    const uint8_t *a[GEMM_TILE_MAX];  /* activation rows */
    const void *prep;                 /* w_prep's output for w, or NULL */
} gemm_tile_args;

typedef void (*gemm_tile_fn)(const gemm_tile_args *t, float *out);

/* Writes what the tile wants to know of the rows w[0..rm) to prep (64-byte
 * aligned), prep_bytes per prep_values values. */
typedef void (*gemm_prep_fn)(int64_t n, const uint8_t *const *w, void *prep);

/* One tile shape: `wide` for most of the block, `narrow` (fewer
 * activation rows, or NULL) for a remainder of at most rn_narrow. */
typedef struct gemm_shape {
    int rm, rn;
    gemm_tile_fn wide;
    int rn_narrow;
    gemm_tile_fn narrow;
    gemm_prep_fn w_prep; /* NULL: nothing to prepare */
    int prep_values;
    size_t prep_bytes;
} gemm_shape;

static inline void gemm_walk(const gemm_shape *s, int64_t n, const void *w, size_t w_stride,
                             int64_t rows, const void *a, size_t a_stride, int64_t n_tok,
                             float *y, size_t y_stride)
{
    const uint8_t *wb = w, *ab = a;
    _Alignas(64) unsigned char prep[GEMM_PREP_BYTES];
    const bool prep_fits = s->w_prep && (size_t)(n / s->prep_values) * s->prep_bytes <= sizeof prep;
    gemm_tile_args t = {.n = n};
    for (int64_t r0 = 0; r0 < rows; r0 += s->rm) {
        const int nr = rows - r0 < s->rm ? (int)(rows - r0) : s->rm;
        for (int i = 0; i < s->rm; i++)
            t.w[i] = wb + (size_t)(r0 + (i < nr ? i : nr - 1)) * w_stride;
        t.prep = NULL;
        if (prep_fits) {
            s->w_prep(n, t.w, prep);
            t.prep = prep;
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
