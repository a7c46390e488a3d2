/* test_kernels.c — the per-ISA kernel tables (src/kernels) and ISA
 * selection.
 *
 * Quantized dots must be ggml's x86 results bit for bit (one last-bit
 * difference grows into different tokens over a deep model), so:
 *   - every ISA's dot equals the scalar table's emulation of ggml's x86
 *     kernels (memcmp of the f32 result), on random rows;
 *   - that emulation agrees with ggml's generic definition
 *     (lp_vec_dot_ref) to float tolerance, which catches a wrong layout;
 *   - the same for Q4_0 in the order of llama.cpp's repacked weights;
 *   - test_kernels_ggml.c pins real rows to the f32 ggml itself returned.
 * Float dots (F32/F16/BF16) are checked against lp_vec_dot_ref to
 * tolerance. Activation quantizers must write lp_quantize_row's bytes in
 * every ISA, NaN, Inf and subnormal inputs included (their bytes are
 * pinned to ggml's in test_kernels_ggml.c too).
 *
 * Each ISA the running CPU supports is tested (the others are skipped
 * with a note). Random rows are valid: random quant bytes with every
 * f16 scale field set to a finite value of realistic size, and rows are
 * placed at odd addresses, as blocks inside a GGUF mapping can be. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "q4_0x8.h"
#include "quant.h"
#include "support_rng.h"

/* ---- random rows ------------------------------------------------------ */

/* A scale of realistic size: |v| log-uniform in [1e-3, 1e-1], random sign. */
static lp_half rng_scale(rng *r)
{
    float v = 1e-3f * powf(100.0f, rng_unit(r));
    return lp_f32_to_f16(rng_next(r) & 1 ? -v : v);
}

/* The f16 scale fields of one block: d (or the sole scale), and the min
 * (Q4_1/Q5_1: m, added) or dmin (K-quants: subtracted); -1 if none. */
typedef struct { long d, min; bool min_subtracted; } scale_fields;

static scale_fields fields_of(lp_type t)
{
    switch (t) {
    case LP_TYPE_Q4_0: return (scale_fields){ offsetof(lp_block_q4_0, d), -1, false };
    case LP_TYPE_Q4_1: return (scale_fields){ offsetof(lp_block_q4_1, d), offsetof(lp_block_q4_1, m), false };
    case LP_TYPE_Q5_0: return (scale_fields){ offsetof(lp_block_q5_0, d), -1, false };
    case LP_TYPE_Q5_1: return (scale_fields){ offsetof(lp_block_q5_1, d), offsetof(lp_block_q5_1, m), false };
    case LP_TYPE_Q8_0: return (scale_fields){ offsetof(lp_block_q8_0, d), -1, false };
    case LP_TYPE_Q2_K: return (scale_fields){ offsetof(lp_block_q2_K, d), offsetof(lp_block_q2_K, dmin), true };
    case LP_TYPE_Q3_K: return (scale_fields){ offsetof(lp_block_q3_K, d), -1, false };
    case LP_TYPE_Q4_K: return (scale_fields){ offsetof(lp_block_q4_K, d), offsetof(lp_block_q4_K, dmin), true };
    case LP_TYPE_Q5_K: return (scale_fields){ offsetof(lp_block_q5_K, d), offsetof(lp_block_q5_K, dmin), true };
    case LP_TYPE_Q6_K: return (scale_fields){ offsetof(lp_block_q6_K, d), -1, false };
    default: return (scale_fields){ -1, -1, false };
    }
}

static void put_half(uint8_t *p, lp_half h)
{
    memcpy(p, &h, sizeof h);
}

static lp_half get_half(const uint8_t *p)
{
    lp_half h;
    memcpy(&h, p, sizeof h);
    return h;
}

/* How the quant bytes of a weight row are drawn. */
typedef enum { BYTES_RANDOM, BYTES_EXTREME } byte_mode;

