/* bench_speed.c — the matmul rate a worker reports in Capabilities, which
 * the planner uses to give faster machines more layers. Decoding is a
 * matrix-vector product over quantized weights, so that is what is timed:
 * a Q4_K weight of 4096 columns, large enough (~38 MB) not to sit in the
 * cache, times one activation row, on the worker's own thread pool, for
 * about 50 ms. The figure is relative, not a promise of tokens/s. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "matmul.h"
#include "worker.h"

enum { COLS = 4096, ROWS = 16384, BUDGET_US = 50000, MIN_RUNS = 2 };

static void fill(lp_block_q4_K *w, size_t n_blocks)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n_blocks; i++) {
        uint8_t *b = (uint8_t *)&w[i];
        for (size_t j = 0; j < sizeof w[i]; j += 8) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(b + j, &x, sizeof w[i] - j < 8 ? sizeof w[i] - j : 8);
        }
        w[i].d = 0x2000;    /* 2^-7: finite scales, so no NaN slow paths */
        w[i].dmin = 0x1c00; /* 2^-8 */
    }
}

double wk_bench_gflops(int n_threads)
{
    lp_kernels k;
    lp_threadpool *tp = NULL;
    const size_t row_bytes = lp_type_row_bytes(LP_TYPE_Q4_K, COLS);
    const size_t n_blocks = (size_t)ROWS * COLS / LP_QK_K;
    lp_block_q4_K *wdata = malloc(n_blocks * sizeof *wdata);
    float *x = malloc(COLS * sizeof *x), *y = malloc(ROWS * sizeof *y);
    void *scratch = malloc(lp_matmul_scratch_bytes(LP_TYPE_Q4_K, COLS, 1));
    double gflops = 0;
    if (!wdata || !x || !y || !scratch || lp_kernels_init(&k, lp_cpu_best_isa(), NULL) != 0 ||
        !(tp = lp_threadpool_create(n_threads, NULL)))
        goto out;
    fill(wdata, n_blocks);
    for (int i = 0; i < COLS; i++)
        x[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
    lp_weight w = {.type = LP_TYPE_Q4_K, .rows = ROWS, .cols = COLS, .row_bytes = row_bytes,
                   .data = (const uint8_t *)wdata};
    lp_matmul(tp, &k, &w, x, 1, y, scratch); /* fault the pages in first */
    int64_t t0 = lp_now_us(), el = 0;
    int runs = 0;
    do {
        lp_matmul(tp, &k, &w, x, 1, y, scratch);
        runs++;
        el = lp_now_us() - t0;
    } while (el < BUDGET_US || runs < MIN_RUNS);
    gflops = 2.0 * ROWS * COLS * runs / ((double)el * 1e3);
out:
    lp_threadpool_destroy(tp);
    free(scratch);
    free(y);
    free(x);
    free(wdata);
    return gflops;
}
