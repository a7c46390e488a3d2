/* test_ops.c — the float kernels (F32/F16/BF16 dots, exp_sum, silu) and
 * the non-matmul ops (softmax, SwiGLU, rmsnorm, rope, attention), bit for
 * bit:
 *   - every ISA's float entries equal the scalar table's emulation on
 *     random rows, denormals, infinities and saturating exps included;
 *   - fixed inputs give exactly the f32 results of llama.cpp's ggml (the
 *     Feb 2025 ggml of llama.cpp c392e509, built -march=native on an
 *     AVX-512 + AVX512_BF16 CPU with llamafile on, which reproduces the
 *     reference logits), pinned below as hex floats, in every table.
 *
 * How the pins were obtained: a throwaway program (not kept) built the
 * inputs with the generator below (lcg / val / fill / fill_wide), ran them
 * through ggml linked from that build — ggml_mul_mat with one activation
 * row (ggml_vec_dot) and with two (tinyBLAS), ggml_soft_max_ext with a
 * -INFINITY mask, ggml_mul(ggml_silu(g), u), ggml_mul(ggml_rms_norm(x), w),
 * ggml_rope_ext, and llama.cpp's attention graph (f16 K times q, masked
 * softmax, f16 V^T times the weights) — and printed each output with %a. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_impl.h"
#include "kernels.h"
#include "matmul.h"
#include "ops.h"
#include "threadpool.h"
#include "quant.h"

/* ---- the pins' inputs (exact, deterministic) ----------------------------- */

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* step * an integer in [-1000, 1000]: one rounding, the same everywhere. */
static float val(uint32_t *s, float step)
{
    return (float)((int)(lcg(s) % 2001) - 1000) * step;
}

static void fill(float *x, int n, uint32_t seed, float step)
{
    for (int i = 0; i < n; i++)
        x[i] = val(&seed, step);
}

/* Each value also scaled by 2^0..2^5, so that sums round. */
static void fill_wide(float *x, int n, uint32_t seed, float step)
{
    for (int i = 0; i < n; i++) {
        const float v = val(&seed, step);
        x[i] = v * (float)(1u << (lcg(&seed) % 6));
    }
}

/* ---- helpers --------------------------------------------------------------- */

static int n_isas(void)
{
    return (int)lp_cpu_best_isa() + 1;
}

/* Every kernel table this CPU runs, and on AVX-512 one more: the AVX-512
 * table with VDPBF16PS rebuilt, which a CPU with AVX512_BF16 never picks. */
static int n_tables(void)
{
    return n_isas() + (lp_cpu_best_isa() >= LP_ISA_AVX512);
}

static const char *table_name(int t)
{
    return t < n_isas() ? lp_isa_name((lp_isa)t) : "avx512, VDPBF16PS rebuilt";
}

static lp_kernels table(int t)
{
    lp_kernels k;
    lp_err err = {0};
    if (lp_kernels_init(&k, t < n_isas() ? (lp_isa)t : LP_ISA_AVX512, &err) != 0)
        fail_msg("%s", err.msg);
    if (t >= n_isas())
        lp_avx512_fill_bf16(&k, false);
    return k;
}

static void assert_bits(float got, float want, const char *what, int t)
{
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s [%s]: got %a, ggml %a", what, table_name(t), (double)got, (double)want);
}

static size_t elt_size(uint32_t type)
{
    return type == LP_TYPE_F32 ? 4 : 2;
}

/* n floats to `type` elements, as ggml's from_float (RNE). */
static void to_type(uint32_t type, const float *x, void *dst, int n)
{
    uint8_t *o = dst;
    for (int i = 0; i < n; i++) {
        if (type == LP_TYPE_F32) {
            memcpy(o + 4 * i, &x[i], 4);
        } else {
            const uint16_t h = type == LP_TYPE_F16 ? lp_f32_to_f16(x[i]) : lp_f32_to_bf16(x[i]);
            memcpy(o + 2 * i, &h, 2);
        }
    }
}