/* A valid weight row of type t, n elements, at w. */
static void make_weights(lp_type t, int64_t n, uint8_t *w, rng *r, byte_mode mode)
{
    const lp_type_traits *tr = lp_type_traits_get(t);
    const size_t bytes = lp_type_row_bytes(t, n);
    if (t == LP_TYPE_F32 || t == LP_TYPE_F16 || t == LP_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            const float v = mode == BYTES_EXTREME ? (rng_next(r) & 1 ? 4.0f : -4.0f) : rng_sym(r);
            if (t == LP_TYPE_F32)
                memcpy(w + 4 * i, &v, 4);
            else if (t == LP_TYPE_F16)
                put_half(w + 2 * i, lp_f32_to_f16(v));
            else {
                const lp_bf16 b = lp_f32_to_bf16(v);
                memcpy(w + 2 * i, &b, 2);
            }
        }
        return;
    }
    /* Extreme bytes push every quant to the ends of its range, where a
     * saturating i16 step would show. */
    static const uint8_t extreme[] = { 0x00, 0xff, 0x80, 0x7f };
    for (size_t i = 0; i < bytes; i++)
        w[i] = mode == BYTES_EXTREME ? extreme[rng_next(r) & 3] : (uint8_t)rng_next(r);
    const scale_fields f = fields_of(t);
    for (size_t b = 0; b < bytes / tr->type_size; b++) {
        uint8_t *blk = w + b * tr->type_size;
        put_half(blk + f.d, rng_scale(r));
        if (f.min >= 0)
            put_half(blk + f.min, rng_scale(r));
    }
}

/* f32 activations: mostly small, a few outliers, as hidden states are. */
static void make_acts(float *x, int64_t n, rng *r, byte_mode mode)
{
    for (int64_t i = 0; i < n; i++) {
        if (mode == BYTES_EXTREME)
            x[i] = rng_next(r) & 1 ? 1.0f : -1.0f; /* quantizes to +-127 */
        else
            x[i] = rng_sym(r) * (rng_next(r) % 16 == 0 ? 20.0f : 1.0f);
    }
}

/* ---- the tolerance ------------------------------------------------------
 * A SIMD dot and the reference compute the same exact integer sum for
 * each block (or super-block) and differ only in how the f32 products
 * d*sum and the per-block results are added up. Each f32 rounding is
 * within 2^-24 of its value, and no partial sum exceeds S = sum of
 * |w_i * a_i| over every term either side adds (for formats with a min,
 * the scale and min parts count separately, since they are added as
 * separate f32 terms that may cancel). With a few hundred sequential
 * additions at most (n <= ~4200), the error is below 300 * 6e-8 * S, so
 * we allow 1e-5 * S. A wrong quant anywhere in a row of 4096 moves the
 * result by about S/4096 = 2.4e-4 S, well outside it. */
static double term_bound(lp_type t, int64_t n, const uint8_t *w, const uint8_t *a)
{
    const lp_type_traits *tr = lp_type_traits_get(t);
    const size_t bytes = lp_type_row_bytes(t, n);
    uint8_t *wa = malloc(bytes);
    float *wf = malloc((size_t)n * sizeof *wf), *af = malloc((size_t)n * sizeof *af);
    assert_non_null(wa);
    assert_non_null(wf);
    assert_non_null(af);
    memcpy(wa, w, bytes);
    /* Make every part of every weight add with the same sign: |d| and a
     * min that adds its magnitude. */
    const scale_fields f = fields_of(t);
    for (size_t b = 0; f.d >= 0 && b < bytes / tr->type_size; b++) {
        uint8_t *blk = wa + b * tr->type_size;
        put_half(blk + f.d, get_half(blk + f.d) & 0x7fff);
        if (f.min >= 0) {
            const lp_half m = get_half(blk + f.min) & 0x7fff;
            put_half(blk + f.min, f.min_subtracted ? (lp_half)(m | 0x8000) : m);
        }
    }
    assert_int_equal(lp_dequantize_row(t, wa, wf, n), 0);
    assert_int_equal(lp_dequantize_row(tr->vec_dot_type, a, af, n), 0);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)wf[i] * af[i]);
    free(wa);
    free(wf);
    free(af);
    return s;
}

/* ---- ISA iteration ------------------------------------------------------ */

