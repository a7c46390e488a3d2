/* test_gemm.c — the tiled kernels (lp_gemm_fn entries of every kernel
 * table) and lp_matmul, which uses them for batches of activations.
 *
 * A tile computes many outputs at once but each one in the order of its
 * per-output kernel, so the result must equal those dots BIT FOR BIT
 * (memcmp), for:
 *   - every tiled entry of every ISA table this CPU can run (gemm: `dot`,
 *     gemm_tb: `dot_gemm`, gemm_q4_0x8: lp_q4_0x8_dot), compared with the
 *     same table's dots and with the scalar table's (the reference that
 *     test_kernels pins every SIMD dot to);
 *   - odd shapes: rows that are no multiple of any tile, 1..17, 33 and 64
 *     activation rows, rows and activations at odd addresses, strides
 *     wider than a row;
 *   - random rows (with extreme quant bytes too: -128 weights, +-127
 *     activations) and real weights from the models in shared/models;
 *   - lp_matmul over 1, 2 and 3 threads, which blocks rows and activation
 *     rows for the cache and splits rows between threads: the same bits
 *     as one dot per output, whatever the thread count. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "float_impl.h"
#include "gemm_impl.h"
#include "kernels.h"
#include "matmul.h"
#include "q4_0x8.h"
#include "threadpool.h"
#include "quant.h"
#include "quant_test_layouts.h"
#include "support.h"
#include "support_rng.h"

/* ---- random data ------------------------------------------------------ */

typedef enum { DATA_RANDOM, DATA_EXTREME } data_mode;

/* `rows` valid weight rows of type t at w, `stride` bytes apart. */
static void make_weights(lp_type t, int64_t n, int64_t rows, size_t stride, uint8_t *w, rng *r,
                         data_mode mode)
{
    static const uint8_t extreme[] = { 0x00, 0xff, 0x80, 0x7f };
    const lp_type_traits *tr = lp_type_traits_get(t);
    const quant_layout *l = quant_layout_of(t);
    const size_t bytes = lp_type_row_bytes(t, n);
    for (int64_t i = 0; i < rows; i++) {
        uint8_t *row = w + (size_t)i * stride;
        if (t == LP_TYPE_F32 || t == LP_TYPE_F16 || t == LP_TYPE_BF16) {
            float *x = malloc((size_t)n * sizeof *x);
            assert_non_null(x);
            for (int64_t j = 0; j < n; j++)
                x[j] = mode == DATA_EXTREME ? (rng_next(r) & 1 ? 4.0f : -4.0f) : rng_sym(r);
            assert_int_equal(lp_quantize_row(t, x, row, n), 0);
            free(x);
            continue;
        }
        for (size_t j = 0; j < bytes; j++)
            row[j] = mode == DATA_EXTREME ? extreme[rng_next(r) & 3] : (uint8_t)rng_next(r);
        for (size_t b = 0; b < bytes / tr->type_size; b++) {
            for (int f = 0; f < l->n_f16; f++) {
                /* A scale of realistic size, either sign. */
                const float v = (0.001f + 0.05f * (rng_sym(r) + 1.0f)) * (rng_next(r) & 1 ? 1 : -1);
                const lp_half h = lp_f32_to_f16(v);
                memcpy(row + b * tr->type_size + (size_t)l->f16_off[f], &h, sizeof h);
            }
        }
    }
}

static void make_acts(float *x, int64_t n, rng *r, data_mode mode)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = mode == DATA_EXTREME ? (rng_next(r) & 1 ? 1.0f : -1.0f)
                                    : rng_sym(r) * (rng_next(r) % 16 == 0 ? 20.0f : 1.0f);
}

/* ---- which tiles there are -------------------------------------------- */

typedef enum { ORDER_DOT, ORDER_TB, ORDER_Q4_0X8 } order;

static const char *order_name(order o)
{
    return o == ORDER_DOT ? "gemm" : o == ORDER_TB ? "gemm_tb" : "gemm_q4_0x8";
}

static lp_gemm_fn tile_of(const lp_kernels *k, order o, lp_type t)
{
    switch (o) {
    case ORDER_DOT: return k->gemm[t];
    case ORDER_TB: return k->gemm_tb[t];
    default: return t == LP_TYPE_Q4_0 ? k->gemm_q4_0x8 : NULL;
    }
}

