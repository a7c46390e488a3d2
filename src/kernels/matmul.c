#include "matmul.h"

#include <string.h>

#include "q4_0x8.h"

/* Rows per tile: a tile of weight rows stays in L1/L2 while every token of
 * the batch streams past it. */
enum { ROW_TILE = 16 };

/* The tiled kernels (lp_gemm_fn) get blocks of about these many bytes of
 * weight rows and of activation rows, so both stay in L2 while the kernel
 * walks its register tiles over them; threads split the rows in units of
 * GEMM_ROW_UNIT so that only the last block ends in a part tile. */
enum { GEMM_W_BYTES = 128 << 10, GEMM_A_BYTES = 512 << 10, GEMM_ROW_UNIT = 16 };

typedef struct mm_task {
    const lp_kernels *k;
    lp_vec_dot_fn dot;
    lp_dot_rows_fn rows; /* dot over a tile of rows, or NULL */
    lp_dotn_fn dotn;     /* dot of up to LP_DOTN_MAX activation rows at once */
    lp_gemm_fn gemm;     /* the same dot over blocks of outputs, or NULL */
    const lp_weight *w;
    const float *x;
    int n_tok;
    float *y;
    uint8_t *xq;
    size_t xq_row;
    lp_type dot_type;
} mm_task;

size_t lp_matmul_scratch_bytes(uint32_t type, int64_t cols, int n_tok)
{
    const lp_type_traits *t = lp_type_traits_get(type);
    if (!t)
        return 0;
    return lp_type_row_bytes(t->vec_dot_type, cols) * (size_t)n_tok;
}

bool lp_matmul_uses_gemm(const lp_kernels *k, uint32_t type, int64_t m, int64_t n_tok,
                         int64_t cols)
{
    if (type >= LP_TYPE_COUNT || !k->dot_gemm[type] || n_tok < 2)
        return false;
    switch (type) {
    case LP_TYPE_F32:
    case LP_TYPE_F16: return cols % 16 == 0 && m % 4 == 0;
    case LP_TYPE_BF16: return cols % 32 == 0 && m % 4 == 0;
    default: return true; /* tinyBLAS_Q0 takes every shape */
    }
}

static void quantize_task(void *arg, int ith, int nth)
{
    mm_task *t = arg;
    long lo, hi;
    lp_split_range(t->n_tok, ith, nth, &lo, &hi);
    for (long i = lo; i < hi; i++)
        t->k->quantize[t->dot_type](t->x + i * t->w->cols, t->xq + i * t->xq_row,
                                    t->w->cols);
}

static void dot_task(void *arg, int ith, int nth)
{
    mm_task *t = arg;
    const lp_weight *w = t->w;
    const lp_vec_dot_fn dot = t->dot;
    long lo, hi;
    lp_split_range(w->rows, ith, nth, &lo, &hi);
    for (long r0 = lo; r0 < hi; r0 += ROW_TILE) {
        const long r1 = r0 + ROW_TILE < hi ? r0 + ROW_TILE : hi;
        int i = 0;
        for (; t->dotn && i + 1 < t->n_tok; i += LP_DOTN_MAX) {
            const int nt = t->n_tok - i < LP_DOTN_MAX ? t->n_tok - i : LP_DOTN_MAX;
            const void *a[LP_DOTN_MAX];
            float out[LP_DOTN_MAX];
            for (int j = 0; j < nt; j++)
                a[j] = t->xq + (size_t)(i + j) * t->xq_row;
            for (long r = r0; r < r1; r++) {
                t->dotn(w->cols, w->data + (size_t)r * w->row_bytes, a, nt, out);
                for (int j = 0; j < nt; j++)
                    t->y[(size_t)(i + j) * (size_t)w->rows + (size_t)r] = out[j];
            }
        }
        for (; i < t->n_tok; i++) {
            const uint8_t *a = t->xq + (size_t)i * t->xq_row;
            float *y = t->y + (size_t)i * (size_t)w->rows;
            if (t->rows) {
                t->rows(w->cols, w->data + (size_t)r0 * w->row_bytes, w->row_bytes, a, y + r0,
                        r1 - r0);
                continue;
            }
            for (long r = r0; r < r1; r++)
                y[r] = dot(w->cols, w->data + (size_t)r * w->row_bytes, a);
        }
    }
}