static bool isa_usable(lp_isa isa, lp_kernels *k)
{
    lp_err err = { { 0 } };
    if (isa > lp_cpu_best_isa()) {
        print_message("  [ SKIP ] %s: this CPU lacks it\n", lp_isa_name(isa));
        return false;
    }
    assert_int_equal(lp_kernels_init(k, isa, &err), 0);
    assert_int_equal(k->isa, isa);
    return true;
}

static const lp_type k_weight_types[] = {
    LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16, LP_TYPE_Q4_0, LP_TYPE_Q4_1,
    LP_TYPE_Q5_0, LP_TYPE_Q5_1, LP_TYPE_Q8_0, LP_TYPE_Q2_K, LP_TYPE_Q3_K,
    LP_TYPE_Q4_K, LP_TYPE_Q5_K, LP_TYPE_Q6_K,
};
#define N_WEIGHT_TYPES (sizeof k_weight_types / sizeof k_weight_types[0])

/* ---- dots ---------------------------------------------------------------- */

/* Row lengths in blocks: one, two, odd counts, and about 4096 values. */
static const int64_t k_blocks_32[] = { 1, 2, 3, 5, 7, 128, 131 };
static const int64_t k_blocks_256[] = { 1, 2, 3, 11, 16, 17 };
static const int64_t k_elems_float[] = { 1, 7, 8, 9, 31, 33, 64, 100, 4096, 4099 };

static int lengths_for(lp_type t, int64_t out[16])
{
    const int64_t blck = lp_type_traits_get(t)->blck_size;
    const int64_t *src = blck == 1 ? k_elems_float : blck == 32 ? k_blocks_32 : k_blocks_256;
    const size_t cnt = blck == 1 ? sizeof k_elems_float / sizeof *src
                     : blck == 32 ? sizeof k_blocks_32 / sizeof *src
                                  : sizeof k_blocks_256 / sizeof *src;
    for (size_t i = 0; i < cnt; i++)
        out[i] = src[i] * blck;
    return (int)cnt;
}

static bool is_float_type(lp_type t)
{
    return t == LP_TYPE_F32 || t == LP_TYPE_F16 || t == LP_TYPE_BF16;
}

static void fail_tolerance(const char *what, lp_type t, int64_t n, float got, float ref, double tol)
{
    print_error("%s dot %s n=%lld: got %.9g, reference %.9g, |diff| %.3g > tol %.3g\n", what,
                lp_type_traits_get(t)->name, (long long)n, got, ref, fabs((double)got - ref), tol);
    fail();
}

/* One weight type, one ISA, one row length, one byte mode. emu is the
 * scalar table, whose quantized dots define the exact result. */
static void check_dot(const lp_kernels *k, const lp_kernels *emu, lp_type t, int64_t n,
                      byte_mode mode, rng *r)
{
    const lp_type dt = lp_type_traits_get(t)->vec_dot_type;
    const size_t wbytes = lp_type_row_bytes(t, n), abytes = lp_type_row_bytes(dt, n);
    /* Odd offsets: nothing may assume alignment beyond the byte. */
    uint8_t *wbuf = malloc(wbytes + 1), *abuf = malloc(abytes + 3);
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(wbuf);
    assert_non_null(abuf);
    assert_non_null(x);
    uint8_t *w = wbuf + 1, *a = abuf + 3;
    make_weights(t, n, w, r, mode);
    make_acts(x, n, r, mode);
    assert_int_equal(lp_quantize_row(dt, x, a, n), 0);

    const float ref = lp_vec_dot_ref(t, n, w, a);
    const float got = k->dot[t](n, w, a);
    const double tol = 1e-5 * term_bound(t, n, w, a) + 1e-30;
    if (is_float_type(t)) {
        if (!(fabs((double)got - ref) <= tol))
            fail_tolerance(lp_isa_name(k->isa), t, n, got, ref, tol);
    } else {
        const float want = emu->dot[t](n, w, a);
        if (!(fabs((double)want - ref) <= tol))
            fail_tolerance("scalar emulation", t, n, want, ref, tol);
        if (memcmp(&got, &want, sizeof got) != 0) {
            print_error("%s dot %s n=%lld: got %a, the emulation of ggml gives %a\n",
                        lp_isa_name(k->isa), lp_type_traits_get(t)->name, (long long)n,
                        (double)got, (double)want);
            fail();
        }
    }
    free(wbuf);
    free(abuf);
    free(x);
}

