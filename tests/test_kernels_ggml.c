/* test_kernels_ggml.c — our kernels against numbers ggml itself produced:
 * quantized dots of real weight rows from the shared models and the
 * activation bytes of a row full of special values, each in every ISA
 * the CPU runs. test_kernels.c ties every ISA to the scalar emulation on
 * random rows; these pin that emulation to llama.cpp's ggml without
 * linking it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"
#include "kernels.h"
#include "q4_0x8.h"
#include "quant.h"
#include "support.h"

static bool isa_usable(lp_isa isa, lp_kernels *k)
{
    if (isa > lp_cpu_best_isa()) {
        print_message("  [ SKIP ] %s: this CPU lacks it\n", lp_isa_name(isa));
        return false;
    }
    assert_int_equal(lp_kernels_init(k, isa, NULL), 0);
    return true;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The expected values below are ggml's own outputs: ggml as of llama.cpp
 * c392e509 (the build that made shared/reference; sources and build
 * flags in the team's exactness-oracle notes), compiled -O3
 * -march=native on an AMD EPYC Zen4 (its AVX2 kernels with AVX-512 VNNI
 * integer steps). A throwaway program linked against that ggml ran
 * ggml_get_type_traits_cpu(type)->from_float on pinned_acts(768) (or
 * special_acts) and ->vec_dot of the result with the first 768 values of
 * the named tensor, and printed the f32 with %a (for the quantizers: the
 * FNV-1a hash of the bytes). The same from_float + vec_dot run through a
 * 7-column ggml_mul_mat (llamafile's tinyBLAS for Q4_0/Q5_0/Q8_0, the
 * prompt path) gives the same bits. The repacked Q4_0 values are rows of
 * ggml_mul_mat(ffn_down, pinned_acts) with ffn_down in ggml's CPU_AARCH64
 * buffer, as llama.cpp holds it. */

#define PIN_N 768

/* An activation row that is the same on every machine: k/61 for k in
 * -320..320 from a 32-bit LCG, every 29th value 8x (outliers). */
static void pinned_acts(float *x, int n)
{
    uint32_t s = 2463534242u;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        const int k = (int)((s >> 8) % 641) - 320;
        x[i] = (float)k / 61.0f * (i % 29 == 0 ? 8.0f : 1.0f);
    }
}

/* pinned_acts(768) with specials: NaNs (default and with a payload) and a
 * block of exact ties (amax 127) in super-block 0; +Inf, -Inf and NaN in
 * super-block 1; super-block 2 subnormal, its last block zero. */
static void special_acts(float *x)
{
    pinned_acts(x, PIN_N);
    x[5] = from_bits(0x7fc00000u);
    x[40] = from_bits(0xffc00123u);
    for (int i = 64; i < 96; i++)
        x[i] = (float)((i * 37) % 253 - 126) + 0.5f;
    x[67] = 127.0f;
    x[256 + 7] = INFINITY;
    x[288 + 1] = -INFINITY;
    x[288 + 2] = from_bits(0x7fc00000u);
    for (int i = 512; i < PIN_N; i++)
        x[i] = i < 736 ? x[i] * 0x1p-140f : 0.0f;
}

static const struct {
    lp_type type;
    const char *model, *tensor; /* the first 768 values of it */
    float want;                 /* ggml's vec_dot with pinned_acts */
} k_dot_pins[] = {
    { LP_TYPE_Q4_0, "synth-llama-Q4_0.gguf", "blk.0.ffn_down.weight", -0x1.6d129p+0f },
    { LP_TYPE_Q4_1, "synth-llama-Q4_1.gguf", "blk.0.ffn_down.weight", -0x1.1b782cp+0f },
    { LP_TYPE_Q5_0, "synth-llama-Q5_0.gguf", "blk.0.ffn_down.weight", -0x1.495b92p+0f },
    { LP_TYPE_Q5_1, "synth-llama-Q5_1.gguf", "blk.0.ffn_down.weight", -0x1.28d1e4p+0f },
    { LP_TYPE_Q8_0, "synth-llama-Q8_0.gguf", "blk.0.ffn_down.weight", -0x1.4d1bccp+0f },
    /* rows 0..2 of a 256-wide tensor: three super-blocks */
    { LP_TYPE_Q2_K, "synth-llama-Q2_K.gguf", "blk.0.ffn_up.weight", 0x1.03cb08p+1f },
    { LP_TYPE_Q3_K, "synth-llama-Q2_K.gguf", "blk.0.ffn_down.weight", -0x1.64bd48p-2f },
    { LP_TYPE_Q4_K, "synth-llama-Q4_K_M.gguf", "blk.0.ffn_down.weight", -0x1.096b78p+0f },
    { LP_TYPE_Q5_K, "synth-llama-Q5_K_M.gguf", "blk.0.ffn_down.weight", -0x1.318efcp+0f },
    { LP_TYPE_Q6_K, "synth-llama-Q6_K.gguf", "blk.0.ffn_down.weight", -0x1.4a093cp+0f },
};

/* Rows 0..2 of synth-llama-Q4_0's blk.0.ffn_down, repacked by ggml. */
static const float k_q4_0x8_pins[] = { -0x1.6d1284p+0f, -0x1.5b4066p+1f, 0x1.f3fc96p+1f };

