/* The arithmetic of llama-perplexity (src/perplexity.c) on logits made by
 * hand, where the answers are known in closed form, and on llama.cpp's
 * reference logits of stories260K and its Q4_K_M (shared/reference). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perplexity.h"
#include "support.h"
#include "support_ref.h"

/* |a - b| <= eps, in double (cmocka's float assertion rounds to float) */
#define assert_near(a, b, eps)                                                       \
    do {                                                                             \
        const double a_ = (a), b_ = (b);                                             \
        if (!(fabs(a_ - b_) <= (eps)))                                               \
            fail_msg("%s = %.12g, expected %.12g (within %g)", #a, a_, b_, (double)(eps)); \
    } while (0)

static void test_windows(void **state)
{
    (void)state;
    assert_int_equal(lp_ppl_n_windows(255, 128), 0); /* llama.cpp wants 2 x n_ctx */
    assert_int_equal(lp_ppl_n_windows(256, 128), 2);
    assert_int_equal(lp_ppl_n_windows(383, 128), 2); /* a partial window is dropped */
    assert_int_equal(lp_ppl_n_windows(384, 128), 3);
    assert_int_equal(lp_ppl_n_windows(100, 1), 0);
    assert_int_equal(lp_ppl_first(128), 64);
    assert_int_equal(lp_ppl_first(6), 3);
}

static void test_score_row(void **state)
{
    (void)state;
    const float flat[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    double nll;
    int32_t top;
    lp_ppl_score_row(flat, 4, 3, &nll, &top);
    assert_near(nll, log(4.0), 1e-12);
    assert_int_equal(top, 0); /* ties: the lowest id, as llama.cpp */

    const float x[3] = {1.0f, 3.0f, 2.0f};
    const double z = log(exp(1.0) + exp(3.0) + exp(2.0));
    lp_ppl_score_row(x, 3, 0, &nll, &top);
    assert_near(nll, z - 1.0, 1e-6);
    assert_int_equal(top, 1);
    lp_ppl_score_row(x, 3, 1, &nll, NULL);
    assert_near(nll, z - 3.0, 1e-6);
    /* a huge logit does not overflow: the maximum is subtracted first */
    const float big[2] = {1000.0f, 1000.0f};
    lp_ppl_score_row(big, 2, 1, &nll, &top);
    assert_near(nll, log(2.0), 1e-12);
}

static void test_estimate(void **state)
{
    (void)state;
    lp_ppl_acc a = {0};
    double ppl, err;
    assert_int_equal(lp_ppl_estimate(&a, &ppl, &err), -1);
    lp_ppl_add(&a, 1.0);
    assert_int_equal(lp_ppl_estimate(&a, &ppl, &err), -1); /* one value: no spread */
    lp_ppl_add(&a, 2.0);
    lp_ppl_add(&a, 3.0);
    assert_near(lp_ppl_value(&a), exp(2.0), 1e-12);
    assert_int_equal(lp_ppl_estimate(&a, &ppl, &err), 0);
    /* population variance 2/3, standard error sqrt(2/3 / 2), times PPL */
    assert_near(ppl, exp(2.0), 1e-12);
    assert_near(err, sqrt(1.0 / 3.0) * exp(2.0), 1e-12);

    lp_ppl_acc same = {0};
    for (int i = 0; i < 5; i++)
        lp_ppl_add(&same, 0.25);
    assert_int_equal(lp_ppl_estimate(&same, &ppl, &err), -1);
}

/* A window of 8: positions 4, 5, 6 are scored against tokens 5, 6, 7. */
static void test_window(void **state)
{
    (void)state;
    enum { NV = 4, CTX = 8 };
    float rows[3][NV] = {{0}};
    const int32_t win[CTX] = {1, 0, 0, 0, 0, 2, 3, 1};
    rows[0][2] = logf(3.0f); /* p(2) = 1/2 at position 4 */
    rows[1][3] = logf(5.0f); /* p(3) = 5/8 at position 5 */
    rows[2][1] = 0.0f;       /* p(1) = 1/4 at position 6 */
    lp_ppl_acc a = {0};
    lp_ppl_add_window(&a, &rows[0][0], NV, win, CTX);
    assert_int_equal(a.count, 3);
    assert_near(a.nll, log(2.0) + log(8.0 / 5.0) + log(4.0), 1e-6);
}

static void test_base_row(void **state)
{
    (void)state;
    enum { NV = 5 };
    const float x[NV] = {2.0f, -30.0f, 0.0f, 1.5f, 2.0f};
    uint16_t row[16];
    assert_int_equal(lp_kld_row_len(NV), 10);
    assert_int_equal(lp_kld_row_len(512), 516);
    const double nll = lp_kld_base_row(x, NV, 3, row);
    double z = 0;
    for (int i = 0; i < NV; i++)
        z += exp((double)x[i]);
    z = log(z);
    assert_near(nll, z - 1.5, 1e-5);
    float scale, min_lp;
    memcpy(&scale, row, 4);
    memcpy(&min_lp, row + 2, 4);
    /* kept: log-probs within 16 of the top; stored in 65535 steps */
    assert_near(scale, 16.0 / 65535.0, 1e-9);
    for (int i = 0; i < NV; i++) {
        const double back = scale * row[4 + i] + min_lp, want = x[i] - z;
        if (x[i] > 2.0f - 16)
            assert_true(fabs(back - want) <= scale);
        else
            assert_int_equal(row[4 + i], 0); /* below the range: its floor */
    }
    assert_int_equal(row[4 + 0], 65535);
}

/* base p = (1/2, 1/2), model q = (3/4, 1/4): KL(p||q) = ln(4/3) / 2. */
static void test_kld_known(void **state)
{
    (void)state;
    const float base[2] = {0.0f, 0.0f}, q[2] = {logf(3.0f), 0.0f};
    uint16_t row[6];
    lp_kld_base_row(base, 2, 1, row);
    lp_kld_acc k = {0};
    float kld, pd;
    lp_kld_add(&k, q, 2, row, 1, &kld, &pd);
    assert_near(kld, 0.5 * log(4.0 / 3.0), 1e-6);
    assert_near(pd, 0.25 - 0.5, 1e-6);
    assert_int_equal(k.count, 1);
    assert_int_equal(k.n_same_top, 1); /* base tie: its lowest id, 0 = q's top */
    assert_near(k.sum_nll, log(4.0), 1e-6);
    assert_near(k.sum_nll_base, log(2.0), 1e-6);

    const float q2[2] = {0.0f, 1.0f};
    lp_kld_add(&k, q2, 2, row, 1, NULL, NULL);
    assert_int_equal(k.count, 2);
    assert_int_equal(k.n_same_top, 1); /* q2's top is 1 */
}

static void test_summary(void **state)
{
    (void)state;
    /* 20 positions alternating nll (1, 2) for Q and 1.5 for base, same top in 15 */
    lp_kld_acc k = {0};
    for (int i = 0; i < 20; i++) {
        const double a = i % 2 ? 2.0 : 1.0, b = 1.5;
        k.sum_nll += a, k.sum_nll2 += a * a;
        k.sum_nll_base += b, k.sum_nll_base2 += b * b + (i % 2 ? 0.01 : -0.01);
        k.sum_nll_nll_base += a * b;
        k.sum_kld += 0.1, k.sum_kld2 += 0.01;
        k.count++;
        k.n_same_top += i < 15;
    }
    lp_kld_stats s;
    lp_kld_summary(&k, &s);
    assert_near(s.ppl.mean, exp(1.5), 1e-12);
    assert_near(s.ppl.err, exp(1.5) * sqrt(0.25 / 19), 1e-12);
    assert_near(s.ppl_base.mean, exp(1.5), 1e-12);
    assert_near(s.ratio.mean, 1.0, 1e-12);
    assert_near(s.kld.mean, 0.1, 1e-12);
    assert_near(s.kld.err, 0.0, 1e-9); /* no spread */
    assert_near(s.same_top.mean, 0.75, 1e-12);
    assert_near(s.same_top.err, sqrt(0.75 * 0.25 / 19), 1e-12);

    lp_kld_acc few = {.sum_nll = 5, .sum_nll2 = 30, .count = 5};
    lp_kld_summary(&few, &s);
    assert_near(s.ppl.err, 0.0, 0); /* llama.cpp gives no error below 11 */
}

static void test_percentile(void **state)
{
    (void)state;
    const float v[5] = {0, 1, 2, 3, 4};
    assert_near(lp_percentile(v, 5, 0.5f), 2.0f, 0);
    assert_near(lp_percentile(v, 5, 0.1f), 0.4f, 1e-6);
    assert_near(lp_percentile(v, 5, 0.0f), 0.0f, 0);
    assert_near(lp_percentile(v, 5, 1.0f), 4.0f, 0);
    assert_near(lp_percentile(v, 0, 0.5f), 0.0f, 0);
}

/* KL(p||q) in double, from the logits directly. */
static double kl_exact(const float *p_logits, const float *q_logits, int n)
{
    double zp = 0, zq = 0, mp = -INFINITY, mq = -INFINITY, kl = 0;
    for (int i = 0; i < n; i++) {
        mp = fmax(mp, p_logits[i]);
        mq = fmax(mq, q_logits[i]);
    }
    for (int i = 0; i < n; i++) {
        zp += exp(p_logits[i] - mp);
        zq += exp(q_logits[i] - mq);
    }
    for (int i = 0; i < n; i++) {
        const double lp = p_logits[i] - mp - log(zp), lq = q_logits[i] - mq - log(zq);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

/* llama.cpp's logits for stories260K and its Q4_K_M after the same prompt:
 * a distribution against itself has KL 0 (within the 16-bit storage of the
 * base's log-probs) and the same top token; the two
 * models' KL is the exact one within what 16-bit storage of the base loses. */
static void test_kld_reference_logits(void **state)
{
    (void)state;
    ref_model f32, q4;
    assert_int_equal(ref_load("stories260K", &f32), 0);
    assert_int_equal(ref_load("stories260K-Q4_K_M", &q4), 0);
    assert_int_equal(f32.n_cases, q4.n_cases);
    for (int c = 0; c < f32.n_cases; c++) {
        const ref_case *a = &f32.cases[c], *b = &q4.cases[c];
        assert_int_equal(a->n_vocab, b->n_vocab);
        assert_memory_equal(a->prompt, b->prompt, sizeof *a->prompt * (size_t)a->n_prompt);
        uint16_t *row = malloc(sizeof *row * lp_kld_row_len(a->n_vocab));
        assert_non_null(row);
        lp_kld_base_row(a->logits, a->n_vocab, a->greedy[0], row);
        lp_kld_acc self = {0}, other = {0};
        float kld;
        lp_kld_add(&self, a->logits, a->n_vocab, row, a->greedy[0], &kld, NULL);
        /* not 0 exactly: each stored log-prob is off by up to half a step */
        assert_true(fabsf(kld) < 0.5f * 16.0f / 65535.0f);
        assert_int_equal(self.n_same_top, 1);
        lp_kld_add(&other, b->logits, b->n_vocab, row, a->greedy[0], &kld, NULL);
        const double exact = kl_exact(a->logits, b->logits, a->n_vocab);
        assert_true(exact > 0);
        assert_near(kld, exact, 1e-4 + 1e-3 * exact);
        int32_t top;
        lp_ppl_score_row(a->logits, a->n_vocab, 0, NULL, &top);
        assert_int_equal(top, a->greedy[0]); /* llama.cpp's greedy choice is the top */
        free(row);
    }
    ref_free(&f32);
    ref_free(&q4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),        cmocka_unit_test(test_score_row),
        cmocka_unit_test(test_estimate),       cmocka_unit_test(test_window),
        cmocka_unit_test(test_base_row),       cmocka_unit_test(test_kld_known),
        cmocka_unit_test(test_summary),        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_kld_reference_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
