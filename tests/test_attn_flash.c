/* Flash attention's kernel (attn_flash.c and the per-ISA flash files under
 * kernels/) on generated inputs. What llama.cpp's -fa computes is checked bit for bit on its own
 * kernel: the output hashes below are ggml's ggml_flash_attn_ext
 * (c392e509's ggml, AVX-512 build, one thread) on inputs this file
 * regenerates; within one block of positions ours must give those bits on
 * every kernel table and thread count. Past one block ours merges blocks
 * (attn_flash.h), so there it is held to the exact (double) attention and
 * to itself: the same bits on 1, 2 and 3 threads, decoded token by token
 * or run as one prompt. The per-ISA pieces equal the scalar table (and
 * expf the C library's). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_flash.h"
#include "flash.h"
#include "support.h"

/* ---- lp_attn_flash on generated inputs ------------------------------------ */

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct fa_case {
    int hd, nh, nkv, n_tok, pos0;
    lp_kv_type tk, tv;
    uint64_t ggml_hash; /* FNV-1a of ggml's output floats; 0 = none */
} fa_case;

typedef struct fa_data {
    uint8_t *K, *V;
    size_t k_row, v_row;
    float *q;
} fa_data;

/* K, V rows (values in [-2, 2)) then the queries (in [-3, 3)), from one
 * generator in that order, as the ggml harness made them. */
static fa_data make_data(const fa_case *c)
{
    const int n_ctx = c->pos0 + c->n_tok, kvd = c->hd * c->nkv;
    fa_data d = {.k_row = lp_type_row_bytes(lp_kv_type_ggml(c->tk), kvd),
                 .v_row = lp_type_row_bytes(lp_kv_type_ggml(c->tv), kvd)};
    d.K = malloc(d.k_row * n_ctx);
    d.V = malloc(d.v_row * n_ctx);
    d.q = malloc(sizeof(float) * c->hd * c->nh * c->n_tok);
    float *row = malloc(sizeof(float) * kvd);
    assert_true(d.K && d.V && d.q && row);
    unsigned s = 77u + (unsigned)(c->hd + c->nh + n_ctx);
    for (int p = 0; p < n_ctx; p++) {
        for (int i = 0; i < kvd; i++)
            row[i] = frand(&s) * 2;
        lp_quantize_row(lp_kv_type_ggml(c->tk), row, d.K + d.k_row * p, kvd);
        for (int i = 0; i < kvd; i++)
            row[i] = frand(&s) * 2;
        lp_quantize_row(lp_kv_type_ggml(c->tv), row, d.V + d.v_row * p, kvd);
    }
    for (int i = 0; i < c->hd * c->nh * c->n_tok; i++)
        d.q[i] = frand(&s) * 3;
    free(row);
    return d;
}

static void free_data(fa_data *d)
{
    free(d->K);
    free(d->V);
    free(d->q);
}

/* Queries [t0, t0 + n) of the case as one call, into out (whole case). */
static void flash(const lp_kernels *k, lp_threadpool *tp, const fa_case *c, const fa_data *d,
                  int block, int t0, int n, float *out)
{
    const size_t per_tok = (size_t)c->hd * c->nh;
    void *scratch = malloc(lp_attn_flash_scratch_bytes(c->nh, c->nkv, c->hd, lp_threadpool_size(tp)));
    assert_non_null(scratch);
    const lp_flash_args a = {.n_head = c->nh, .n_head_kv = c->nkv, .head_dim = c->hd,
                             .n_tok = n, .pos0 = c->pos0 + t0, .block = block,
                             .scale = 1.0f / sqrtf((float)c->hd), .type_k = c->tk,
                             .type_v = c->tv, .K = d->K, .V = d->V, .k_stride = d->k_row,
                             .v_stride = d->v_row};
    lp_attn_flash(tp, k, &a, d->q + per_tok * t0, out + per_tok * t0, scratch);
    free(scratch);
}

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static const fa_case k_ggml_cases[] = {
    {8, 8, 4, 40, 0, LP_KV_F16, LP_KV_F16, 0x2f1f6c3c4b687aecull},
    {64, 4, 1, 1, 200, LP_KV_F16, LP_KV_F16, 0x668f1a4e863628b5ull},
    {128, 8, 2, 3, 100, LP_KV_F16, LP_KV_F16, 0x3857f3b1e8a4eb28ull},
    {80, 4, 2, 5, 60, LP_KV_F16, LP_KV_F16, 0x46d2b6e42dabac81ull},
    {64, 8, 2, 5, 200, LP_KV_Q8_0, LP_KV_F16, 0x66653c7aa92c6474ull},
    {64, 8, 2, 5, 200, LP_KV_Q8_0, LP_KV_Q8_0, 0x81123ff45aa0a4f9ull},
    {32, 8, 2, 1, 250, LP_KV_F16, LP_KV_Q8_0, 0x0f3eec62bb765975ull},
};

