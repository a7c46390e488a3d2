/* test_quant.c — quant module: type table, f16/bf16 conversions,
 * dequantization against ggml's own output, x86-exact activation
 * quantization. The reference dots are in test_quant_dot.c. */
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

static float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- (e) the type table ---------------------------------------------- */

static const lp_type k_matmul[] = {
    LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16, LP_TYPE_Q4_0, LP_TYPE_Q4_1,
    LP_TYPE_Q5_0, LP_TYPE_Q5_1, LP_TYPE_Q8_0, LP_TYPE_Q2_K, LP_TYPE_Q3_K,
    LP_TYPE_Q4_K, LP_TYPE_Q5_K, LP_TYPE_Q6_K,
};
#define N_MATMUL (sizeof k_matmul / sizeof k_matmul[0])

static void test_traits_matmul(void **state)
{
    (void)state;
    /* ggml-cpu.c type_traits_cpu[].vec_dot_type, in k_matmul's order. */
    static const lp_type dot[N_MATMUL] = {
        LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16, LP_TYPE_Q8_0, LP_TYPE_Q8_1,
        LP_TYPE_Q8_0, LP_TYPE_Q8_1, LP_TYPE_Q8_0, LP_TYPE_Q8_K, LP_TYPE_Q8_K,
        LP_TYPE_Q8_K, LP_TYPE_Q8_K, LP_TYPE_Q8_K,
    };
    static const int64_t blck[N_MATMUL] = { 1, 1, 1, 32, 32, 32, 32, 32,
                                            256, 256, 256, 256, 256 };
    static const size_t size[N_MATMUL] = { 4, 2, 2, 18, 20, 22, 24, 34,
                                           84, 110, 144, 176, 210 };
    int n_matmul = 0;
    for (uint32_t id = 0; id < LP_TYPE_COUNT; id++) {
        const lp_type_traits *t = lp_type_traits_get(id);
        if (t != NULL && t->can_matmul)
            n_matmul++;
    }
    assert_int_equal(n_matmul, N_MATMUL);
    for (size_t i = 0; i < N_MATMUL; i++) {
        const lp_type_traits *t = lp_type_traits_get(k_matmul[i]);
        assert_non_null(t);
        assert_true(t->can_matmul);
        assert_int_equal(t->vec_dot_type, dot[i]);
        assert_int_equal(t->blck_size, blck[i]);
        assert_int_equal(t->type_size, size[i]);
    }
    assert_string_equal(lp_type_traits_get(LP_TYPE_Q4_K)->name, "q4_K");
    assert_string_equal(lp_type_traits_get(LP_TYPE_BF16)->name, "bf16");
}

static void test_traits_parse_only(void **state)
{
    (void)state;
    /* ggml.c type_traits: id, blck_size, type_size of types we only parse. */
    static const struct { uint32_t id; const char *name; int64_t blck; size_t size; } k[] = {
        { 9, "q8_1", 32, 36 }, { 15, "q8_K", 256, 292 },
        { 16, "iq2_xxs", 256, 66 }, { 17, "iq2_xs", 256, 74 },
        { 18, "iq3_xxs", 256, 98 }, { 19, "iq1_s", 256, 50 },
        { 20, "iq4_nl", 32, 18 }, { 21, "iq3_s", 256, 110 },
        { 22, "iq2_s", 256, 82 }, { 23, "iq4_xs", 256, 136 },
        { 24, "i8", 1, 1 }, { 25, "i16", 1, 2 }, { 26, "i32", 1, 4 },
        { 27, "i64", 1, 8 }, { 28, "f64", 1, 8 }, { 29, "iq1_m", 256, 56 },
        { 34, "tq1_0", 256, 54 }, { 35, "tq2_0", 256, 66 },
        { 39, "mxfp4", 32, 17 }, { 40, "nvfp4", 64, 36 },
        { 41, "q1_0", 128, 18 }, { 42, "q2_0", 64, 18 },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const lp_type_traits *t = lp_type_traits_get(k[i].id);
        assert_non_null(t);
        assert_string_equal(t->name, k[i].name);
        assert_int_equal(t->blck_size, k[i].blck);
        assert_int_equal(t->type_size, k[i].size);
        assert_false(t->can_matmul);
    }
    /* Removed from ggml (Q4_2, Q4_3, the _4_4.. repacks) or out of range. */
    static const uint32_t gone[] = { 4, 5, 31, 32, 33, 36, 37, 38, 43, 44, 255,
                                     0x7fffffff, 0xffffffff };
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        assert_null(lp_type_traits_get(gone[i]));
        assert_int_equal(lp_type_row_bytes(gone[i], 256), 0);
    }
}

