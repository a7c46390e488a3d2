/* test_quantize.c — lp_quantize_rows against llama.cpp's own quantized
 * files: llama-quantize (c392e509, no importance matrix) made every
 * synth-llama-<TYPE>.gguf, stories260K-Q4_K_M, synth-qwen2-{Q8_0,Q4_K_M}
 * and synth-llama31-tied-Q4_K_M from the f32/f16 file beside it. For every
 * tensor we quantize the source tensor of the same name into the type the
 * tensor has in llama.cpp's file and demand the same bytes — k-quants
 * included (their scale searches are float-order sensitive, so a byte
 * mismatch prints both RMSEs to tell a near miss from a real bug).
 *
 * Corner cases (zeros, one huge value, subnormals, tiny normals, f16
 * subnormal scales) are pinned to the SHA-256 of the bytes ggml-feb's
 * ggml_quantize_chunk gives for the same rows (computed offline), and must
 * dequantize to finite values; rows with NaN, Inf and values near
 * FLT_MAX are pinned the same way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "quantize.h"
#include "sha256.h"
#include "support.h"

static const lp_type k_types[] = {
    LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16, LP_TYPE_Q4_0, LP_TYPE_Q4_1,
    LP_TYPE_Q5_0, LP_TYPE_Q5_1, LP_TYPE_Q8_0, LP_TYPE_Q2_K, LP_TYPE_Q3_K,
    LP_TYPE_Q4_K, LP_TYPE_Q5_K, LP_TYPE_Q6_K,
};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

/* ---- against llama-quantize's files ----------------------------------- */

typedef struct tally {
    int equal[LP_TYPE_COUNT];
    int total[LP_TYPE_COUNT];
} tally;

static lp_gguf *open_shared(const char *rel)
{
    char path[1024];
    lp_err err = { { 0 } };
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    if (g == NULL)
        fail_msg("%s: %s", path, err.msg);
    return g;
}

static int64_t n_elements(const lp_gguf_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < LP_GGUF_MAX_DIMS; d++)
        n *= (int64_t)t->ne[d];
    return n;
}

/* RMSE of a quantized tensor against the f32 source. */
static double rmse_of(lp_type type, const void *q, const float *src, int64_t n)
{
    float *y = malloc((size_t)n * sizeof *y);
    assert_non_null(y);
    assert_int_equal(lp_dequantize_row(type, q, y, n), 0);
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += ((double)y[i] - src[i]) * ((double)y[i] - src[i]);
    free(y);
    return sqrt(sum / (double)n);
}

/* Our quantization of each (source tensor, type) already made: several
 * of llama.cpp's files hold the same tensor in the same type, and with
 * ASan requantizing each copy again would dominate the run. Each file's
 * bytes are still compared against ours. */
#define MEMO_MAX 1024

typedef struct memo {
    const lp_gguf *src;
    int n;
    struct {
        char name[LP_GGUF_MAX_NAME];
        uint32_t type;
        uint8_t *bytes;
    } e[MEMO_MAX];
} memo;

static void memo_clear(memo *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->e[i].bytes);
    m->n = 0;
}

/* The source tensor of t as f32 (caller frees); F32 or F16 in our files,
 * and llama-quantize widens F16 exactly too. */
static float *source_f32(const lp_gguf *src, const char *name, const lp_gguf_tensor *t)
{
    const lp_gguf_tensor *s = lp_gguf_find_tensor(src, name);
    if (s == NULL)
        fail_msg("%s has no source tensor", name);
    assert_memory_equal(s->ne, t->ne, sizeof s->ne);
    int64_t n = n_elements(t);
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    assert_int_equal(lp_dequantize_row((lp_type)s->type, s->data, x, n), 0);
    return x;
}

