/* float_rows_impl.h — dot_rows for F32 weights: eight rows at a time, each
 * row's ggml order kept (its 64-chunks, then its tail in lane r), shared by
 * the AVX2 and AVX-512 files, which include it once after defining the
 * primitives it uses (so each copy is compiled with its file's ISA flags):
 *   __m256 ld_f32x8(const uint8_t *p, int64_t k)  k (<= 8) floats, rest 0
 *   void transpose8(__m256 p[8])
 *   CHUNKS64(bytes_per_elem, loader)  ggml's 64-element chunks of row x
 *     against y (x, y and n in scope), declaring their sum as `sum`
 *   float dot_f32(int64_t n, const void *w, const void *a)
 * Not a public header: it defines static functions. */
#ifndef LP_FLOAT_ROWS_IMPL_H
#define LP_FLOAT_ROWS_IMPL_H

/* Eight rows' f32 tails side by side (lane r = row r), in ggml's tail
 * order: the first lp_f32_tail_unfused(n) products rounded, then added;
 * the rest fused. That boundary is a multiple of 8, so whole blocks. */
static __m256 tails8_f32(__m256 acc, const uint8_t *x, size_t stride, const uint8_t *y, int64_t n)
{
    const int64_t unfused = lp_f32_tail_unfused(n);
    for (int64_t i = 0; i < n; i += 8) {
        const int64_t k = n - i < 8 ? n - i : 8;
        __m256 p[8];
        for (int r = 0; r < 8; r++)
            p[r] = ld_f32x8(x + (size_t)r * stride + 4 * i, k);
        transpose8(p);
        for (int64_t c = 0; c < k; c++) {
            const __m256 b = _mm256_set1_ps(lp_ld_f32u(y + 4 * (i + c)));
            acc = i < unfused ? _mm256_add_ps(acc, _mm256_mul_ps(p[c], b))
                              : _mm256_fmadd_ps(p[c], b, acc);
        }
    }
    return acc;
}

static void dot_rows_f32(int64_t n, const void *w, size_t stride, const void *a, float *out,
                         int64_t rows)
{
    const uint8_t *y = a;
    const int64_t tail_at = n & ~(int64_t)63;
    int64_t r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *x0 = (const uint8_t *)w + (size_t)r * stride;
        float head[8] = {0}; /* no chunk: ggml starts from 0.0f */
        for (int j = 0; j < 8 && tail_at > 0; j++) {
            const uint8_t *x = x0 + (size_t)j * stride;
            CHUNKS64(4, ld_f32);
            head[j] = sum;
        }
        const __m256 acc = tails8_f32(_mm256_loadu_ps(head), x0 + 4 * tail_at, stride,
                                      y + 4 * tail_at, n - tail_at);
        _mm256_storeu_ps(out + r, acc);
    }
    for (; r < rows; r++)
        out[r] = dot_f32(n, (const uint8_t *)w + (size_t)r * stride, a);
}

#endif