static void test_flash_equals_ggml(void **state)
{
    (void)state;
    lp_err err = {0};
    for (int isa = 0; isa <= (int)lp_cpu_best_isa(); isa++) {
        lp_kernels k;
        assert_int_equal(lp_kernels_init(&k, (lp_isa)isa, &err), 0);
        for (int th = 1; th <= 2; th++) {
            lp_threadpool *tp = lp_threadpool_create(th, &err);
            assert_non_null(tp);
            for (size_t i = 0; i < sizeof k_ggml_cases / sizeof k_ggml_cases[0]; i++) {
                const fa_case *c = &k_ggml_cases[i];
                fa_data d = make_data(c);
                const size_t n = (size_t)c->hd * c->nh * c->n_tok;
                float *out = calloc(n, sizeof(float));
                flash(&k, tp, c, &d, LP_FLASH_BLOCK, 0, c->n_tok, out);
                if (fnv1a(out, n * sizeof(float)) != c->ggml_hash)
                    fail_msg("%s, %d threads, case %zu (head_dim %d, %d tokens at %d, K %s, "
                             "V %s): not ggml's bits", lp_isa_name((lp_isa)isa), th, i, c->hd,
                             c->n_tok, c->pos0, lp_kv_type_name(c->tk), lp_kv_type_name(c->tv));
                free(out);
                free_data(&d);
            }
            lp_threadpool_destroy(tp);
        }
    }
}

/* ---- the per-ISA pieces ---------------------------------------------------- */

/* expf of the SIMD tables equals the C library's on a sample of every
 * float (every 4093rd bit pattern, and the edges; all 2^32 were checked
 * once by hand). */
static void test_flash_expf(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    float *x = malloc(sizeof(float) * (N + 16)), *y = malloc(sizeof(float) * (N + 16));
    assert_true(x && y);
    for (uint32_t i = 0; i < N; i++) {
        const uint32_t u = i * 4093u;
        memcpy(&x[i], &u, sizeof u);
    }
    const float edges[] = {-INFINITY, INFINITY, NAN, -0.0f, 0.0f, -87.99f, -88.0f, -88.72f,
                           -103.28f, -103.5f, -103.97f, -104.0f, -1e-30f, 88.7f, 89.0f, -150.0f};
    memcpy(x + N, edges, sizeof edges);
    for (int isa = LP_ISA_AVX2; isa <= (int)lp_cpu_best_isa(); isa++) {
        lp_flash_kernels f;
        lp_flash_kernels_init(&f, (lp_isa)isa);
        f.exp(x, y, N + 16);
        for (int i = 0; i < N + 16; i++) {
            const float want = expf(x[i]);
            if (memcmp(&want, &y[i], sizeof want) && !(isnan(want) && isnan(y[i])))
                fail_msg("%s: expf(%a) = %a, the C library says %a", lp_isa_name((lp_isa)isa),
                         (double)x[i], (double)y[i], (double)want);
        }
    }
    free(x);
    free(y);
}

static void fill_f16(lp_half *p, int n, unsigned *s, float scale)
{
    for (int i = 0; i < n; i++)
        p[i] = lp_f32_to_f16(frand(s) * scale);
}

/* The group K·q (AVX-512) equals dot[LP_TYPE_F16] row by row, for every
 * head size it takes, group sizes that leave partial batches of 16, and
 * block lengths that are not multiples of anything. */