/* y = W x through lp_matmul (so through its choice of dot order). */
static void matmul(const lp_kernels *k, uint32_t type, const float *wf, int m, int kk,
                   const float *x, int n, float *y)
{
    lp_err err = {0};
    lp_threadpool *tp = lp_threadpool_create(1, &err);
    assert_non_null(tp);
    uint8_t *wd = malloc(elt_size(type) * (size_t)m * kk);
    void *scratch = malloc(lp_matmul_scratch_bytes(type, kk, n) + 1);
    to_type(type, wf, wd, m * kk);
    const lp_weight w = {.type = type, .rows = m, .cols = kk,
                         .row_bytes = elt_size(type) * (size_t)kk, .data = wd};
    lp_matmul(tp, k, &w, x, n, y, scratch);
    free(scratch);
    free(wd);
    lp_threadpool_destroy(tp);
}

/* ---- the dot-order rule ------------------------------------------------------ */

static void test_gemm_rule(void **state)
{
    (void)state;
    const lp_kernels k = table(LP_ISA_SCALAR);
    assert_true(lp_matmul_uses_gemm(&k, LP_TYPE_F32, 4, 2, 64));
    assert_false(lp_matmul_uses_gemm(&k, LP_TYPE_F32, 4, 1, 64));  /* one row: vec_dot */
    assert_false(lp_matmul_uses_gemm(&k, LP_TYPE_F32, 4, 2, 72));  /* k % 16 */
    assert_false(lp_matmul_uses_gemm(&k, LP_TYPE_F16, 6, 9, 64));  /* m % 4 */
    assert_true(lp_matmul_uses_gemm(&k, LP_TYPE_F16, 8, 9, 48));
    assert_false(lp_matmul_uses_gemm(&k, LP_TYPE_BF16, 8, 9, 48)); /* k % 32 */
    assert_true(lp_matmul_uses_gemm(&k, LP_TYPE_BF16, 8, 9, 96));
}

/* ---- pinned results -------------------------------------------------------- */

typedef struct mm_pin {
    uint32_t type;
    float vec0, vec3;    /* 1 row, k = 92: y[0], y[3] (ggml_vec_dot) */
    float gemm0, gemm7;  /* 2 rows, k = 64: y[0], y[7] (tinyBLAS) */
} mm_pin;

static const mm_pin MM_PINS[] = {
    {LP_TYPE_F32, -0x1.e3f368p+8f, 0x1.6ef62ap+9f, 0x1.8338e4p+8f, -0x1.27e27p+9f},
    {LP_TYPE_F16, -0x1.e3cddp+8f, 0x1.6efaacp+9f, 0x1.835348p+8f, -0x1.27f714p+9f},
    {LP_TYPE_BF16, -0x1.e2f10cp+8f, 0x1.6f7dc8p+9f, 0x1.827734p+8f, -0x1.28e26p+9f},
};

static void test_pinned_matmul(void **state)
{
    (void)state;
    float w[4 * 100], x[2 * 100], y[8];
    fill(w, 4 * 100, 11, 0.00731f);
    fill(x, 2 * 100, 12, 0.0297f);
    for (int isa = 0; isa < n_tables(); isa++) {
        const lp_kernels k = table(isa);
        for (size_t i = 0; i < sizeof MM_PINS / sizeof MM_PINS[0]; i++) {
            const mm_pin *p = &MM_PINS[i];
            /* 92 = a chunk of 64, then the f32 tail's 16, 8 and 4 */
            matmul(&k, p->type, w, 4, 92, x, 1, y);
            assert_bits(y[0], p->vec0, "vec_dot k92 [0]", isa);
            assert_bits(y[3], p->vec3, "vec_dot k92 [3]", isa);
            matmul(&k, p->type, w, 4, 64, x, 2, y);
            assert_bits(y[0], p->gemm0, "tinyBLAS k64 [0]", isa);
            assert_bits(y[7], p->gemm7, "tinyBLAS k64 [7]", isa);
        }
    }
}

/* ggml_vec_dot_f32 fuses the last n % 8 products of its tail: with the
 * first 88 products exact integers, only those four round (unfused they
 * would give 0x1.8f34d6p+0). */