static lp_vec_dot_fn dot_of(const lp_kernels *k, order o, lp_type t)
{
    switch (o) {
    case ORDER_DOT: return k->dot[t];
    case ORDER_TB: return k->dot_gemm[t];
    default: return lp_q4_0x8_dot(k->isa);
    }
}

static bool isa_table(lp_isa isa, lp_kernels *k)
{
    lp_err err = { { 0 } };
    if (isa > lp_cpu_best_isa()) {
        print_message("  [ SKIP ] %s: this CPU lacks it\n", lp_isa_name(isa));
        return false;
    }
    assert_int_equal(lp_kernels_init(k, isa, &err), 0);
    return true;
}

static lp_kernels scalar_table(void)
{
    lp_kernels k;
    lp_err err = { { 0 } };
    assert_int_equal(lp_kernels_init(&k, LP_ISA_SCALAR, &err), 0);
    return k;
}

/* ---- one comparison ------------------------------------------------------ */

/* A block of weights and quantized activations, each at an odd offset
 * inside its buffer (so no alignment is assumed). */
typedef struct case_data {
    lp_type type;
    int64_t n, rows, n_tok;
    const uint8_t *w;
    size_t w_stride;
    const uint8_t *a;
    size_t a_stride;
} case_data;

static int n_compared;

static void check_case(const lp_kernels *k, const lp_kernels *ref, order o, const case_data *c)
{
    const lp_gemm_fn tile = tile_of(k, o, c->type);
    const lp_vec_dot_fn dots[2] = { dot_of(k, o, c->type), dot_of(ref, o, c->type) };
    const size_t y_stride = (size_t)c->rows + 3;
    float *y = malloc(sizeof *y * y_stride * (size_t)c->n_tok);
    assert_non_null(y);
    /* Outputs outside the block must stay untouched. */
    for (size_t i = 0; i < y_stride * (size_t)c->n_tok; i++)
        y[i] = -7.0f;
    tile(c->n, c->w, c->w_stride, c->rows, c->a, c->a_stride, c->n_tok, y, y_stride);
    for (int64_t t = 0; t < c->n_tok; t++) {
        for (int64_t r = 0; r < c->rows + 3; r++) {
            const float got = y[(size_t)t * y_stride + (size_t)r];
            if (r >= c->rows) {
                assert_true(got == -7.0f);
                continue;
            }
            for (int d = 0; d < 2; d++) {
                const float want = dots[d](c->n, c->w + (size_t)r * c->w_stride,
                                           c->a + (size_t)t * c->a_stride);
                if (memcmp(&got, &want, sizeof got) != 0)
                    fail_msg("%s %s %s: n %lld, %lld rows x %lld acts: row %lld act %lld: "
                             "%.9g, per-output %s dot %.9g", lp_isa_name(k->isa), order_name(o),
                             lp_type_traits_get(c->type)->name, (long long)c->n,
                             (long long)c->rows, (long long)c->n_tok, (long long)r,
                             (long long)t, got, d ? "scalar" : "same-table", want);
            }
        }
    }
    n_compared++;
    free(y);
}

/* Activation rows of length n quantized to t's dot type by k, at an odd
 * offset, `stride` bytes apart; *buf to free. */
static uint8_t *quantize_acts(const lp_kernels *k, lp_type t, const float *x, int64_t n,
                              int64_t n_tok, size_t *stride, uint8_t **buf)
{
    const lp_type dt = lp_type_traits_get(t)->vec_dot_type;
    const size_t row = lp_type_row_bytes(dt, n);
    *stride = row + 5;
    *buf = malloc(*stride * (size_t)n_tok + 8);
    assert_non_null(*buf);
    uint8_t *a = *buf + 1;
    for (int64_t i = 0; i < n_tok; i++)
        k->quantize[dt](x + i * n, a + (size_t)i * *stride, n);
    return a;
}

/* ---- random rows -------------------------------------------------------- */

static const lp_type k_types[] = {
    LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16, LP_TYPE_Q4_0, LP_TYPE_Q4_1, LP_TYPE_Q5_0,
    LP_TYPE_Q5_1, LP_TYPE_Q8_0, LP_TYPE_Q2_K, LP_TYPE_Q3_K, LP_TYPE_Q4_K, LP_TYPE_Q5_K,
    LP_TYPE_Q6_K,
};