static void test_row_bytes(void **state)
{
    (void)state;
    for (uint32_t id = 0; id < LP_TYPE_COUNT; id++) {
        const lp_type_traits *t = lp_type_traits_get(id);
        if (t == NULL)
            continue;
        assert_int_equal(lp_type_row_bytes(id, 0), 0);
        assert_int_equal(lp_type_row_bytes(id, t->blck_size), t->type_size);
        assert_int_equal(lp_type_row_bytes(id, 7 * t->blck_size), 7 * t->type_size);
        assert_int_equal(lp_type_row_bytes(id, -t->blck_size), 0);
        if (t->blck_size > 1) {
            assert_int_equal(lp_type_row_bytes(id, t->blck_size + 1), 0);
            assert_int_equal(lp_type_row_bytes(id, t->blck_size - 1), 0);
        }
    }
    assert_int_equal(lp_type_row_bytes(LP_TYPE_Q4_K, 4096), 16 * 144);
    assert_int_equal(lp_type_row_bytes(23, 4096), 16 * 136); /* IQ4_XS */
    /* A row whose byte count overflows size_t is rejected, not wrapped. */
    assert_int_equal(lp_type_row_bytes(LP_TYPE_F32, INT64_MAX), 0);
    assert_int_equal(lp_type_row_bytes(28, INT64_MAX / 2), 0); /* F64 */
}

static void test_rejects(void **state)
{
    (void)state;
    float f[64] = {0};
    uint8_t buf[1024] = {0};
    assert_int_equal(lp_dequantize_row(LP_TYPE_Q4_0, buf, f, 33), -1);
    assert_int_equal(lp_dequantize_row((lp_type)23, buf, f, 256), -1);
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_0, f, buf, 48), -1);
    assert_int_equal(lp_quantize_row(LP_TYPE_Q4_0, f, buf, 32), -1);
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_K, f, buf, 64), -1);
    assert_true(isnan(lp_vec_dot_ref(LP_TYPE_Q8_K, 256, buf, buf)));
    assert_true(isnan(lp_vec_dot_ref(LP_TYPE_Q4_0, 40, buf, buf)));
    assert_true(isnan(lp_vec_dot_ref((lp_type)20, 32, buf, buf)));
}

/* ---- (b) f16 / bf16 -------------------------------------------------- */

/* The value of a binary16, computed independently of the module. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static void test_f16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        lp_half h = (lp_half)i;
        float f = lp_f16_to_f32(h);
        int e = (h >> 10) & 0x1f, m = h & 0x3ff;
        if (e == 0x1f && m != 0) {
            /* NaN: stays NaN with its sign and payload, comes back quiet. */
            assert_true(isnan(f));
            assert_int_equal(bits_of(f) >> 31, h >> 15);
            assert_int_equal(lp_f32_to_f16(f), h | 0x200);
            continue;
        }
        if (e == 0x1f)
            assert_true(isinf(f) && (f < 0) == (h >> 15));
        else
            assert_true((double)f == half_value(h));
        assert_int_equal(bits_of(f) >> 31, h >> 15); /* -0 stays -0 */
        assert_int_equal(lp_f32_to_f16(f), h);
        /* Every f32 strictly between two neighbouring halves rounds to
         * the nearer one: check the two f32 next to the midpoint.
         * Bits order magnitudes for either sign, and half_value(0x7c00)
         * is 2^16, so 0x7bff's neighbourhood tests overflow to inf. The
         * midpoint has 12 significant bits, so it is exact in f32. */
        if (e != 0x1f) {
            double mid = (half_value(h) + half_value((lp_half)(h + 1))) / 2;
            float below = f32_of(bits_of((float)mid) - 1);
            float above = f32_of(bits_of((float)mid) + 1);
            assert_int_equal(lp_f32_to_f16(below), h);
            assert_int_equal(lp_f32_to_f16(above), (lp_half)(h + 1));
            /* The midpoint itself goes to the even one. */
            assert_int_equal(lp_f32_to_f16((float)mid), (h & 1) ? h + 1 : h);
        }
    }
}

