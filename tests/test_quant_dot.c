/* test_quant_dot.c — lp_vec_dot_ref for every weight type layerpool can
 * multiply, on real tensor rows from the synth models and on random valid
 * blocks, against the exact sum of dequantized weights times dequantized
 * activations.
 *
 * Tolerance. The exact value E = sum w[i]*a[i] is formed in double from
 * the f32 dequantized rows (each product is exact in double; n <= 768
 * terms add < 2^-43 relative). lp_vec_dot_ref differs from E only by f32
 * roundings, each at most 2^-24 times a quantity bounded by
 *     M = sum |a[i]| * (|w[i]| + 2*|w0[i]|),
 * where w0 is the "offset" part of the weight: the value the block gives
 * with every quant field zeroed (its min, for Q4_1/Q5_1/Q2_K/Q4_K/Q5_K).
 * The factor 2 covers the scaled part, since |d*sc*q| <= |w| + |w0|;
 * for types without a min it only loosens the bound. Per block there are
 * at most ~6 roundings (scale products, the integer sum to float, the min
 * term, the subtraction), the f32 accumulation adds one per block (plus 8
 * for the K-quant lanes), the dequantized w and a one each: so
 *     |dot - E| <= (nb + 16) * 2^-24 * M,
 * and we allow twice that. F32/F16/BF16 sum in double, so a few roundings
 * in all. Q4_1/Q5_1 take their min through Q8_1's f16 s, which adds
 * 2^-10 * sum |a[i]*w0[i]| (see check_row). A single wrong quant moves the dot by about |d*a[i]|, ~M/(15n),
 * which for n = 256..768 is 10-100x this tolerance: layout bugs fail. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "support.h"
#include "quant_test_layouts.h"

#define MAX_N 1024

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s)
{
    return (float)(rng_next(s) >> 40) / (float)(1 << 23) - 1.0f;
}

typedef struct {
    double worst; /* largest |dot - E| / tol seen */
    int rows;
} stats;

/* Check one weight row w (n elements of `type`) against a fresh random
 * activation row. */
static void check_row(uint32_t type, const uint8_t *w, int64_t n, uint64_t *rng, stats *st)
{
    const lp_type_traits *t = lp_type_traits_get(type);
    const quant_layout *lay = quant_layout_of(type);
    assert_non_null(lay);
    assert_true(n <= MAX_N);
    static float x[MAX_N], wd[MAX_N], w0d[MAX_N], ad[MAX_N];
    static uint8_t act[MAX_N * 4], w0[MAX_N * 4];
    size_t row_bytes = lp_type_row_bytes(type, n);
    int64_t nb = n / t->blck_size;

    /* Activations of varied scale, with one all-zero block of 32. */
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_unit(rng) * (float)(1 + i % 5);
    if (n >= 64)
        memset(x + 32, 0, 32 * sizeof(float));
    lp_type dt = t->vec_dot_type;
    assert_int_equal(lp_quantize_row(dt, x, act, n), 0);
    assert_int_equal(lp_dequantize_row(dt, act, ad, n), 0);

    assert_int_equal(lp_dequantize_row((lp_type)type, w, wd, n), 0);
    memcpy(w0, w, row_bytes);
    for (int64_t b = 0; b < nb; b++)
        memset(w0 + (size_t)b * t->type_size + lay->q_lo, 0, (size_t)(lay->q_hi - lay->q_lo));
    assert_int_equal(lp_dequantize_row((lp_type)type, w0, w0d, n), 0);

    double exact = 0, mag = 0, mag0 = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)wd[i] * (double)ad[i];
        mag += fabs((double)ad[i]) * (fabs((double)wd[i]) + 2 * fabs((double)w0d[i]));
        mag0 += fabs((double)ad[i]) * fabs((double)w0d[i]);
    }
    double steps = t->blck_size == 1 ? 4 : (double)(nb + 16);
    double tol = 2 * steps * 0x1p-24 * mag + 1e-30;
    /* Q8_1's s is f16(d * sum q) with d in f32, where the exact sum uses
     * f16(d) * q: the min term m * s is off by up to 2^-10 relative. */
    if (dt == LP_TYPE_Q8_1)
        tol += 2 * 0x1p-10 * mag0;
    float got = lp_vec_dot_ref((lp_type)type, n, w, act);
    double err = fabs((double)got - exact);
    if (!(err <= tol))
        print_error("%s n=%ld: dot %.9g exact %.9g err %.3g tol %.3g\n", t->name,
                    (long)n, (double)got, exact, err, tol);
    assert_true(err <= tol);
    if (err / tol > st->worst)
        st->worst = err / tol;
    st->rows++;
}