static void test_dot_type(void **state)
{
    const lp_type t = *(const lp_type *)*state;
    rng r = { 0x9e3779b97f4a7c15u ^ (uint64_t)t };
    lp_kernels emu;
    assert_int_equal(lp_kernels_init(&emu, LP_ISA_SCALAR, NULL), 0);
    for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
        lp_kernels k;
        if (!isa_usable((lp_isa)isa, &k))
            continue;
        assert_non_null(k.dot[t]);
        int64_t lens[16];
        const int nl = lengths_for(t, lens);
        for (int i = 0; i < nl; i++) {
            for (int rep = 0; rep < 6; rep++)
                check_dot(&k, &emu, t, lens[i], BYTES_RANDOM, &r);
            check_dot(&k, &emu, t, lens[i], BYTES_EXTREME, &r);
        }
    }
}

/* Q4_0 in the order of llama.cpp's repacked weights (q4_0x8.h): every
 * ISA's kernel against the scalar one bit for bit, which is within
 * tolerance of lp_vec_dot_ref. */
static void test_dot_q4_0x8(void **state)
{
    (void)state;
    rng r = { 0x51ed2701u };
    for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
        lp_kernels k;
        if (!isa_usable((lp_isa)isa, &k))
            continue;
        const lp_vec_dot_fn dot = lp_q4_0x8_dot(k.isa);
        for (size_t i = 0; i < sizeof k_blocks_32 / sizeof k_blocks_32[0]; i++) {
            const int64_t n = 32 * k_blocks_32[i];
            for (int rep = 0; rep < 7; rep++) {
                const size_t wbytes = lp_type_row_bytes(LP_TYPE_Q4_0, n);
                const size_t abytes = lp_type_row_bytes(LP_TYPE_Q8_0, n);
                uint8_t *w = malloc(wbytes), *a = malloc(abytes);
                float *x = malloc((size_t)n * sizeof *x);
                assert_non_null(w);
                assert_non_null(a);
                assert_non_null(x);
                const byte_mode mode = rep == 6 ? BYTES_EXTREME : BYTES_RANDOM;
                make_weights(LP_TYPE_Q4_0, n, w, &r, mode);
                make_acts(x, n, &r, mode);
                assert_int_equal(lp_quantize_row(LP_TYPE_Q8_0, x, a, n), 0);
                const float ref = lp_vec_dot_ref(LP_TYPE_Q4_0, n, w, a);
                const float want = lp_q4_0x8_dot_scalar(n, w, a), got = dot(n, w, a);
                const double tol = 1e-5 * term_bound(LP_TYPE_Q4_0, n, w, a) + 1e-30;
                if (!(fabs((double)want - ref) <= tol))
                    fail_tolerance("q4_0x8 scalar", LP_TYPE_Q4_0, n, want, ref, tol);
                if (memcmp(&got, &want, sizeof got) != 0) {
                    print_error("%s q4_0x8 dot n=%lld: got %a, scalar %a\n", lp_isa_name(k.isa),
                                (long long)n, (double)got, (double)want);
                    fail();
                }
                free(w);
                free(a);
                free(x);
            }
        }
    }
}

/* ---- activation quantizers ------------------------------------------------ */

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Inf, -Inf, the default NaN or a NaN with a random payload and sign. */
static float rng_special(rng *r)
{
    switch (rng_next(r) % 4) {
    case 0: return INFINITY;
    case 1: return -INFINITY;
    case 2: return NAN;
    default: return from_bits(0x7fc00000u | (uint32_t)(rng_next(r) & 0x803fffffu));
    }
}

#define N_QUANT_PATTERNS 9