static void test_f16_boundaries(void **state)
{
    (void)state;
    static const struct { uint32_t f; uint16_t h; } k[] = {
        { 0x3f800000, 0x3c00 }, /* 1 */
        { 0x3f801000, 0x3c00 }, /* 1 + 2^-11: tie, to even 1.0 */
        { 0x3f801001, 0x3c01 }, /* just above the tie */
        { 0x3f803000, 0x3c02 }, /* 1 + 3*2^-11: tie, to even 0x3c02 */
        { 0x477fe000, 0x7bff }, /* 65504, the largest half */
        { 0x477fefff, 0x7bff }, /* just under 65520 */
        { 0x477ff000, 0x7c00 }, /* 65520: tie between 65504 and 2^16 -> inf */
        { 0x501502f9, 0x7c00 }, /* 1e10 */
        { 0x7f7fffff, 0x7c00 }, /* FLT_MAX */
        { 0x7f800000, 0x7c00 }, { 0xff800000, 0xfc00 }, /* +-inf */
        { 0x80000000, 0x8000 }, /* -0 */
        { 0x38800000, 0x0400 }, /* 2^-14, smallest normal */
        { 0x387fc000, 0x03ff }, /* largest subnormal */
        { 0x387fe000, 0x0400 }, /* tie between 0x3ff and 0x400 -> even */
        { 0x33800000, 0x0001 }, /* 2^-24, smallest subnormal */
        { 0x33000000, 0x0000 }, /* 2^-25: tie between 0 and 2^-24 -> 0 */
        { 0x33000001, 0x0001 }, /* just above it */
        { 0x33c00000, 0x0002 }, /* 3*2^-25: tie between 1 and 2 -> 2 */
        { 0xb3c00000, 0x8002 }, /* the same, negative */
        { 0x00000001, 0x0000 }, /* f32 subnormal */
        { 0x80000001, 0x8000 },
        /* NaNs keep sign and top payload bits and come out quiet, as
         * VCVTPS2PH does (checked against F16C over every f32). */
        { 0x7fc00000, 0x7e00 }, { 0xffc00000, 0xfe00 },
        { 0x7f800001, 0x7e00 }, { 0x7fa00000, 0x7f00 }, { 0xff802000, 0xfe01 },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        lp_half got = lp_f32_to_f16(f32_of(k[i].f));
        if (got != k[i].h)
            print_error("f32 0x%08x: got 0x%04x want 0x%04x\n", k[i].f, got, k[i].h);
        assert_int_equal(got, k[i].h);
    }
}

static void test_bf16(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        float f = lp_bf16_to_f32((lp_bf16)i);
        assert_int_equal(bits_of(f), i << 16);
        bool nan = ((i >> 7) & 0xff) == 0xff && (i & 0x7f) != 0;
        assert_int_equal(lp_f32_to_bf16(f), nan ? (i | 0x40) : i);
    }
    static const struct { uint32_t f; uint16_t b; } k[] = {
        { 0x3f800000, 0x3f80 },
        { 0x3f808000, 0x3f80 }, /* tie: to even */
        { 0x3f818000, 0x3f82 }, /* tie: to even, upwards */
        { 0x3f808001, 0x3f81 },
        { 0x7f7fffff, 0x7f80 }, /* FLT_MAX rounds to inf */
        { 0x7f800000, 0x7f80 }, { 0xff800000, 0xff80 },
        { 0x7f800001, 0x7fc0 }, /* sNaN whose payload is below bf16: quiet */
        { 0xff810000, 0xffc1 },
        { 0x00000001, 0x0000 }, { 0x80008000, 0x8000 }, { 0x00018000, 0x0002 },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        assert_int_equal(lp_f32_to_bf16(f32_of(k[i].f)), k[i].b);
}

/* ---- (a) dequantization against ggml --------------------------------- */

/* Dequantize tensor `name` of g row by row into a new buffer (caller
 * frees). */
static float *dequant_tensor(const lp_gguf *g, const char *name, size_t *n, uint32_t *type)
{
    const lp_gguf_tensor *t = lp_gguf_find_tensor(g, name);
    assert_non_null(t);
    int64_t ne0 = (int64_t)t->ne[0];
    uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t row_bytes = lp_type_row_bytes(t->type, ne0);
    assert_true(row_bytes > 0);
    assert_int_equal(row_bytes * rows, t->nbytes);
    float *out = malloc((size_t)ne0 * rows * sizeof(float));
    assert_non_null(out);
    for (uint64_t r = 0; r < rows; r++)
        assert_int_equal(lp_dequantize_row((lp_type)t->type,
                                           (const uint8_t *)t->data + r * row_bytes,
                                           out + r * ne0, ne0), 0);
    *n = (size_t)ne0 * rows;
    *type = t->type;
    return out;
}