/* FNV-1a of ggml's from_float bytes for special_acts. */
static const struct {
    lp_type type;
    uint64_t fnv;
} k_quant_pins[] = {
    { LP_TYPE_Q8_0, UINT64_C(0x03134eee16664f70) },
    { LP_TYPE_Q8_1, UINT64_C(0x1a69e74bc0db7264) },
    { LP_TYPE_Q8_K, UINT64_C(0x4fb7ffc080d06406) },
    { LP_TYPE_F16, UINT64_C(0xb653d80f70bd463c) },
    { LP_TYPE_BF16, UINT64_C(0x48cc029f5112f40e) },
};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static lp_gguf *open_model(const char *name)
{
    char path[512], rel[128];
    snprintf(rel, sizeof rel, "models/%s", name);
    lp_err err = { { 0 } };
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    if (!g)
        fail_msg("%s: %s", path, err.msg);
    return g;
}

/* The tensor, checked to be of type t with at least n values. */
static const lp_gguf_tensor *find_tensor(const lp_gguf *g, const char *name, lp_type t, int64_t n)
{
    const lp_gguf_tensor *tn = lp_gguf_find_tensor(g, name);
    assert_non_null(tn);
    assert_int_equal(tn->type, t);
    assert_true(tn->nbytes >= lp_type_row_bytes(t, n));
    return tn;
}

/* Each ISA quantizes pinned_acts itself and dots a real row with it. */
static void test_dot_pinned(void **state)
{
    (void)state;
    float x[PIN_N];
    pinned_acts(x, PIN_N);
    uint8_t a[PIN_N * 2]; /* >= every dot type's row of 768 */
    for (size_t p = 0; p < sizeof k_dot_pins / sizeof k_dot_pins[0]; p++) {
        const lp_type t = k_dot_pins[p].type, dt = lp_type_traits_get(t)->vec_dot_type;
        assert_true(lp_type_row_bytes(dt, PIN_N) <= sizeof a);
        lp_gguf *g = open_model(k_dot_pins[p].model);
        const lp_gguf_tensor *tn = find_tensor(g, k_dot_pins[p].tensor, t, PIN_N);
        for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
            lp_kernels k;
            if (!isa_usable((lp_isa)isa, &k))
                continue;
            k.quantize[dt](x, a, PIN_N);
            const float got = k.dot[t](PIN_N, tn->data, a);
            if (memcmp(&got, &k_dot_pins[p].want, sizeof got) != 0) {
                print_error("%s dot %s (%s %s): got %a, ggml gave %a\n", lp_isa_name(k.isa),
                            lp_type_traits_get(t)->name, k_dot_pins[p].model,
                            k_dot_pins[p].tensor, (double)got, (double)k_dot_pins[p].want);
                fail();
            }
        }
        lp_gguf_close(g);
    }
}

static void test_q4_0x8_pinned(void **state)
{
    (void)state;
    float x[PIN_N];
    pinned_acts(x, PIN_N);
    uint8_t a[PIN_N * 2];
    lp_gguf *g = open_model("synth-llama-Q4_0.gguf");
    const lp_gguf_tensor *tn = find_tensor(g, "blk.0.ffn_down.weight", LP_TYPE_Q4_0, 3 * PIN_N);
    assert_int_equal(tn->ne[0], PIN_N);
    const size_t row = lp_type_row_bytes(LP_TYPE_Q4_0, PIN_N);
    for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
        lp_kernels k;
        if (!isa_usable((lp_isa)isa, &k))
            continue;
        k.quantize[LP_TYPE_Q8_0](x, a, PIN_N);
        for (int r = 0; r < 3; r++) {
            const float got = lp_q4_0x8_dot(k.isa)(PIN_N, (const uint8_t *)tn->data + r * row, a);
            if (memcmp(&got, &k_q4_0x8_pins[r], sizeof got) != 0) {
                print_error("%s q4_0x8 dot of ffn_down row %d: got %a, ggml gave %a\n",
                            lp_isa_name(k.isa), r, (double)got, (double)k_q4_0x8_pins[r]);
                fail();
            }
        }
    }
    lp_gguf_close(g);
}

static void test_quantize_pinned(void **state)
{
    (void)state;
    float x[PIN_N];
    special_acts(x);
    uint8_t b[PIN_N * 4];
    for (size_t p = 0; p < sizeof k_quant_pins / sizeof k_quant_pins[0]; p++) {
        const lp_type dt = k_quant_pins[p].type;
        const size_t bytes = lp_type_row_bytes(dt, PIN_N);
        assert_true(bytes <= sizeof b);
        assert_int_equal(lp_quantize_row(dt, x, b, PIN_N), 0);
        assert_true(fnv1a(b, bytes) == k_quant_pins[p].fnv);
        for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
            lp_kernels k;
            if (!isa_usable((lp_isa)isa, &k))
                continue;
            memset(b, 0, sizeof b);
            k.quantize[dt](x, b, PIN_N);
            if (fnv1a(b, bytes) != k_quant_pins[p].fnv) {
                print_error("%s quantize %s of specials: not ggml's bytes\n", lp_isa_name(k.isa),
                            lp_type_traits_get(dt)->name);
                fail();
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_pinned),
        cmocka_unit_test(test_q4_0x8_pinned),
        cmocka_unit_test(test_quantize_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