static void test_pinned_f32_tail(void **state)
{
    (void)state;
    float w[92], x[92], y;
    for (int i = 0; i < 92; i++) {
        w[i] = i < 88 ? 1.0f : 0.1f * (float)(i - 86);
        x[i] = i < 88 ? (float)((i * 37) % 11 - 5) : 0.113f * (float)(i - 80);
    }
    for (int isa = 0; isa < n_tables(); isa++) {
        const lp_kernels k = table(isa);
        matmul(&k, LP_TYPE_F32, w, 1, 92, x, 1, &y);
        assert_bits(y, 0x1.8f34d8p+0f, "vec_dot f32 fused tail", isa);
    }
}

/* VDPBF16PS flushes denormal inputs and results. Weight rows 0-1 are 0.5,
 * rows 2-3 are 1024; activations 2^-126 (times 0.5: denormal products,
 * flushed) and 2^-130 (a denormal bf16: zero even times 1024). */
static void test_pinned_bf16_flush(void **state)
{
    (void)state;
    float w[4 * 64], x[2 * 64], wg[4 * 32], xg[2 * 32], y[8];
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 64; i++)
            w[r * 64 + i] = r < 2 ? 0.5f : 1024.0f;
    for (int i = 0; i < 64; i++) {
        x[i] = 0x1p-126f;
        x[64 + i] = 0x1p-130f;
    }
    for (int r = 0; r < 4; r++)
        memcpy(wg + r * 32, w + r * 64, 32 * sizeof(float));
    memcpy(xg, x, 32 * sizeof(float));
    memcpy(xg + 32, x + 64, 32 * sizeof(float));
    for (int t = 0; t < n_tables(); t++) {
        const lp_kernels k = table(t);
        matmul(&k, LP_TYPE_BF16, wg, 4, 32, xg, 2, y);
        assert_bits(y[0], 0.0f, "tinyBLAS bf16, denormal products", t);
        assert_bits(y[2], 0x1p-111f, "tinyBLAS bf16, normal products", t);
        assert_bits(y[6], 0.0f, "tinyBLAS bf16, denormal input", t);
        matmul(&k, LP_TYPE_BF16, w, 4, 64, x, 1, y);
        assert_bits(y[0], 0.0f, "vec_dot bf16, denormal products", t);
        assert_bits(y[2], 0x1p-110f, "vec_dot bf16, normal products", t);
        matmul(&k, LP_TYPE_BF16, w, 4, 64, x + 64, 1, y);
        assert_bits(y[2], 0.0f, "vec_dot bf16, denormal input", t);
    }
}

static void test_pinned_softmax_swiglu_rmsnorm(void **state)
{
    (void)state;
    float sx[40], g[20], u[20], rx[20], rw[20], out[40];
    fill(sx, 40, 21, 0.0613f);
    fill(g, 20, 31, 0.0191f);
    fill(u, 20, 32, 0.00587f);
    fill(rx, 20, 41, 0.0191f);
    fill(rw, 20, 42, 0.00587f);
    for (int isa = 0; isa < n_tables(); isa++) {
        const lp_kernels k = table(isa);
        memcpy(out, sx, sizeof sx);
        for (int i = 35; i < 40; i++)
            out[i] = -INFINITY; /* masked */
        lp_softmax(&k, out, 40, 0.125f);
        assert_bits(out[0], 0x1.4478e2p-13f, "softmax [0]", isa);
        assert_bits(out[17], 0x1.45d184p-12f, "softmax [17]", isa);
        assert_bits(out[33], 0x1.1a7e6cp-15f, "softmax [33] (expf tail)", isa);
        assert_bits(out[38], 0.0f, "softmax [38] (masked)", isa);

        lp_swiglu(&k, out, g, u, 20);
        assert_bits(out[2], 0x1.06ee5p-2f, "swiglu [2]", isa);
        assert_bits(out[15], -0x1.4850a8p-19f, "swiglu [15]", isa);
        assert_bits(out[18], -0x1.dae874p-19f, "swiglu [18] (expf tail)", isa);
    }
    lp_rmsnorm(out, rx, rw, 20, 1e-5f);
    assert_bits(out[5], 0x1.ab0946p-2f, "rmsnorm [5]", 0);
}