/* Row patterns the x86 semantics must survive: random values, whole
 * blocks of zeros (amax = 0), exact ties at a scale of 1 (amax = 127, so
 * id = 1 and k+0.5 is a tie), +-max pairs (Q8_K keeps the first), huge
 * and tiny magnitudes, scattered Inf/NaN (MAXPS operand order, NaN
 * payloads, saturating vs truncating stores), blocks whose max is
 * subnormal (127/amax overflows to Inf) and NaN-heavy subnormal rows. */
static void make_quant_row(float *x, int64_t n, int pattern, rng *r)
{
    for (int64_t i = 0; i < n; i++) {
        switch (pattern) {
        case 0: x[i] = rng_sym(r) * 3.0f; break;
        case 1: x[i] = (i / 32) % 2 ? 0.0f : rng_sym(r); break;
        case 2: x[i] = (float)((int)(rng_next(r) % 253) - 126) + 0.5f; break;
        case 3: x[i] = rng_sym(r) * 1e30f; break;
        case 4: x[i] = rng_sym(r) * 1e-30f; break;
        case 5: x[i] = rng_sym(r) * 3.0e38f; break;
        case 6: x[i] = rng_next(r) % 40 ? rng_sym(r) : rng_special(r); break;
        case 7: x[i] = rng_next(r) % 8 ? rng_sym(r) * 1e-39f : 0.0f; break;
        default: x[i] = rng_next(r) % 3 ? rng_sym(r) * 1e-44f : rng_special(r); break;
        }
        if (pattern == 1 && (i / 256) % 2)
            x[i] = 0.0f; /* whole zero super-blocks for Q8_K */
    }
    if (pattern == 2) {
        /* Each block of 32 gets amax 127, from a +127 and a -127; which
         * comes first alternates by super-block, so Q8_K sees both. */
        for (int64_t b = 0; b + 32 <= n; b += 32) {
            const float s = (b / 256) % 2 ? -127.0f : 127.0f;
            x[b + 3] = s;
            x[b + 17] = -s;
        }
    }
}

/* Extra values only the f16/bf16 converters see: specials and the edges
 * of each rounding. */
static void add_float_specials(float *x, int64_t n)
{
    static const uint32_t bits[] = {
        0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fa12345,
        0x00000001, 0x80000400, 0x33000000, 0x33000001, 0x387fe000, 0x38800000,
        0x477fefff, 0x477ff000, 0x477ff001, 0x3f808000, 0x3f818000, 0x3f807fff,
        0x7f7fffff, 0xff7f8000, 0x00000000, 0x80000000,
    };
    for (size_t i = 0; i < sizeof bits / sizeof bits[0] && (int64_t)i < n; i++)
        memcpy(&x[(i * 7) % n], &bits[i], 4);
}

static const lp_type k_dot_types[] = {
    LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16, LP_TYPE_Q8_0, LP_TYPE_Q8_1, LP_TYPE_Q8_K,
};

static void check_quantize(const lp_kernels *k, lp_type dt, int64_t n, int pattern, rng *r)
{
    const size_t bytes = lp_type_row_bytes(dt, n);
    float *x = malloc((size_t)n * sizeof *x);
    uint8_t *want = malloc(bytes), *got = malloc(bytes + 1);
    assert_non_null(x);
    assert_non_null(want);
    assert_non_null(got);
    make_quant_row(x, n, pattern, r);
    if (dt == LP_TYPE_F16 || dt == LP_TYPE_BF16 || dt == LP_TYPE_F32)
        add_float_specials(x, n);
    assert_int_equal(lp_quantize_row(dt, x, want, n), 0);
    memset(got, 0xa5, bytes + 1);
    k->quantize[dt](x, got + 1, n);
    if (memcmp(want, got + 1, bytes) != 0) {
        size_t at = 0;
        while (want[at] == got[1 + at])
            at++;
        print_error("%s quantize %s n=%lld pattern %d: byte %zu is %02x, want %02x\n",
                    lp_isa_name(k->isa), lp_type_traits_get(dt)->name, (long long)n,
                    pattern, at, got[1 + at], want[at]);
        fail();
    }
    free(x);
    free(want);
    free(got);
}