static void test_flash_qk16(void **state)
{
    (void)state;
    lp_err err = {0};
    lp_kernels k;
    lp_flash_kernels f;
    assert_int_equal(lp_kernels_init(&k, lp_cpu_best_isa(), &err), 0);
    lp_flash_kernels_init(&f, k.isa);
    if (!f.qk16)
        skip();
    unsigned s = 3;
    const int dims[] = {64, 128, 192, 256}, groups[] = {1, 3, 4, 8};
    for (int di = 0; di < 4; di++)
        for (int gi = 0; gi < 4; gi++) {
            const int d = dims[di], g = groups[gi], n = 37, stride = d * 3;
            lp_half *K = malloc(sizeof(lp_half) * stride * n);
            lp_half *q16 = malloc(sizeof(lp_half) * d * g);
            float *q = malloc(sizeof(float) * d * g), *sc = malloc(sizeof(float) * 64 * g);
            fill_f16(K, stride * n, &s, 2);
            fill_f16(q16, d * g, &s, 3);
            for (int i = 0; i < d * g; i++)
                q[i] = lp_f16_to_f32(q16[i]);
            f.qk16(d, g, n, (const uint8_t *)K, stride * sizeof(lp_half), q, sc, 64);
            for (int h = 0; h < g; h++)
                for (int j = 0; j < n; j++) {
                    const float want = k.dot[LP_TYPE_F16](d, K + (size_t)j * stride, q16 + h * d);
                    if (memcmp(&want, &sc[h * 64 + j], sizeof want))
                        fail_msg("d %d, g %d, head %d, row %d: %a, not %a", d, g, h, j,
                                 (double)sc[h * 64 + j], (double)want);
                }
            free(K);
            free(q16);
            free(q);
            free(sc);
        }
}

/* V accumulation: every table equals the scalar one, on the register path
 * (head sizes 16 .. 256 in steps it lists, groups filling 16 registers or
 * not) and the per-position one (8, 40, 112), f16 and q8_0, with new
 * maxima (ms < 1) mixed in. */
static void test_flash_v_kernels(void **state)
{
    (void)state;
    const int dims[] = {8, 16, 32, 40, 64, 80, 96, 112, 128, 256}, groups[] = {1, 2, 3, 5, 8};
    lp_flash_kernels ref;
    lp_flash_kernels_init(&ref, LP_ISA_SCALAR);
    unsigned s = 11;
    for (int di = 0; di < 10; di++)
        for (int gi = 0; gi < 5; gi++) {
            const int d = dims[di], g = groups[gi], n = 29;
            const size_t vrow16 = (size_t)d * 2 + 6, vrowq = lp_type_row_bytes(LP_TYPE_Q8_0, 256);
            uint8_t *v16 = calloc(n, vrow16), *vq = calloc(n, vrowq);
            float *ms = malloc(sizeof(float) * n * g), *vs = malloc(sizeof(float) * n * g);
            float row[256];
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < d; i++) {
                    row[i] = frand(&s) * 2;
                    const lp_half h = lp_f32_to_f16(row[i]);
                    memcpy(v16 + j * vrow16 + 2 * i, &h, sizeof h);
                }
                if (d % 32 == 0)
                    lp_quantize_row(LP_TYPE_Q8_0, row, vq + j * vrowq, d);
                for (int h = 0; h < g; h++) {
                    const bool up = frand(&s) > 0.6f;
                    ms[j * g + h] = up ? 0.5f + frand(&s) * 0.4f : 1.0f;
                    vs[j * g + h] = up ? 1.0f : 0.55f + frand(&s) * 0.45f;
                }
            }
            lp_half *a16 = calloc((size_t)g * d, 2), *b16 = calloc((size_t)g * d, 2);
            float *a32 = calloc((size_t)g * d, 4), *b32 = calloc((size_t)g * d, 4);
            ref.v16(d, g, n, v16, vrow16, ms, vs, a16);
            if (d % 32 == 0)
                ref.vq8(d, g, n, vq, vrowq, ms, vs, a32);
            for (int isa = LP_ISA_AVX2; isa <= (int)lp_cpu_best_isa(); isa++) {
                lp_flash_kernels f;
                lp_flash_kernels_init(&f, (lp_isa)isa);
                memset(b16, 0, (size_t)g * d * 2);
                f.v16(d, g, n, v16, vrow16, ms, vs, b16);
                if (memcmp(a16, b16, (size_t)g * d * 2))
                    fail_msg("%s: f16 V, d %d, g %d differs", lp_isa_name((lp_isa)isa), d, g);
                memset(b32, 0, (size_t)g * d * 4);
                if (d % 32 == 0)
                    f.vq8(d, g, n, vq, vrowq, ms, vs, b32);
                if (d % 32 == 0 && memcmp(a32, b32, (size_t)g * d * 4))
                    fail_msg("%s: q8_0 V, d %d, g %d differs", lp_isa_name((lp_isa)isa), d, g);
            }
            free(v16);
            free(vq);
            free(ms);
            free(vs);
            free(a16);
            free(b16);
            free(a32);
            free(b32);
        }
}