static const int64_t k_rows[] = { 1, 3, 4, 7, 8, 13 };
static const int64_t k_toks[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 33, 64 };

/* Row lengths: a few blocks, one long row, and for quantized types one
 * too long for the buffer of prepared weight blocks (gemm_tile.h: the
 * tile then unpacks them itself). Returns how many. */
static int lengths(lp_type t, int64_t out[4])
{
    const int64_t blk = lp_type_traits_get(t)->blck_size;
    const int64_t step = blk == 1 ? 32 : blk;
    out[0] = step;
    out[1] = 3 * step;
    out[2] = blk == 256 ? 11 * 256 : 4096 + 3 * step;
    out[3] = blk == 256 ? 144 * 256 : 3 * 32768 + 64;
    return blk == 1 ? 3 : 4;
}

static void check_random(const lp_kernels *k, const lp_kernels *ref, order o, lp_type t,
                         data_mode mode, rng *r)
{
    int64_t ns[4];
    const int n_len = lengths(t, ns);
    for (int ni = 0; ni < n_len; ni++) {
        const int64_t n = ns[ni];
        const int64_t max_rows = 13, max_tok = 64;
        const size_t w_stride = lp_type_row_bytes(t, n) + 3;
        uint8_t *wbuf = malloc(w_stride * max_rows + 8);
        float *x = malloc(sizeof *x * (size_t)(n * max_tok));
        assert_non_null(wbuf);
        assert_non_null(x);
        make_weights(t, n, max_rows, w_stride, wbuf + 3, r, mode);
        make_acts(x, n * max_tok, r, mode);
        size_t a_stride;
        uint8_t *abuf;
        const uint8_t *a = quantize_acts(k, t, x, n, max_tok, &a_stride, &abuf);
        for (size_t ri = 0; ri < sizeof k_rows / sizeof k_rows[0]; ri++) {
            for (size_t ti = 0; ti < sizeof k_toks / sizeof k_toks[0]; ti++) {
                /* The long rows with a few shapes only: slow in Debug. */
                if (ni == 2 && k_toks[ti] > 9 && k_toks[ti] != 33)
                    continue;
                if (ni == 3 && (k_rows[ri] != 7 || (k_toks[ti] != 3 && k_toks[ti] != 6)))
                    continue;
                const case_data c = { t, n, k_rows[ri], k_toks[ti], wbuf + 3, w_stride, a, a_stride };
                check_case(k, ref, o, &c);
            }
        }
        free(abuf);
        free(x);
        free(wbuf);
    }
}

static void test_random(void **state)
{
    (void)state;
    const lp_kernels ref = scalar_table();
    rng r = { 0x9e3779b97f4a7c15u };
    int tiles = 0;
    for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
        lp_kernels k;
        if (!isa_table((lp_isa)isa, &k))
            continue;
        for (int o = ORDER_DOT; o <= ORDER_Q4_0X8; o++) {
            for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++) {
                if (!tile_of(&k, (order)o, k_types[i]))
                    continue;
                tiles++;
                check_random(&k, &ref, (order)o, k_types[i], DATA_RANDOM, &r);
                check_random(&k, &ref, (order)o, k_types[i], DATA_EXTREME, &r);
            }
        }
    }
    /* The tables use VDPBF16PS where the CPU has it; the AVX-512 BF16
     * tile with its rebuild, against the rebuilt dots. */
    lp_kernels k;
    if (isa_table(LP_ISA_AVX512, &k)) {
        lp_avx512_fill_bf16(&k, false);
        lp_avx512_fill_gemm_bf16(&k, false);
        check_random(&k, &ref, ORDER_TB, LP_TYPE_BF16, DATA_RANDOM, &r);
        check_random(&k, &ref, ORDER_TB, LP_TYPE_BF16, DATA_EXTREME, &r);
    }
    print_message("  %d tiled kernels, %d blocks compared\n", tiles, n_compared);
    /* On an x86-64 with AVX-512 there must be tiles to test. */
    if (lp_cpu_best_isa() >= LP_ISA_AVX512)
        assert_true(tiles > 0);
}

/* ---- real weights ---------------------------------------------------- */

typedef struct real_model {
    const char *file;
    const char *tensors[4];
} real_model;