static lp_gguf *open_model(const char *model)
{
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "models/%s.gguf", model);
    lp_err err;
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    if (g == NULL)
        print_error("%s: %s\n", path, err.msg);
    assert_non_null(g);
    return g;
}

static bool same_bits(const float *a, const float *b, size_t n, size_t *first_diff)
{
    for (size_t i = 0; i < n; i++) {
        if (bits_of(a[i]) != bits_of(b[i])) {
            *first_diff = i;
            return false;
        }
    }
    return true;
}

/* Every file in reference/dequant must equal our dequantization bit for
 * bit: all 17, one per type, none excused. */
static void test_dequant_reference(void **state)
{
    (void)state;
    char dir[1024];
    lp_test_shared(dir, sizeof dir, "reference/dequant");
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool seen[LP_TYPE_COUNT] = {0};
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".f32") != 0)
            continue;
        /* MODEL.TENSOR.f32; model names have no dots. */
        char model[256], tensor[256];
        const char *dot = strchr(e->d_name, '.');
        assert_non_null(dot);
        snprintf(model, sizeof model, "%.*s", (int)(dot - e->d_name), e->d_name);
        snprintf(tensor, sizeof tensor, "%.*s", (int)(len - 4 - (size_t)(dot + 1 - e->d_name)), dot + 1);

        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t ref_len = 0;
        float *ref = lp_test_read_file(path, &ref_len);
        assert_non_null(ref);
        lp_gguf *g = open_model(model);
        size_t n, diff = 0;
        uint32_t type;
        float *got = dequant_tensor(g, tensor, &n, &type);
        assert_int_equal(ref_len, n * sizeof(float));
        const char *name = lp_type_traits_get(type)->name;
        if (!same_bits(got, ref, n, &diff)) {
            print_error("%s: element %zu: got %a want %a\n", e->d_name, diff,
                        (double)got[diff], (double)ref[diff]);
            fail();
        }
        print_message("dequant %-45s %-5s %7zu values: bit-exact\n", e->d_name, name, n);
        seen[type] = true;
        files++;
        free(got);
        free(ref);
        lp_gguf_close(g);
    }
    closedir(d);
    print_message("dequant: %d reference files verified bit-exact\n", files);
    assert_true(files >= 17);
    for (size_t i = 0; i < N_MATMUL; i++) {
        if (!seen[k_matmul[i]])
            print_error("no reference tensor of type %s\n", lp_type_traits_get(k_matmul[i])->name);
        assert_true(seen[k_matmul[i]]);
    }
}

/* Every synth-llama model was quantized by llama-quantize from the same
 * f32 file, so each dequantized tensor must be close to its source. The
 * bounds on relative RMS error are about 1.25x what this data gives (a
 * property of each format: f16/bf16 by their precision, the quants by
 * their bits); a layout mistake (swapped nibbles, a wrong scale or sign,
 * a misplaced high bit) gives errors of order 1. */