/* head_dim 12 at position 11: normal mode fuses pairs 0-3, not 4-5 (a
 * position where fusing those too would change bits), NeoX all six. */
static const float ROPE_NORM[12] = {
    -0x1.5cc83p+2f, 0x1.2a7e6cp+4f, 0x1.3a28aep+2f, 0x1.2e8b9ap+3f,
    -0x1.34b962p+1f, 0x1.3524d6p+3f, -0x1.499172p+0f, 0x1.0b1f1ep+1f,
    0x1.ba4c5ap+3f, -0x1.07c2f8p+4f, 0x1.1ace1ep+4f, 0x1.378c42p+3f,
};
static const float ROPE_NEOX[12] = {
    -0x1.2216d4p+0f, 0x1.269af8p+1f, -0x1.f07ap+1f, -0x1.095dp+3f,
    0x1.1914d6p+1f, 0x1.31da8ap+3f, 0x1.2accacp+4f, -0x1.552b92p+2f,
    0x1.a6f652p+3f, -0x1.1d37a6p+4f, 0x1.1c826p+4f, 0x1.3638bcp+3f,
};

static void test_pinned_rope(void **state)
{
    (void)state;
    float cache[12], x[12];
    lp_rope_cache(cache, 11, 12, 10000.0f, 1.0f, NULL);
    for (int neox = 0; neox < 2; neox++) {
        fill(x, 12, 51, 0.0191f);
        lp_rope_apply(x, cache, 12, neox);
        for (int i = 0; i < 12; i++) {
            char what[32];
            snprintf(what, sizeof what, "rope %s [%d]", neox ? "neox" : "norm", i);
            assert_bits(x[i], (neox ? ROPE_NEOX : ROPE_NORM)[i], what, 0);
        }
    }
}

/* One head (dim 64) over a window of 64 positions, queries at 40 (and
 * 41): outputs 0, 21, 42, 63 of each query. With two queries both
 * products take tinyBLAS's order, which changes output 63 of query 0. */
static const float ATTN_1[4] = {-0x1.25945p+4f, -0x1.0eac5ap+3f, -0x1.c08532p+6f,
                                0x1.b2d23cp-1f};
static const float ATTN_2[2][4] = {
    {-0x1.25945p+4f, -0x1.0eac5ap+3f, -0x1.c08532p+6f, 0x1.b2d24p-1f},
    {-0x1.9a267cp+3f, 0x1.3c4c76p+5f, 0x1.0e7ae2p+4f, 0x1.9b95a6p+3f},
};

static void attend(const lp_kernels *k, int n_tok, float out[2][64])
{
    enum { HD = 64, NKV = 64, POS0 = 40 };
    static float kf[NKV * HD], vf[HD * NKV], q[2 * HD];
    static lp_half K[NKV * HD], Vt[HD * NKV];
    fill(kf, NKV * HD, 61, 0.00587f);
    fill_wide(vf, HD * NKV, 62, 0.00587f);
    fill_wide(q, 2 * HD, 63, 0.000191f);
    for (int i = 0; i < NKV * HD; i++) {
        K[i] = lp_f32_to_f16(kf[i]);
        Vt[i] = lp_f32_to_f16(i % NKV < POS0 + n_tok ? vf[i] : 0.0f);
    }
    const lp_attn_shape sh = {
        .head_dim = HD, .n_kv = NKV, .k_stride = HD, .v_stride = NKV, .scale = 0.125f,
        .qk = lp_matmul_uses_gemm(k, LP_TYPE_F16, NKV, n_tok, HD) ? k->dot_gemm[LP_TYPE_F16]
                                                                  : k->dot[LP_TYPE_F16],
        .pv = lp_matmul_uses_gemm(k, LP_TYPE_F16, HD, n_tok, NKV) ? k->dot_gemm[LP_TYPE_F16]
                                                                  : k->dot[LP_TYPE_F16],
    };
    float scores[NKV];
    lp_half q16[HD], p16[NKV];
    lp_attn_scratch s = {scores, q16, p16};
    for (int t = 0; t < n_tok; t++)
        lp_attend_head(k, &sh, q + t * HD, K, Vt, POS0 + t + 1, out[t], &s);
}