/* One model per weight type the tiles cover, and the tensors to take:
 * square and wide matrices, and the feed-forward's long rows. */
static const real_model k_real[] = {
    { "models/synth-llama-Q8_0.gguf", { "blk.0.attn_q.weight", "blk.1.ffn_down.weight", NULL } },
    { "models/synth-llama-Q4_0.gguf", { "blk.0.attn_k.weight", "blk.2.ffn_up.weight", NULL } },
    { "models/synth-llama-Q4_K_M.gguf",
      { "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.1.attn_v.weight", NULL } },
    { "models/synth-llama-Q6_K.gguf", { "blk.3.ffn_gate.weight", NULL } },
    { "models/synth-llama-Q5_K_M.gguf", { "blk.0.attn_q.weight", NULL } },
    { "models/synth-llama-Q3_K_M.gguf", { "blk.0.attn_q.weight", NULL } },
    { "models/synth-llama-Q2_K.gguf", { "blk.0.attn_q.weight", NULL } },
    { "models/synth-llama-F16.gguf", { "blk.0.attn_q.weight", "blk.0.ffn_down.weight", NULL } },
    { "models/synth-llama-BF16.gguf", { "blk.0.attn_q.weight", NULL } },
    { "models/synth-llama-f32.gguf", { "blk.0.attn_k.weight", NULL } },
    { "models/stories260K-Q4_K_M.gguf", { "blk.0.attn_q.weight", "blk.0.ffn_down.weight", NULL } },
};

static void check_tensor(const lp_kernels *ks, int n_isa, const lp_kernels *ref,
                         const lp_gguf_tensor *tn, rng *r)
{
    const lp_type t = (lp_type)tn->type;
    const int64_t n = (int64_t)tn->ne[0];
    const int64_t rows = tn->ne[1] < 37 ? (int64_t)tn->ne[1] : 37;
    const size_t row_bytes = lp_type_row_bytes(t, n);
    float *x = malloc(sizeof *x * (size_t)(n * 33));
    assert_non_null(x);
    make_acts(x, n * 33, r, DATA_RANDOM);
    for (int i = 0; i < n_isa; i++) {
        size_t a_stride;
        uint8_t *abuf;
        const uint8_t *a = quantize_acts(&ks[i], t, x, n, 33, &a_stride, &abuf);
        for (int o = ORDER_DOT; o <= ORDER_Q4_0X8; o++) {
            /* tinyBLAS's order only where ggml takes it (whole vectors). */
            if (!tile_of(&ks[i], (order)o, t) ||
                (o == ORDER_TB && !lp_matmul_uses_gemm(&ks[i], t, 4, 2, n)))
                continue;
            static const int64_t toks[] = { 2, 5, 16, 33 };
            for (size_t ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
                const case_data c = { t, n, rows, toks[ti], tn->data, row_bytes, a, a_stride };
                check_case(&ks[i], ref, (order)o, &c);
            }
        }
        free(abuf);
    }
    free(x);
}

static int usable_tables(lp_kernels ks[LP_ISA_COUNT])
{
    int n = 0;
    for (int isa = 0; isa < LP_ISA_COUNT; isa++)
        if (isa_table((lp_isa)isa, &ks[n]))
            n++;
    return n;
}

static void test_real_weights(void **state)
{
    (void)state;
    const lp_kernels ref = scalar_table();
    lp_kernels ks[LP_ISA_COUNT];
    const int n_isa = usable_tables(ks);
    rng r = { 12345 };
    for (size_t m = 0; m < sizeof k_real / sizeof k_real[0]; m++) {
        char path[512];
        lp_err err = { { 0 } };
        lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, k_real[m].file), &err);
        if (!g)
            fail_msg("%s: %s", path, err.msg);
        for (int i = 0; i < 4 && k_real[m].tensors[i]; i++) {
            const lp_gguf_tensor *tn = lp_gguf_find_tensor(g, k_real[m].tensors[i]);
            if (!tn)
                fail_msg("%s: no tensor %s", path, k_real[m].tensors[i]);
            check_tensor(ks, n_isa, &ref, tn, &r);
        }
        lp_gguf_close(g);
    }
}

/* ---- lp_matmul ------------------------------------------------------- */