static void test_dequant_vs_source(void **state)
{
    (void)state;
    static const struct { lp_type type; double max_rel_rms; } bound[] = {
        { LP_TYPE_F16, 0.0005 }, { LP_TYPE_BF16, 0.004 }, { LP_TYPE_Q8_0, 0.007 },
        { LP_TYPE_Q6_K, 0.025 }, { LP_TYPE_Q5_0, 0.055 }, { LP_TYPE_Q5_1, 0.05 },
        { LP_TYPE_Q5_K, 0.05 }, { LP_TYPE_Q4_0, 0.11 }, { LP_TYPE_Q4_1, 0.10 },
        { LP_TYPE_Q4_K, 0.09 }, { LP_TYPE_Q3_K, 0.19 }, { LP_TYPE_Q2_K, 0.36 },
    };
    static const char *models[] = {
        "synth-llama-F16", "synth-llama-BF16", "synth-llama-Q8_0", "synth-llama-Q6_K",
        "synth-llama-Q5_0", "synth-llama-Q5_1", "synth-llama-Q5_K_M", "synth-llama-Q4_0",
        "synth-llama-Q4_1", "synth-llama-Q4_K_S", "synth-llama-Q4_K_M", "synth-llama-Q3_K_M",
        "synth-llama-Q2_K",
    };
    lp_gguf *src = open_model("synth-llama-f32");
    double worst[LP_TYPE_COUNT] = {0};
    int tensors[LP_TYPE_COUNT] = {0};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        lp_gguf *g = open_model(models[m]);
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const lp_gguf_tensor *t = &g->tensors[i];
            if (t->type == LP_TYPE_F32)
                continue;
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            const lp_gguf_tensor *s = lp_gguf_find_tensor(src, name);
            assert_non_null(s);
            assert_int_equal(s->type, LP_TYPE_F32);
            size_t n;
            uint32_t type;
            float *got = dequant_tensor(g, name, &n, &type);
            assert_int_equal(s->nbytes, n * sizeof(float));
            double err = 0, ref = 0;
            for (size_t j = 0; j < n; j++) {
                float x;
                memcpy(&x, (const uint8_t *)s->data + 4 * j, 4);
                err += ((double)got[j] - x) * ((double)got[j] - x);
                ref += (double)x * x;
            }
            double rel = sqrt(err / ref);
            if (rel > worst[type])
                worst[type] = rel;
            tensors[type]++;
            free(got);
        }
        lp_gguf_close(g);
    }
    lp_gguf_close(src);
    for (size_t i = 0; i < sizeof bound / sizeof bound[0]; i++) {
        lp_type ty = bound[i].type;
        print_message("dequant vs f32 source: %-5s %3d tensors, worst relative RMS %.4f (bound %.4f)\n",
                      lp_type_traits_get(ty)->name, tensors[ty], worst[ty], bound[i].max_rel_rms);
        assert_true(tensors[ty] > 0);
        assert_true(worst[ty] <= bound[i].max_rel_rms);
    }
}

/* ---- (c) activation quantization, hand-made rows ---------------------- */

/* Block 0: amax 127 so id = 1: the quants are x rounded half-to-even
 * (roundf, as in ggml's _ref code, would give 3, -3, 1, 127 ...).
 * Block 1: all zero. Block 2: the max is negative (-254, id = 0.5). */
static void q8_rows(float x[96], int8_t want[96])
{
    static const float b0[] = { 127, 2.5f, -2.5f, 3.5f, -3.5f, 0.5f, -0.5f, 1.5f,
                                126.5f, -126.5f, 1, -1, 0.49f, 0.51f, -127, 10 };
    static const int8_t q0[] = { 127, 2, -2, 4, -4, 0, 0, 2,
                                 126, -126, 1, -1, 0, 1, -127, 10 };
    static const float b2[] = { -254, 1, 3, 5, -5, 7, 2.9f, 253, -1 };
    static const int8_t q2[] = { -127, 0, 2, 2, -2, 4, 1, 126, 0 };
    memset(x, 0, 96 * sizeof(float));
    memset(want, 0, 96);
    for (int j = 0; j < 32; j++) {
        x[j] = b0[j % 16];
        want[j] = q0[j % 16];
    }
    for (size_t j = 0; j < sizeof b2 / sizeof b2[0]; j++) {
        x[64 + j] = b2[j];
        want[64 + j] = q2[j];
    }
}

static void test_q8_0_hand(void **state)
{
    (void)state;
    float x[96];
    int8_t want[96];
    q8_rows(x, want);
    lp_block_q8_0 b[3];
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_0, x, b, 96), 0);
    assert_int_equal(b[0].d, 0x3c00); /* 127/127 */
    assert_int_equal(b[1].d, 0x0000);
    assert_int_equal(b[2].d, 0x4000); /* 254/127 */
    for (int i = 0; i < 3; i++)
        assert_memory_equal(b[i].qs, want + 32 * i, 32);
}