/* Rows of the tensors in reference/dequant: every weight type appears. */
static void test_dot_real_rows(void **state)
{
    (void)state;
    char dir[1024];
    lp_test_shared(dir, sizeof dir, "reference/dequant");
    DIR *d = opendir(dir);
    assert_non_null(d);
    stats st[LP_TYPE_COUNT] = {0};
    uint64_t rng = 12345;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        const char *dot = strchr(e->d_name, '.');
        if (len < 5 || strcmp(e->d_name + len - 4, ".f32") != 0 || dot == NULL)
            continue;
        char rel[512], path[1024], tensor[256];
        snprintf(rel, sizeof rel, "models/%.*s.gguf", (int)(dot - e->d_name), e->d_name);
        snprintf(tensor, sizeof tensor, "%.*s", (int)(len - 4 - (size_t)(dot + 1 - e->d_name)), dot + 1);
        lp_err err;
        lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
        assert_non_null(g);
        const lp_gguf_tensor *t = lp_gguf_find_tensor(g, tensor);
        assert_non_null(t);
        int64_t n = (int64_t)t->ne[0];
        uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        size_t rb = lp_type_row_bytes(t->type, n);
        /* First, second and last rows; plus one from the middle. */
        uint64_t pick[4] = { 0, 1 % rows, rows / 2, rows - 1 };
        for (int k = 0; k < 4; k++)
            check_row(t->type, (const uint8_t *)t->data + pick[k] * rb, n, &rng, &st[t->type]);
        lp_gguf_close(g);
    }
    closedir(d);
    for (size_t i = 0; i < N_QUANT_LAYOUTS; i++) {
        lp_type ty = k_quant_layouts[i].type;
        print_message("dot %-5s real rows %2d, worst err/tol %.3f\n",
                      lp_type_traits_get(ty)->name, st[ty].rows, st[ty].worst);
        assert_true(st[ty].rows > 0);
    }
}

/* Random bytes are valid blocks of every type once the f16 scales are
 * finite; these reach bit patterns (high scale bits, hmask, qh) that a
 * few real rows may not. */
static void test_dot_random_blocks(void **state)
{
    (void)state;
    uint64_t rng = 0xfeedface12345678u;
    static uint8_t w[MAX_N * 4];
    for (size_t li = 0; li < N_QUANT_LAYOUTS; li++) {
        const quant_layout *lay = &k_quant_layouts[li];
        const lp_type_traits *t = lp_type_traits_get(lay->type);
        stats st = {0};
        for (int rep = 0; rep < 20; rep++) {
            int64_t n = (t->blck_size == 1 ? 96 : t->blck_size) * (1 + rep % 3);
            size_t rb = lp_type_row_bytes(lay->type, n);
            for (size_t i = 0; i < rb; i++)
                w[i] = (uint8_t)rng_next(&rng);
            for (int64_t b = 0; b < n / t->blck_size; b++) {
                uint8_t *blk = w + (size_t)b * t->type_size;
                for (int f = 0; f < lay->n_f16; f++) {
                    lp_half h = lp_f32_to_f16(rng_unit(&rng) * 0.05f);
                    memcpy(blk + lay->f16_off[f], &h, 2);
                }
            }
            /* Float rows: random finite values of each format. */
            for (int64_t i = 0; i < n && t->blck_size == 1; i++) {
                float v = rng_unit(&rng) * 4;
                if (lay->type == LP_TYPE_F32)
                    memcpy(w + 4 * i, &v, 4);
                else if (lay->type == LP_TYPE_F16) {
                    lp_half h = lp_f32_to_f16(v);
                    memcpy(w + 2 * i, &h, 2);
                } else {
                    lp_bf16 h = lp_f32_to_bf16(v);
                    memcpy(w + 2 * i, &h, 2);
                }
            }
            check_row(lay->type, w, n, &rng, &st);
        }
        print_message("dot %-5s random rows %2d, worst err/tol %.3f\n", t->name, st.rows, st.worst);
    }
}

/* Exact small cases: integer-valued scales make the dot exact, so any
 * layout or sign slip shows as a wrong integer. */
static void test_dot_exact_small(void **state)
{
    (void)state;
    /* Q4_0 weight: d = 1, nibble j = j % 16, so value j is (j%16) - 8 and
     * value j+16 is (qs[j]>>4) - 8 = (15 - j%16) - 8. */
    lp_block_q4_0 w4;
    w4.d = lp_f32_to_f16(1.0f);
    for (int j = 0; j < 16; j++)
        w4.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16); /* amax 16 -> id 127/16: not integer */
    x[0] = -127; /* amax 127: id 1, d 1, quants = x */
    lp_block_q8_0 a;
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_0, x, &a, 32), 0);
    long want = 0;
    for (int j = 0; j < 16; j++)
        want += (long)((j % 16) - 8) * a.qs[j] + (long)((15 - j) - 8) * a.qs[j + 16];
    assert_true(lp_vec_dot_ref(LP_TYPE_Q4_0, 32, &w4, &a) == (float)want);

    /* Q8_0 . Q8_0 with d = 2 and 0.5: the dot is sum(q*q). */
    lp_block_q8_0 w8;
    w8.d = lp_f32_to_f16(2.0f);
    a.d = lp_f32_to_f16(0.5f);
    want = 0;
    for (int j = 0; j < 32; j++) {
        w8.qs[j] = (int8_t)(j * 7 - 100);
        a.qs[j] = (int8_t)(50 - j * 3);
        want += (long)w8.qs[j] * a.qs[j];
    }
    assert_true(lp_vec_dot_ref(LP_TYPE_Q8_0, 32, &w8, &a) == (float)want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_exact_small),
        cmocka_unit_test(test_dot_real_rows),
        cmocka_unit_test(test_dot_random_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