/* lp_quantize_rows of the source of t into t's type (memo owns it). */
static const uint8_t *ours_for(memo *m, const char *name, const lp_gguf_tensor *t)
{
    for (int i = 0; i < m->n; i++) {
        if (m->e[i].type == t->type && strcmp(m->e[i].name, name) == 0)
            return m->e[i].bytes;
    }
    assert_true(m->n < MEMO_MAX);
    int64_t n = n_elements(t), n_per_row = (int64_t)t->ne[0];
    assert_int_equal(lp_type_row_bytes(t->type, n_per_row) * (size_t)(n / n_per_row),
                     t->nbytes);
    float *x = source_f32(m->src, name, t);
    uint8_t *ours = malloc(t->nbytes);
    assert_non_null(ours);
    lp_err err = { { 0 } };
    if (lp_quantize_rows((lp_type)t->type, x, ours, n / n_per_row, n_per_row, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    free(x);
    snprintf(m->e[m->n].name, sizeof m->e[m->n].name, "%s", name);
    m->e[m->n].type = t->type;
    m->e[m->n].bytes = ours;
    return m->e[m->n++].bytes;
}

/* True if our bytes for tensor t are llama.cpp's; if not, says by how
 * much the two quantizations' errors differ. */
static bool requantize_equal(memo *m, const lp_gguf_tensor *t, const char *file)
{
    char name[LP_GGUF_MAX_NAME];
    assert_true(t->name.len < sizeof name);
    memcpy(name, t->name.ptr, t->name.len);
    name[t->name.len] = '\0';
    const uint8_t *ours = ours_for(m, name, t);
    if (memcmp(ours, t->data, t->nbytes) == 0)
        return true;
    float *x = source_f32(m->src, name, t);
    int64_t n = n_elements(t);
    print_message("  %s %s (%s): bytes differ; rmse ours %.9g, llama.cpp %.9g\n", file, name,
                  lp_type_traits_get(t->type)->name, rmse_of((lp_type)t->type, ours, x, n),
                  rmse_of((lp_type)t->type, t->data, x, n));
    free(x);
    return false;
}

/* Every tensor of `quant` requantized from `source`; prints per type how
 * many tensors came out byte-equal, adds them to *all. */
static void check_file(memo *m, const char *quant, tally *all)
{
    lp_gguf *q = open_shared(quant);
    tally here = { { 0 }, { 0 } };
    for (uint64_t i = 0; i < q->n_tensors; i++) {
        const lp_gguf_tensor *t = &q->tensors[i];
        assert_true(lp_quantize_supported((lp_type)t->type));
        here.total[t->type]++;
        here.equal[t->type] += requantize_equal(m, t, quant);
    }
    char line[512];
    int len = snprintf(line, sizeof line, "%s:", quant);
    for (size_t k = 0; k < N_TYPES; k++) {
        lp_type ty = k_types[k];
        if (here.total[ty] == 0)
            continue;
        len += snprintf(line + len, sizeof line - (size_t)len, " %s %d/%d",
                        lp_type_traits_get(ty)->name, here.equal[ty], here.total[ty]);
        all->equal[ty] += here.equal[ty];
        all->total[ty] += here.total[ty];
    }
    print_message("%s byte-equal\n", line);
    lp_gguf_close(q);
}

/* check_file for each of quants[], all made from `source`. */
static void check_files(const char *source, const char *const *quants, size_t n, tally *all)
{
    memo *m = calloc(1, sizeof *m);
    assert_non_null(m);
    lp_gguf *src = open_shared(source);
    m->src = src;
    for (size_t i = 0; i < n; i++)
        check_file(m, quants[i], all);
    memo_clear(m);
    free(m);
    lp_gguf_close(src);
}

static void assert_all_equal(const tally *all)
{
    for (size_t k = 0; k < N_TYPES; k++)
        assert_int_equal(all->equal[k_types[k]], all->total[k_types[k]]);
}

static void test_synth_llama(void **state)
{
    (void)state;
    static const char *const quants[] = {
        "models/synth-llama-Q4_0.gguf",   "models/synth-llama-Q4_1.gguf",
        "models/synth-llama-Q5_0.gguf",   "models/synth-llama-Q5_1.gguf",
        "models/synth-llama-Q8_0.gguf",   "models/synth-llama-Q2_K.gguf",
        "models/synth-llama-Q3_K_M.gguf", "models/synth-llama-Q4_K_S.gguf",
        "models/synth-llama-Q4_K_M.gguf", "models/synth-llama-Q5_K_M.gguf",
        "models/synth-llama-Q6_K.gguf",   "models/synth-llama-F16.gguf",
        "models/synth-llama-BF16.gguf",
    };
    tally all = { { 0 }, { 0 } };
    check_files("models/synth-llama-f32.gguf", quants, sizeof quants / sizeof quants[0], &all);
    /* Every type we produce appears in these files at least once. */
    for (size_t k = 0; k < N_TYPES; k++)
        assert_true(all.total[k_types[k]] > 0);
    assert_all_equal(&all);
}

static void test_other_models(void **state)
{
    (void)state;
    static const char *const stories[] = { "models/stories260K-Q4_K_M.gguf" };
    static const char *const qwen2[] = { "models/synth-qwen2-Q8_0.gguf",
                                         "models/synth-qwen2-Q4_K_M.gguf" };
    static const char *const tied[] = { "models/synth-llama31-tied-Q4_K_M.gguf" };
    tally all = { { 0 }, { 0 } };
    /* Rows of 64: llama.cpp fell back from the k-quants to Q5_0/Q8_0. */
    check_files("models/stories260K.gguf", stories, 1, &all);
    check_files("models/synth-qwen2-f32.gguf", qwen2, 2, &all);
    /* An F16 source: widened to f32 first, as llama-quantize does. */
    check_files("models/synth-llama31-tied-f16.gguf", tied, 1, &all);
    assert_true(all.total[LP_TYPE_Q5_0] > 0);
    assert_all_equal(&all);
}

/* ---- corner cases, pinned to ggml's bytes ----------------------------- */

#define EDGE_ROWS 10
#define EDGE_N 256

/* Uniform in [-1, 1) from a fixed LCG: exact, the same on every host. */
static float unit(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((int32_t)(*s >> 8) - 0x800000) / 8388608.0f;
}

static void edge_rows(float x[EDGE_ROWS][EDGE_N])
{
    uint32_t s = 12345;
    for (int i = 0; i < EDGE_N; i++) {
        x[0][i] = 0.0f;                                      /* all zero */
        x[1][i] = unit(&s) * 1e-3f;                          /* + one huge */
        x[2][i] = unit(&s) * 1e-39f;                         /* subnormal */
        x[3][i] = i % 5 ? 0.0f : unit(&s) * 1e-38f;          /* sparse tiny */
        x[4][i] = unit(&s) * 1e-20f;                         /* f16 scale 0 */
        x[5][i] = 0.5f;                                      /* constant */
        x[6][i] = -fabsf(unit(&s)) - 2.0f;                   /* all negative */
        x[7][i] = unit(&s) * (i % 16 ? 0.05f : 0.15f);       /* plain */
        x[8][i] = unit(&s) * 1e-5f;                          /* f16 subnormal scale */
        x[9][i] = 0.0f;                                      /* one value */
    }
    x[1][77] = 30000.0f;
    x[3][200] = 1.2e-38f;
    x[9][5] = -0.25f;
}

/* Rows no sane model has — NaN, infinities, values near FLT_MAX (their
 * max - min overflows), values past f16's range — still give ggml's
 * bytes (a tensor like that should not silently differ from llama.cpp). */
#define WILD_ROWS 4

static void wild_rows(float x[WILD_ROWS][EDGE_N])
{
    uint32_t s = 777;
    for (int i = 0; i < EDGE_N; i++) {
        x[0][i] = unit(&s);
        x[1][i] = unit(&s) * 100.0f;
        x[2][i] = unit(&s) * 3e38f;
        x[3][i] = unit(&s) * 1e5f;
    }
    x[0][9] = NAN;
    x[1][130] = INFINITY;
    x[1][131] = -INFINITY;
    x[2][3] = -3.4e38f;
}

/* First 8 bytes of the SHA-256 of ggml_quantize_chunk(type, rows) for
 * the edge and the wild rows, from ggml-feb's libggml-base on x86-64
 * (offline harness, not kept). */
typedef struct edge_pin {
    lp_type type;
    uint64_t edge, wild;
} edge_pin;

static const edge_pin k_edge_pins[] = {
    { LP_TYPE_F32, 0x8519757ce8da6f25ull, 0xff5fc1ae30c5963eull },
    { LP_TYPE_F16, 0x41eea30a90b50ad4ull, 0xb0b15f09c07dafe4ull },
    { LP_TYPE_BF16, 0x00e40e05550f6a8cull, 0x51459c696293462cull },
    { LP_TYPE_Q4_0, 0x72f45c0fe2416660ull, 0x0f87585c226a41fdull },
    { LP_TYPE_Q4_1, 0x4fb967e98e86a178ull, 0xcc029b68a3fefa89ull },
    { LP_TYPE_Q5_0, 0x0ef37623fa73164cull, 0xe92604e350be6393ull },
    { LP_TYPE_Q5_1, 0x5e399bb44dd0e434ull, 0x80440f1573b92024ull },
    { LP_TYPE_Q8_0, 0xc39debdcaf54098aull, 0x18c99cdca0130e1eull },
    { LP_TYPE_Q2_K, 0x192f19120f9d3020ull, 0xf78b649fb2721143ull },
    { LP_TYPE_Q3_K, 0x8a3d46392890fad2ull, 0x8cdd784f9a284eccull },
    { LP_TYPE_Q4_K, 0xe83096ac9f3120b9ull, 0x1927458135eaa762ull },
    { LP_TYPE_Q5_K, 0x0202884701729660ull, 0x7de1f357276c57f9ull },
    { LP_TYPE_Q6_K, 0x3df1bfaf6660aef5ull, 0x66d5bf98fbba2376ull },
};

static uint64_t sha_head(const void *p, size_t n)
{
    uint8_t d[LP_SHA256_BYTES];
    lp_sha256(p, n, d);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | d[i];
    return h;
}

static void test_edge_cases(void **state)
{
    (void)state;
    static float x[EDGE_ROWS][EDGE_N];
    static float y[EDGE_ROWS * EDGE_N];
    edge_rows(x);
    for (size_t k = 0; k < sizeof k_edge_pins / sizeof k_edge_pins[0]; k++) {
        lp_type t = k_edge_pins[k].type;
        size_t nbytes = lp_type_row_bytes(t, EDGE_N) * EDGE_ROWS;
        uint8_t *q = malloc(nbytes);
        assert_non_null(q);
        assert_int_equal(lp_quantize_rows(t, &x[0][0], q, EDGE_ROWS, EDGE_N, NULL), 0);
        assert_int_equal(lp_dequantize_row(t, q, y, EDGE_ROWS * EDGE_N), 0);
        for (int i = 0; i < EDGE_ROWS * EDGE_N; i++) {
            if (!isfinite(y[i]))
                fail_msg("%s: value %d dequantizes to %g", lp_type_traits_get(t)->name, i,
                         (double)y[i]);
        }
        /* An all-zero row stays exactly zero. */
        for (int i = 0; i < EDGE_N; i++)
            assert_true(y[i] == 0.0f);
        uint64_t h = sha_head(q, nbytes);
        if (h != k_edge_pins[k].edge)
            fail_msg("%s: bytes hash %016llx, ggml's %016llx", lp_type_traits_get(t)->name,
                     (unsigned long long)h, (unsigned long long)k_edge_pins[k].edge);
        free(q);
    }
}

static void test_wild_inputs(void **state)
{
    (void)state;
    static float x[WILD_ROWS][EDGE_N];
    wild_rows(x);
    for (size_t k = 0; k < sizeof k_edge_pins / sizeof k_edge_pins[0]; k++) {
        lp_type t = k_edge_pins[k].type;
        size_t nbytes = lp_type_row_bytes(t, EDGE_N) * WILD_ROWS;
        uint8_t *q = malloc(nbytes);
        assert_non_null(q);
        assert_int_equal(lp_quantize_rows(t, &x[0][0], q, WILD_ROWS, EDGE_N, NULL), 0);
        uint64_t h = sha_head(q, nbytes);
        if (h != k_edge_pins[k].wild)
            fail_msg("%s: bytes hash %016llx, ggml's %016llx", lp_type_traits_get(t)->name,
                     (unsigned long long)h, (unsigned long long)k_edge_pins[k].wild);
        free(q);
    }
}

/* ---- refusals --------------------------------------------------------- */

static void expect_refusal(lp_type t, int64_t nrows, int64_t n_per_row, const char *needle)
{
    float src[512] = { 0 };
    uint8_t dst[1024];
    memset(dst, 0xab, sizeof dst);
    lp_err err = { { 0 } };
    assert_int_equal(lp_quantize_rows(t, src, dst, nrows, n_per_row, &err), -1);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    for (size_t i = 0; i < sizeof dst; i++)
        assert_int_equal(dst[i], 0xab);
}

static void test_refusals(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_TYPES; k++)
        assert_true(lp_quantize_supported(k_types[k]));
    assert_false(lp_quantize_supported(LP_TYPE_Q8_K));
    assert_false(lp_quantize_supported(LP_TYPE_Q8_1));
    assert_false(lp_quantize_supported((lp_type)99));
    assert_false(lp_quantize_supported((lp_type)20)); /* IQ4_NL */

    expect_refusal(LP_TYPE_Q8_K, 1, 256, "q8_K");
    expect_refusal((lp_type)99, 1, 256, "99");
    expect_refusal(LP_TYPE_Q4_0, 1, 48, "multiple of 32");
    expect_refusal(LP_TYPE_Q4_K, 2, 64, "multiple of 256");
    expect_refusal(LP_TYPE_Q6_K, 1, 300, "multiple of 256");
    expect_refusal(LP_TYPE_F16, 1, 0, "positive");
    expect_refusal(LP_TYPE_Q8_0, -1, 32, "-1 rows");
    expect_refusal(LP_TYPE_Q8_0, INT64_MAX / 2, 64, "do not fit");
    /* A NULL err is allowed. */
    assert_int_equal(lp_quantize_rows(LP_TYPE_Q8_K, NULL, NULL, 1, 256, NULL), -1);
    /* No rows: nothing to do, nothing touched. */
    assert_int_equal(lp_quantize_rows(LP_TYPE_Q4_K, NULL, NULL, 0, 256, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_wild_inputs),
        cmocka_unit_test(test_synth_llama),
        cmocka_unit_test(test_other_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