static void test_q8_1_hand(void **state)
{
    (void)state;
    float x[96];
    int8_t want[96];
    q8_rows(x, want);
    lp_block_q8_1 b[3];
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_1, x, b, 96), 0);
    assert_int_equal(b[0].d, 0x3c00);
    assert_int_equal(b[1].d, 0x0000);
    assert_int_equal(b[2].d, 0x4000);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(b[i].qs, want + 32 * i, 32);
        int sum = 0;
        for (int j = 0; j < 32; j++)
            sum += want[32 * i + j];
        /* s = d * sum in f32, then to f16; here d is a power of two. */
        float d = lp_f16_to_f32(b[i].d);
        assert_int_equal(b[i].s, lp_f32_to_f16(d * (float)sum));
    }
    assert_int_equal(b[0].s, lp_f32_to_f16(2 * (127 + 2 - 2 + 4 - 4 + 0 + 0 + 2 + 126 - 126 + 1 - 1 + 0 + 1 - 127 + 10)));
    assert_int_equal(b[1].s, 0);
    assert_int_equal(b[2].s, lp_f32_to_f16(2.0f * (-127 + 0 + 2 + 2 - 2 + 4 + 1 + 126 + 0)));
}

static void test_q8_K_hand(void **state)
{
    (void)state;
    /* Block 0: max -127, so iscale = -127/max = 1 and d = 1.
     * Block 1: all zero. Block 2: max +127: iscale = -1, d = -1, and the
     * quants come out negated (ggml keeps -127 for the max element). */
    static const float vals[] = { -127, 2.5f, -2.5f, 3.5f, 0.5f, -0.5f, 126.5f, 7 };
    static const int8_t q[] = { -127, 2, -2, 4, 0, 0, 126, 7 };
    float x[3 * 256] = {0};
    int8_t want[3 * 256] = {0};
    for (int j = 0; j < 256; j++) {
        x[j] = vals[j % 8];
        want[j] = q[j % 8];
        x[512 + j] = -vals[j % 8];
        want[512 + j] = q[j % 8]; /* -(-x) */
    }
    x[512 + 3] = 127; /* an equal max later in the block: the first wins */
    lp_block_q8_K b[3];
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_K, x, b, 768), 0);
    assert_true(b[0].d == 1.0f);
    assert_true(b[1].d == 0.0f);
    assert_true(b[2].d == -1.0f);
    want[512 + 3] = -127;
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(b[i].qs, want + 256 * i, 256);
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += want[256 * i + 16 * g + j];
            assert_int_equal(b[i].bsums[g], sum);
        }
    }
    assert_int_equal(b[0].bsums[0], 2 * (-127 + 2 - 2 + 4 + 0 + 0 + 126 + 7));
}

/* Random rows: each quant is within half a step of x/d, the f16 scale is
 * amax/127 rounded, and s / bsums agree with the quants. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_q8_random(void **state)
{
    (void)state;
    enum { N = 1024 };
    static float x[N];
    static lp_block_q8_1 b1[N / 32];
    static lp_block_q8_0 b0[N / 32];
    static lp_block_q8_K bk[N / 256];
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < N; i++)
        x[i] = ((float)(rng_next(&s) >> 40) / (float)(1 << 24) - 0.5f) * (float)(1 + i % 7);
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_0, x, b0, N), 0);
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_1, x, b1, N), 0);
    assert_int_equal(lp_quantize_row(LP_TYPE_Q8_K, x, bk, N), 0);
    for (int i = 0; i < N / 32; i++) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[32 * i + j]));
        assert_int_equal(b0[i].d, lp_f32_to_f16(amax / 127.f));
        assert_memory_equal(&b0[i], &b1[i].d, 2);
        assert_memory_equal(b0[i].qs, b1[i].qs, 32);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[32 * i + j] * (127.f / amax);
            assert_true(fabsf(v - b0[i].qs[j]) <= 0.5f);
            sum += b1[i].qs[j];
        }
        assert_int_equal(b1[i].s, lp_f32_to_f16(amax / 127.f * (float)sum));
    }
    for (int i = 0; i < N / 256; i++) {
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += bk[i].qs[16 * g + j];
            assert_int_equal(bk[i].bsums[g], sum);
        }
        for (int j = 0; j < 256; j++)
            assert_true(fabsf(x[256 * i + j] / bk[i].d - bk[i].qs[j]) <= 0.5f + 1e-4f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traits_matmul),
        cmocka_unit_test(test_traits_parse_only),
        cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_f16_boundaries),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_dequant_reference),
        cmocka_unit_test(test_dequant_vs_source),
        cmocka_unit_test(test_q8_0_hand),
        cmocka_unit_test(test_q8_1_hand),
        cmocka_unit_test(test_q8_K_hand),
        cmocka_unit_test(test_q8_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