static void test_pinned_attention(void **state)
{
    (void)state;
    float out[2][64];
    for (int isa = 0; isa < n_tables(); isa++) {
        const lp_kernels k = table(isa);
        attend(&k, 1, out);
        for (int i = 0; i < 4; i++)
            assert_bits(out[0][21 * i], ATTN_1[i], "attention, one query", isa);
        attend(&k, 2, out);
        for (int t = 0; t < 2; t++)
            for (int i = 0; i < 4; i++)
                assert_bits(out[t][21 * i], ATTN_2[t][i], "attention, two queries", isa);
    }
}

/* ---- every ISA = the scalar emulation ------------------------------------- */

typedef struct { uint64_t s; } rng;

static uint32_t next(rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

/* Mostly moderate values; some tiny (denormal in bf16 / f32 products),
 * some large, some zeros of either sign. */
static float rnd_val(rng *r)
{
    const float u = (float)((int)(next(r) % 2000001) - 1000000) * 1e-6f;
    switch (next(r) % 16) {
    case 0: return u * 1e-39f;
    case 1: return u * 0x1p-120f;
    case 2: return u * 1000.0f;
    case 3: return (next(r) & 1) ? 0.0f : -0.0f;
    default: return u * 3.0f;
    }
}

static void check_dots(const lp_kernels *ref, const lp_kernels *k, uint32_t type, int n,
                       rng *r, bool gemm)
{
    uint8_t *w = malloc(4 * (size_t)n + 4), *a = malloc(4 * (size_t)n + 4);
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < n; i++)
            f[i] = rnd_val(r);
        /* rows at odd addresses, as in a GGUF mapping */
        to_type(type, f, w + 1, n);
        for (int i = 0; i < n; i++)
            f[i] = rnd_val(r);
        to_type(type, f, a + 1, n);
        const lp_vec_dot_fn mine = gemm ? k->dot_gemm[type] : k->dot[type];
        const lp_vec_dot_fn want = gemm ? ref->dot_gemm[type] : ref->dot[type];
        const float got = mine(n, w + 1, a + 1), exp = want(n, w + 1, a + 1);
        if (memcmp(&got, &exp, sizeof got) != 0)
            fail_msg("%s %s n=%d [%s]: %a, scalar %a", gemm ? "dot_gemm" : "dot",
                     lp_type_traits_get(type)->name, n, lp_isa_name(k->isa), (double)got,
                     (double)exp);
    }
    free(w);
    free(a);
    free(f);
}

/* Values whose dots show the order of adds: +-m * 2^14 or +-m * 2^-24
 * (f16's extremes), giving big products that cancel and small ones that a
 * sum holding a big one drops (ordinary products, summed in double, give
 * the same bits in any order). For f16/bf16 m = 1, so big products cancel
 * exactly; for f32, half the time m = 1 + a 20-bit fraction, so products
 * round and fusing shows too. */
static float rnd_far(rng *r, uint32_t type)
{
    float m = 1.0f;
    if (type == LP_TYPE_F32 && (next(r) & 1))
        m += (float)(next(r) % (1u << 20)) * 0x1p-20f;
    const float v = m * ((next(r) & 1) ? 0x1p14f : 0x1p-24f);
    return (next(r) & 1) ? -v : v;
}

/* dot_rows against the scalar `dot` of each row: rows of n elements at a
 * stride of n + 3 elements, from an odd address. */