static void test_quantizers(void **state)
{
    (void)state;
    rng r = { 12345 };
    static const int64_t blocks[] = { 1, 2, 3, 16, 17 };
    for (int isa = 0; isa < LP_ISA_COUNT; isa++) {
        lp_kernels k;
        if (!isa_usable((lp_isa)isa, &k))
            continue;
        for (size_t t = 0; t < sizeof k_dot_types / sizeof k_dot_types[0]; t++) {
            const lp_type dt = k_dot_types[t];
            const int64_t blck = lp_type_traits_get(dt)->blck_size;
            assert_non_null(k.quantize[dt]);
            for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
                /* Float types: also lengths that are not multiples of 8. */
                const int64_t n = blck == 1 ? blocks[b] * 257 : blocks[b] * blck;
                for (int p = 0; p < N_QUANT_PATTERNS; p++)
                    check_quantize(&k, dt, n, p, &r);
            }
        }
    }
}

/* ---- ISA selection ----------------------------------------------------------- */

static void test_isa_names(void **state)
{
    (void)state;
    for (int i = 0; i < LP_ISA_COUNT; i++)
        assert_int_equal(lp_isa_parse(lp_isa_name((lp_isa)i)), i);
    assert_string_equal(lp_isa_name(LP_ISA_AVX512_VNNI), "avx512vnni");
    assert_int_equal(lp_isa_parse("scalar"), LP_ISA_SCALAR);
    assert_int_equal(lp_isa_parse("AVX2"), -1);
    assert_int_equal(lp_isa_parse(""), -1);
    assert_int_equal(lp_isa_parse("avx512vnni "), -1);
    assert_int_equal(lp_isa_parse(NULL), -1);
    assert_string_equal(lp_isa_name(LP_ISA_COUNT), "unknown");
}

static void test_init(void **state)
{
    (void)state;
    lp_kernels k;
    lp_err err = { { 0 } };
    const lp_isa best = lp_cpu_best_isa();
    print_message("  best ISA on this CPU: %s\n", lp_isa_name(best));
    assert_int_equal(lp_kernels_init(&k, best, &err), 0);
    assert_int_equal(k.isa, best);

    /* Every table is complete: a dot for each weight type we compute
     * with, a quantizer for each dot type, nothing for the rest. */
    for (uint32_t id = 0; id < LP_TYPE_COUNT; id++) {
        const lp_type_traits *t = lp_type_traits_get(id);
        if (t != NULL && t->can_matmul) {
            assert_non_null(k.dot[id]);
            assert_non_null(k.quantize[t->vec_dot_type]);
        } else {
            assert_null(k.dot[id]);
        }
    }

    if (best + 1 < LP_ISA_COUNT) {
        /* An ISA above what the CPU has must be refused, naming it. */
        const lp_isa above = (lp_isa)(best + 1);
        err.msg[0] = '\0';
        assert_int_equal(lp_kernels_init(&k, above, &err), -1);
        assert_non_null(strstr(err.msg, lp_isa_name(above)));
    } else {
        print_message("  (CPU has every ISA: cannot test refusing a missing one)\n");
    }
    err.msg[0] = '\0';
    assert_int_equal(lp_kernels_init(&k, LP_ISA_COUNT, &err), -1);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(lp_kernels_init(&k, (lp_isa)-1, NULL), -1);
    assert_int_equal(lp_kernels_init(NULL, LP_ISA_SCALAR, &err), -1);
}

int main(void)
{
    struct CMUnitTest tests[5 + N_WEIGHT_TYPES];
    size_t nt = 0;
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_isa_names);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_init);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_quantizers);
    tests[nt++] = (struct CMUnitTest)cmocka_unit_test(test_dot_q4_0x8);
    for (size_t i = 0; i < N_WEIGHT_TYPES; i++) {
        tests[nt] = (struct CMUnitTest)cmocka_unit_test_prestate(test_dot_type,
                                                                 (void *)&k_weight_types[i]);
        tests[nt++].name = lp_type_traits_get(k_weight_types[i])->name;
    }
    return _cmocka_run_group_tests("kernels", tests, nt, NULL, NULL);
}