/* Attention in double on the stored (rounded) K and V and the query as
 * rounded to K's dot type, for the error of the accumulation alone. */
static double exact_error(const fa_case *c, const fa_data *d, const float *out)
{
    const int kvd = c->hd * c->nkv, n_ctx = c->pos0 + c->n_tok, g = c->nh / c->nkv;
    float *K = malloc(sizeof(float) * kvd * n_ctx), *V = malloc(sizeof(float) * kvd * n_ctx);
    double *w = malloc(sizeof(double) * n_ctx), err = 0, amax = 0;
    float q[512];
    uint8_t qq[1024];
    for (int p = 0; p < n_ctx; p++) {
        lp_dequantize_row(lp_kv_type_ggml(c->tk), d->K + d->k_row * p, K + (size_t)kvd * p, kvd);
        lp_dequantize_row(lp_kv_type_ggml(c->tv), d->V + d->v_row * p, V + (size_t)kvd * p, kvd);
    }
    for (int t = 0; t < c->n_tok; t++)
        for (int h = 0; h < c->nh; h++) {
            lp_quantize_row(lp_kv_type_ggml(c->tk), d->q + ((size_t)t * c->nh + h) * c->hd, qq,
                            c->hd);
            lp_dequantize_row(lp_kv_type_ggml(c->tk), qq, q, c->hd);
            const size_t off = (size_t)(h / g) * c->hd;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= c->pos0 + t; j++) {
                double s = 0;
                for (int i = 0; i < c->hd; i++)
                    s += (double)q[i] * K[(size_t)j * kvd + off + i];
                w[j] = s / sqrt((double)c->hd);
                mx = fmax(mx, w[j]);
            }
            for (int j = 0; j <= c->pos0 + t; j++)
                sum += w[j] = exp(w[j] - mx);
            for (int i = 0; i < c->hd; i++) {
                double v = 0;
                for (int j = 0; j <= c->pos0 + t; j++)
                    v += w[j] * V[(size_t)j * kvd + off + i];
                v /= sum;
                amax = fmax(amax, fabs(v));
                err = fmax(err, fabs(v - out[((size_t)t * c->nh + h) * c->hd + i]));
            }
        }
    free(K);
    free(V);
    free(w);
    return err / amax;
}

/* Many blocks (block 4: 75 blocks, five rounds of the decode split): the
 * prompt form and token-by-token decoding give the same bits on 1, 2 and
 * 3 threads, and stay close to the exact attention. */
static void test_flash_blocks_deterministic(void **state)
{
    (void)state;
    const fa_case cases[] = {{64, 8, 2, 300, 0, LP_KV_F16, LP_KV_F16, 0},
                             {32, 4, 1, 300, 0, LP_KV_Q8_0, LP_KV_Q8_0, 0},
                             {8, 8, 4, 300, 0, LP_KV_F16, LP_KV_F16, 0}};
    lp_err err = {0};
    lp_kernels k;
    assert_int_equal(lp_kernels_init(&k, lp_cpu_best_isa(), &err), 0);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const fa_case *c = &cases[ci];
        fa_data d = make_data(c);
        const size_t n = (size_t)c->hd * c->nh * c->n_tok;
        float *first = calloc(n, sizeof(float)), *out = calloc(n, sizeof(float));
        for (int th = 1; th <= 3; th++) {
            lp_threadpool *tp = lp_threadpool_create(th, &err);
            assert_non_null(tp);
            flash(&k, tp, c, &d, 4, 0, c->n_tok, th == 1 ? first : out);
            if (th > 1 && memcmp(first, out, n * sizeof(float)))
                fail_msg("case %zu: the prompt form differs on %d threads", ci, th);
            memset(out, 0, n * sizeof(float));
            for (int t = 0; t < c->n_tok; t++)
                flash(&k, tp, c, &d, 4, t, 1, out);
            if (memcmp(first, out, n * sizeof(float)))
                fail_msg("case %zu: decoding token by token differs from the prompt form "
                         "(%d threads)", ci, th);
            lp_threadpool_destroy(tp);
        }
        const double e = exact_error(c, &d, first);
        print_message("case %zu: max error %.3g of the largest output\n", ci, e);
        assert_true(e < 5e-3);
        free(first);
        free(out);
        free_data(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flash_expf),
        cmocka_unit_test(test_flash_qk16),
        cmocka_unit_test(test_flash_v_kernels),
        cmocka_unit_test(test_flash_equals_ggml),
        cmocka_unit_test(test_flash_blocks_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