static void check_dot_rows(const lp_kernels *ref, const lp_kernels *k, uint32_t type, int n,
                           int rows, rng *r)
{
    if (!k->dot_rows[type])
        return;
    const size_t es = elt_size(type), stride = es * (size_t)(n + 3);
    uint8_t *w = malloc(stride * (size_t)rows + 1), *a = malloc(es * (size_t)n + 1);
    float *f = malloc(sizeof(float) * (size_t)(n + 3)), *y = malloc(sizeof(float) * (size_t)rows);
    for (int j = 0; j < rows; j++) {
        for (int i = 0; i < n + 3; i++)
            f[i] = rnd_far(r, type);
        to_type(type, f, w + 1 + (size_t)j * stride, n + 3);
    }
    for (int i = 0; i < n; i++)
        f[i] = rnd_far(r, type);
    to_type(type, f, a + 1, n);
    k->dot_rows[type](n, w + 1, stride, a + 1, y, rows);
    for (int j = 0; j < rows; j++) {
        const float want = ref->dot[type](n, w + 1 + (size_t)j * stride, a + 1);
        if (memcmp(&y[j], &want, sizeof want) != 0)
            fail_msg("dot_rows %s n=%d row %d of %d [%s]: %a, scalar dot %a",
                     lp_type_traits_get(type)->name, n, j, rows, lp_isa_name(k->isa),
                     (double)y[j], (double)want);
    }
    free(w);
    free(a);
    free(f);
    free(y);
}

static void check_rows(const lp_kernels *ref, const lp_kernels *k, int n, rng *r)
{
    float *x = malloc(sizeof(float) * (size_t)n), *y1 = malloc(sizeof(float) * (size_t)n),
          *y2 = malloc(sizeof(float) * (size_t)n);
    /* exp over [-200, 40] relative to max: saturation, denormals, -inf */
    float max = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] = (float)(next(r) % 240001) * 1e-3f - 200.0f;
        if (next(r) % 13 == 0)
            x[i] = -INFINITY;
        max = max > x[i] ? max : x[i];
    }
    const double s1 = k->exp_sum(y1, x, max, n), s2 = ref->exp_sum(y2, x, max, n);
    if (memcmp(&s1, &s2, sizeof s1) != 0 || memcmp(y1, y2, sizeof(float) * (size_t)n) != 0)
        fail_msg("exp_sum n=%d [%s] differs from scalar", n, lp_isa_name(k->isa));
    for (int i = 0; i < n; i++) {
        x[i] = (float)((int)(next(r) % 300001) - 150000) * 1e-3f;
        if (next(r) % 17 == 0)
            x[i] = (next(r) & 1) ? INFINITY : -INFINITY;
    }
    k->silu(y1, x, n);
    ref->silu(y2, x, n);
    if (memcmp(y1, y2, sizeof(float) * (size_t)n) != 0)
        fail_msg("silu n=%d [%s] differs from scalar", n, lp_isa_name(k->isa));
    free(x);
    free(y1);
    free(y2);
}

static void test_isas_match_scalar(void **state)
{
    (void)state;
    const lp_kernels ref = table(LP_ISA_SCALAR);
    rng r = {42};
    const uint32_t types[] = {LP_TYPE_F32, LP_TYPE_F16, LP_TYPE_BF16};
    for (int isa = 1; isa < n_tables(); isa++) {
        const lp_kernels k = table(isa);
        for (size_t t = 0; t < 3; t++) {
            for (int n = 1; n <= 200; n++)
                check_dots(&ref, &k, types[t], n, &r, false);
            check_dots(&ref, &k, types[t], 1000, &r, false);
            const int step = types[t] == LP_TYPE_BF16 ? 32 : 16;
            for (int n = step; n <= 512; n += step)
                check_dots(&ref, &k, types[t], n, &r, true);
            for (int n = 1; n <= 140; n += 3)
                check_dot_rows(&ref, &k, types[t], n, 1 + n % 21, &r);
        }
        for (int n = 1; n <= 130; n++)
            check_rows(&ref, &k, n, &r);
    }
    if (n_isas() == 1)
        print_message("only the scalar table runs on this CPU; nothing to compare\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_rule),
        cmocka_unit_test(test_pinned_matmul),
        cmocka_unit_test(test_pinned_f32_tail),
        cmocka_unit_test(test_pinned_bf16_flush),
        cmocka_unit_test(test_pinned_softmax_swiglu_rmsnorm),
        cmocka_unit_test(test_pinned_rope),
        cmocka_unit_test(test_pinned_attention),
        cmocka_unit_test(test_isas_match_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