/* What lp_matmul must give: one dot per output, in the order it names. */
static void matmul_want(const lp_kernels *k, const lp_weight *w, const float *x, int n_tok,
                        float *y)
{
    const lp_type dt = lp_type_traits_get(w->type)->vec_dot_type;
    const size_t a_row = lp_type_row_bytes(dt, w->cols);
    uint8_t *a = malloc(a_row * (size_t)n_tok);
    assert_non_null(a);
    for (int t = 0; t < n_tok; t++)
        k->quantize[dt](x + (size_t)t * (size_t)w->cols, a + (size_t)t * a_row, w->cols);
    lp_vec_dot_fn dot = lp_matmul_uses_gemm(k, w->type, w->rows, n_tok, w->cols)
                            ? k->dot_gemm[w->type] : k->dot[w->type];
    if (w->type == LP_TYPE_Q4_0 && w->rows % 8 == 0 && !w->gathered)
        dot = lp_q4_0x8_dot(k->isa);
    for (int t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < w->rows; r++)
            y[(size_t)t * (size_t)w->rows + (size_t)r] =
                dot(w->cols, w->data + (size_t)r * w->row_bytes, a + (size_t)t * a_row);
    free(a);
}

static void check_matmul(lp_threadpool *const tps[3], const lp_kernels *k, lp_type t, int64_t n,
                         int64_t rows, int n_tok, rng *r)
{
    const size_t row_bytes = lp_type_row_bytes(t, n);
    uint8_t *wdata = malloc(row_bytes * (size_t)rows);
    float *x = malloc(sizeof *x * (size_t)(n * n_tok));
    float *want = malloc(sizeof *want * (size_t)(rows * n_tok));
    float *got = malloc(sizeof *got * (size_t)(rows * n_tok));
    void *scratch = malloc(lp_matmul_scratch_bytes(t, n, n_tok) + 1);
    assert_true(wdata && x && want && got && scratch);
    make_weights(t, n, rows, row_bytes, wdata, r, DATA_RANDOM);
    make_acts(x, n * n_tok, r, DATA_RANDOM);
    const lp_weight w = { .type = t, .rows = rows, .cols = n, .row_bytes = row_bytes,
                          .data = wdata };
    matmul_want(k, &w, x, n_tok, want);
    for (int p = 0; p < 3; p++) {
        memset(got, 0, sizeof *got * (size_t)(rows * n_tok));
        lp_matmul(tps[p], k, &w, x, n_tok, got, scratch);
        if (memcmp(got, want, sizeof *got * (size_t)(rows * n_tok)) != 0)
            fail_msg("lp_matmul %s %s, %lld x %lld, %d acts, %d threads: not the dots' bits",
                     lp_isa_name(k->isa), lp_type_traits_get(t)->name, (long long)rows,
                     (long long)n, n_tok, p + 1);
    }
    free(scratch);
    free(got);
    free(want);
    free(x);
    free(wdata);
}

static void test_matmul(void **state)
{
    (void)state;
    lp_err err = { { 0 } };
    lp_threadpool *tps[3];
    for (int p = 0; p < 3; p++) {
        tps[p] = lp_threadpool_create(p + 1, &err);
        assert_non_null(tps[p]);
    }
    lp_kernels ks[LP_ISA_COUNT];
    const int n_isa = usable_tables(ks);
    rng r = { 777 };
    /* Shapes: more rows than one cache block, rows that split unevenly,
     * activations more than one block, a Q4_0 matrix that is not
     * repacked (rows % 8 != 0). */
    static const struct { int64_t n, rows; int n_tok; } shapes[] = {
        { 256, 8, 2 }, { 256, 100, 7 }, { 4096, 72, 40 }, { 512, 37, 64 }, { 2048, 600, 3 },
    };
    for (int i = 0; i < n_isa; i++) {
        for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
            const lp_type t = k_types[ti];
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                /* Slow in Debug for the scalar and float tables: one shape
                 * each suffices there (no tiles to block). */
                if ((i == 0 || (!ks[i].gemm[t] && !ks[i].gemm_tb[t])) && s != 1)
                    continue;
                check_matmul(tps, &ks[i], t, shapes[s].n, shapes[s].rows, shapes[s].n_tok, &r);
            }
        }
    }
    for (int p = 0; p < 3; p++)
        lp_threadpool_destroy(tps[p]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_real_weights),
        cmocka_unit_test(test_matmul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