static long clamp_units(size_t budget, size_t unit_bytes, long unit, long max)
{
    long n = unit_bytes ? (long)(budget / unit_bytes) : max;
    n = n / unit * unit;
    if (n < unit)
        n = unit;
    return n < max ? n : max;
}

static void gemm_task(void *arg, int ith, int nth)
{
    mm_task *t = arg;
    const lp_weight *w = t->w;
    const long units = (w->rows + GEMM_ROW_UNIT - 1) / GEMM_ROW_UNIT;
    long lo, hi;
    lp_split_range(units, ith, nth, &lo, &hi);
    lo *= GEMM_ROW_UNIT;
    hi = hi * GEMM_ROW_UNIT < w->rows ? hi * GEMM_ROW_UNIT : w->rows;
    const long rb = clamp_units(GEMM_W_BYTES, w->row_bytes, 4, GEMM_ROW_UNIT * 64L);
    const long tb = clamp_units(GEMM_A_BYTES, t->xq_row, 4, t->n_tok);
    for (long r0 = lo; r0 < hi; r0 += rb) {
        const long nr = hi - r0 < rb ? hi - r0 : rb;
        for (long t0 = 0; t0 < t->n_tok; t0 += tb) {
            const long nt = t->n_tok - t0 < tb ? t->n_tok - t0 : tb;
            t->gemm(w->cols, w->data + (size_t)r0 * w->row_bytes, w->row_bytes, nr,
                    t->xq + (size_t)t0 * t->xq_row, t->xq_row, nt,
                    t->y + (size_t)t0 * (size_t)w->rows + (size_t)r0, (size_t)w->rows);
        }
    }
}

static void matmul(lp_threadpool *tp, const lp_kernels *k, const lp_weight *w, const float *x,
                   int n_tok, float *y, void *scratch, bool solo)
{
    mm_task t = {
        .k = k, .w = w, .x = x, .n_tok = n_tok, .y = y,
        .dot_type = lp_type_traits_get(w->type)->vec_dot_type,
    };
    const bool gemm = !solo && lp_matmul_uses_gemm(k, w->type, w->rows, n_tok, w->cols);
    t.dot = gemm ? k->dot_gemm[w->type] : k->dot[w->type];
    t.rows = gemm ? NULL : k->dot_rows[w->type];
    t.gemm = gemm ? k->gemm_tb[w->type] : k->gemm[w->type];
    if (w->type == LP_TYPE_Q4_0 && w->rows % 8 == 0 && !w->gathered) {
        t.dot = lp_q4_0x8_dot(k->isa);
        t.rows = NULL;
        t.gemm = k->gemm_q4_0x8;
    }
    /* One activation row: the dots (and dot_rows) are the better walk.
     * A decode batch: the several-row dots where the type has them, which
     * unpack a weight row once for up to four rows without the tiles'
     * reshuffling (measured: 1.1 x one row's time for two rows, where the
     * 4 x 2 tile took 1.8 x). */
    if (n_tok < 2)
        t.gemm = NULL;
    if (solo && n_tok >= 2 && k->dotn[w->type] && t.dot == k->dot[w->type]) {
        t.gemm = NULL;
        t.dotn = k->dotn[w->type];
    }
    if (t.dot_type == LP_TYPE_F32) {
        /* f32 weights dot f32 activations directly: no conversion. */
        t.xq = (uint8_t *)(uintptr_t)x;
        t.xq_row = (size_t)w->cols * sizeof(float);
    } else {
        t.xq = scratch;
        t.xq_row = lp_type_row_bytes(t.dot_type, w->cols);
        if (n_tok == 1)
            quantize_task(&t, 0, 1);
        else
            lp_threadpool_run(tp, quantize_task, &t);
    }
    lp_threadpool_run(tp, t.gemm ? gemm_task : dot_task, &t);
}

void lp_matmul(lp_threadpool *tp, const lp_kernels *k, const lp_weight *w,
               const float *x, int n_tok, float *y, void *scratch)
{
    matmul(tp, k, w, x, n_tok, y, scratch, false);
}

void lp_matmul_solo(lp_threadpool *tp, const lp_kernels *k, const lp_weight *w,
                    const float *x, int n_tok, float *y, void *scratch)
{
    matmul(tp, k, w, x, n_tok, y, scratch, true);
}
