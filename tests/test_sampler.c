/* test_sampler.c — the sampler against hand-made distributions, a
 * brute-force reference and the published splitmix64 outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

static lp_sampler_params plain(float temp)
{
    lp_sampler_params p = lp_sampler_params_default();
    p.seed = 1234;
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

static lp_sampler *make(const lp_sampler_params *p, int32_t n_vocab)
{
    lp_err err = {{0}};
    lp_sampler *s = lp_sampler_new(p, n_vocab, &err);
    if (!s)
        fail_msg("lp_sampler_new: %s", err.msg);
    return s;
}

static int32_t sample(lp_sampler *s, const float *logits)
{
    lp_err err = {{0}};
    int32_t t = lp_sampler_sample(s, logits, &err);
    if (t < 0)
        fail_msg("lp_sampler_sample: %s", err.msg);
    return t;
}

static void random_logits(float *l, int n, uint64_t seed, float scale)
{
    lp_rng r;
    lp_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        l[i] = (float)((lp_rng_uniform(&r) * 2.0 - 1.0) * scale);
}

/* Sorted ids of the last sample's candidates, for set comparisons. */
static size_t cand_ids(const lp_sampler *s, int32_t *ids, size_t cap)
{
    size_t n;
    const lp_token_prob *c = lp_sampler_candidates(s, &n);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        ids[i] = c[i].id;
    for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return n;
}

/* ---- the generator ---------------------------------------------------- */

static void test_rng_known_answers(void **state)
{
    (void)state;
    lp_rng r;
    lp_rng_seed(&r, 0);
    /* splitmix64's published first outputs for seed 0 */
    assert_int_equal(r.s[0], UINT64_C(0xe220a8397b1dcdaf));
    assert_int_equal(r.s[1], UINT64_C(0x6e789e6aa1b965f4));
    assert_int_equal(r.s[2], UINT64_C(0x06c45d188009454f));
    assert_int_equal(r.s[3], UINT64_C(0xf88bb8a8724c81ec));
    /* xoshiro256** from that state: pinned so the draws never drift */
    assert_int_equal(lp_rng_next(&r), UINT64_C(0x99ec5f36cb75f2b4));
    assert_int_equal(lp_rng_next(&r), UINT64_C(0xbf6e1f784956452a));
    assert_int_equal(lp_rng_next(&r), UINT64_C(0x1a5f849d4933e6e0));
    assert_int_equal(lp_rng_next(&r), UINT64_C(0x6aa594f1262d2d2c));
    lp_rng_seed(&r, 42);
    assert_int_equal(lp_rng_next(&r), UINT64_C(0x15780b2e0c2ec716));
    for (int i = 0; i < 10000; i++) {
        double u = lp_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

/* ---- parameters --------------------------------------------------------- */

static void test_defaults_match_llama_cpp(void **state)
{
    (void)state;
    lp_sampler_params p = lp_sampler_params_default();
    assert_true(p.temp == 0.8f);
    assert_int_equal(p.top_k, 40);
    assert_true(p.top_p == 0.95f);
    assert_true(p.min_p == 0.05f);
    assert_true(p.repeat_penalty == 1.0f);
    assert_true(p.frequency_penalty == 0.0f);
    assert_true(p.presence_penalty == 0.0f);
    assert_int_equal(p.penalty_last_n, 64);
    assert_int_equal(p.seed, LP_SAMPLER_SEED_RANDOM);
    lp_err err = {{0}};
    assert_int_equal(lp_sampler_params_validate(&p, &err), 0);

    /* a random seed is drawn and reported */
    lp_sampler *a = make(&p, 10), *b = make(&p, 10);
    assert_true(lp_sampler_seed(a) != lp_sampler_seed(b));
    lp_sampler_free(a);
    lp_sampler_free(b);
}

static void expect_invalid(lp_sampler_params p, const char *word)
{
    lp_err err = {{0}};
    assert_int_equal(lp_sampler_params_validate(&p, &err), -1);
    if (!strstr(err.msg, word))
        fail_msg("error '%s' does not name '%s'", err.msg, word);
    memset(&err, 0, sizeof err);
    assert_null(lp_sampler_new(&p, 100, &err));
    assert_non_null(strstr(err.msg, word));
}

static void test_validation(void **state)
{
    (void)state;
    const lp_sampler_params d = lp_sampler_params_default();
    lp_sampler_params p;
    p = d; p.temp = NAN; expect_invalid(p, "temperature");
    p = d; p.temp = -0.5f; expect_invalid(p, "temperature");
    p = d; p.temp = INFINITY; expect_invalid(p, "temperature");
    p = d; p.top_k = -1; expect_invalid(p, "top_k");
    p = d; p.top_p = 0.0f; expect_invalid(p, "top_p");
    p = d; p.top_p = 1.5f; expect_invalid(p, "top_p");
    p = d; p.top_p = NAN; expect_invalid(p, "top_p");
    p = d; p.min_p = -0.1f; expect_invalid(p, "min_p");
    p = d; p.min_p = 1.01f; expect_invalid(p, "min_p");
    p = d; p.min_p = NAN; expect_invalid(p, "min_p");
    p = d; p.repeat_penalty = 0.0f; expect_invalid(p, "repeat_penalty");
    p = d; p.repeat_penalty = INFINITY; expect_invalid(p, "repeat_penalty");
    p = d; p.frequency_penalty = NAN; expect_invalid(p, "frequency_penalty");
    p = d; p.presence_penalty = -INFINITY; expect_invalid(p, "presence_penalty");
    p = d; p.penalty_last_n = -1; expect_invalid(p, "penalty_last_n");
    p = d; p.penalty_last_n = LP_SAMPLER_MAX_LAST_N + 1; expect_invalid(p, "penalty_last_n");

    /* edge values that are valid */
    p = d; p.temp = 0.0f; p.top_p = 1.0f; p.min_p = 1.0f; p.top_k = 0;
    p.penalty_last_n = 0; p.frequency_penalty = -2.0f;
    lp_err err = {{0}};
    assert_int_equal(lp_sampler_params_validate(&p, &err), 0);

    assert_null(lp_sampler_new(&d, 0, &err));
    assert_non_null(strstr(err.msg, "n_vocab"));
    assert_null(lp_sampler_new(&d, LP_SAMPLER_MAX_VOCAB + 1, &err));
    assert_int_equal(lp_sampler_params_validate(NULL, &err), -1);

    lp_sampler *s = make(&d, 10);
    assert_int_equal(lp_sampler_accept(s, 10, &err), -1);
    assert_non_null(strstr(err.msg, "vocabulary"));
    assert_int_equal(lp_sampler_accept(s, -1, &err), -1);
    assert_int_equal(lp_sampler_accept(s, 9, &err), 0);
    lp_sampler_free(s);
}

/* ---- determinism ---------------------------------------------------------- */

enum { SEQ_VOCAB = 1000, SEQ_LEN = 2000 };

static void sequence(uint64_t seed, int32_t *out)
{
    static float logits[SEQ_VOCAB];
    lp_sampler_params p = lp_sampler_params_default(); /* top-k/p, min-p, temp 0.8 */
    p.seed = seed;
    lp_sampler *s = make(&p, SEQ_VOCAB);
    for (int i = 0; i < SEQ_LEN; i++) {
        random_logits(logits, SEQ_VOCAB, (uint64_t)i, 3.0f); /* a new step each time */
        out[i] = sample(s, logits);
    }
    lp_sampler_free(s);
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    static int32_t a[SEQ_LEN], b[SEQ_LEN], c[SEQ_LEN];
    sequence(7, a);
    sequence(7, b);
    sequence(8, c);
    assert_memory_equal(a, b, sizeof a);
    int differ = 0;
    for (int i = 0; i < SEQ_LEN; i++)
        differ += a[i] != c[i];
    /* with ~10-40 live candidates per step, two seeds agree on a minority */
    if (differ < SEQ_LEN / 2)
        fail_msg("seeds 7 and 8 differ at only %d of %d steps", differ, SEQ_LEN);
}

static void test_reset_replays(void **state)
{
    (void)state;
    float logits[64];
    random_logits(logits, 64, 99, 2.0f);
    lp_sampler_params p = plain(1.0f);
    p.repeat_penalty = 1.5f;
    lp_sampler *s = make(&p, 64);
    int32_t first[200];
    for (int i = 0; i < 200; i++) {
        first[i] = sample(s, logits);
        assert_int_equal(lp_sampler_accept(s, first[i], NULL), 0);
    }
    lp_sampler_reset(s);
    for (int i = 0; i < 200; i++) {
        int32_t t = sample(s, logits);
        assert_int_equal(t, first[i]);
        assert_int_equal(lp_sampler_accept(s, t, NULL), 0);
    }
    lp_sampler_free(s);
}

/* ---- greedy ------------------------------------------------------------------ */

static int32_t argmax(const float *l, int n)
{
    int32_t b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b])
            b = i;
    return b;
}

static void test_greedy_is_argmax(void **state)
{
    (void)state;
    enum { N = 5000 };
    static float logits[N];
    lp_sampler_params g = plain(0.0f);
    lp_sampler_params k1 = lp_sampler_params_default();
    k1.seed = 5;
    k1.top_k = 1;
    lp_sampler *sg = make(&g, N), *sk = make(&k1, N);
    for (int t = 0; t < 50; t++) {
        random_logits(logits, N, 1000 + (uint64_t)t, 10.0f);
        int32_t want = argmax(logits, N);
        assert_int_equal(sample(sg, logits), want);
        assert_int_equal(sample(sk, logits), want);
        size_t n;
        const lp_token_prob *c = lp_sampler_candidates(sg, &n);
        assert_int_equal(n, 1);
        assert_int_equal(c[0].id, want);
        assert_true(c[0].p == 1.0f);
    }
    /* ties go to the lowest id, for greedy and for top_k = 1 */
    for (int i = 0; i < N; i++)
        logits[i] = 0.0f;
    logits[4000] = 3.0f;
    logits[17] = 3.0f;
    logits[2500] = 3.0f;
    assert_int_equal(sample(sg, logits), 17);
    assert_int_equal(sample(sk, logits), 17);
    lp_sampler_free(sg);
    lp_sampler_free(sk);
}

static void test_bad_logits(void **state)
{
    (void)state;
    float l[4] = {NAN, -INFINITY, NAN, -INFINITY};
    lp_sampler_params p = lp_sampler_params_default();
    p.seed = 1;
    lp_sampler *s = make(&p, 4);
    lp_err err = {{0}};
    assert_int_equal(lp_sampler_sample(s, l, &err), -1);
    assert_non_null(strstr(err.msg, "finite"));
    /* NaN never wins, whatever the draw */
    l[3] = -50.0f;
    for (int i = 0; i < 100; i++)
        assert_int_equal(sample(s, l), 3);
    lp_sampler_free(s);

    /* +inf logits share the whole mass, with or without truncation */
    float inf[6] = {1.0f, INFINITY, 2.0f, INFINITY, NAN, 0.0f};
    for (int k = 0; k <= 40; k += 40) {
        p.top_k = k;
        s = make(&p, 6);
        int seen[6] = {0};
        for (int i = 0; i < 200; i++)
            seen[sample(s, inf)]++;
        assert_int_equal(seen[1] + seen[3], 200);
        assert_true(seen[1] > 50 && seen[3] > 50);
        lp_sampler_free(s);
    }
    p.temp = 0.0f;
    s = make(&p, 6);
    assert_int_equal(sample(s, inf), 1);
    lp_sampler_free(s);
}

/* ---- truncation on hand-made distributions ------------------------------------- */

/* probabilities 0.5, 0.3, 0.15, 0.05, placed at shuffled ids among
 * near-impossible fillers so order in the array does not help */
enum { HM_VOCAB = 600 };
static const int32_t hm_ids[4] = {311, 7, 452, 90};
static const float hm_probs[4] = {0.5f, 0.3f, 0.15f, 0.05f};

static void handmade(float *l)
{
    for (int i = 0; i < HM_VOCAB; i++)
        l[i] = -INFINITY;
    for (int i = 0; i < 4; i++)
        l[hm_ids[i]] = logf(hm_probs[i]);
}

/* Sample once with these settings and compare the kept set with the first
 * `keep` hand-made tokens. */
static void expect_kept(int32_t top_k, float top_p, float min_p, int keep)
{
    float l[HM_VOCAB];
    handmade(l);
    lp_sampler_params p = plain(1.0f);
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    lp_sampler *s = make(&p, HM_VOCAB);
    int32_t got[HM_VOCAB], want[4];
    sample(s, l);
    size_t n = cand_ids(s, got, HM_VOCAB);
    memcpy(want, hm_ids, sizeof want);
    for (int i = 1; i < keep; i++) /* sort the expected ids */
        for (int j = i; j > 0 && want[j - 1] > want[j]; j--) {
            int32_t t = want[j];
            want[j] = want[j - 1];
            want[j - 1] = t;
        }
    if ((int)n != keep)
        fail_msg("top_k %d top_p %g min_p %g: kept %zu, want %d", (int)top_k,
                 (double)top_p, (double)min_p, n, keep);
    assert_memory_equal(got, want, (size_t)keep * sizeof *got);
    lp_sampler_free(s);
}

static void test_top_p(void **state)
{
    (void)state;
    /* cumulative 0.5, 0.8, 0.95, 1.0; thresholds kept off those sums */
    expect_kept(0, 0.45f, 0.0f, 1);
    expect_kept(0, 0.75f, 0.0f, 2);
    expect_kept(0, 0.79f, 0.0f, 2);
    expect_kept(0, 0.81f, 0.0f, 3);
    expect_kept(0, 0.9f, 0.0f, 3);
    expect_kept(0, 0.97f, 0.0f, 4);
    /* after a top-k (sorted input) the same sets */
    expect_kept(40, 0.75f, 0.0f, 2);
    expect_kept(3, 0.97f, 0.0f, 3); /* top-k cut first */
}

static void test_min_p(void **state)
{
    (void)state;
    /* keeps p >= min_p * 0.5 */
    expect_kept(0, 1.0f, 0.2f, 3);  /* >= 0.1: 0.5, 0.3, 0.15 */
    expect_kept(0, 1.0f, 0.35f, 2); /* >= 0.175 */
    expect_kept(0, 1.0f, 0.65f, 1); /* >= 0.325 */
    expect_kept(0, 1.0f, 0.05f, 4); /* >= 0.025 */
    /* the sorted path (after top-k) agrees */
    expect_kept(10, 1.0f, 0.2f, 3);
    expect_kept(10, 1.0f, 0.35f, 2);
    expect_kept(10, 1.0f, 0.28f, 3); /* 0.15 >= 0.14, just */
    expect_kept(0, 1.0f, 0.28f, 3);
    /* min-p after top-p: top-p keeps 3, min-p 0.35 cuts to 2 */
    expect_kept(0, 0.9f, 0.35f, 2);
}

static void test_candidate_probs_follow_temperature(void **state)
{
    (void)state;
    float l[HM_VOCAB];
    handmade(l);
    lp_sampler_params p = plain(0.5f);
    p.top_p = 0.9f; /* keeps 0.5, 0.3, 0.15 */
    lp_sampler *s = make(&p, HM_VOCAB);
    sample(s, l);
    size_t n;
    const lp_token_prob *c = lp_sampler_candidates(s, &n);
    assert_int_equal(n, 3);
    /* at temperature 0.5 the kept probabilities go as p^2, renormalized */
    const double z = 0.25 + 0.09 + 0.0225;
    const double want[3] = {0.25 / z, 0.09 / z, 0.0225 / z};
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c[i].id, hm_ids[i]); /* best first */
        assert_true(fabs(c[i].p - want[i]) < 1e-5);
        sum += c[i].p;
    }
    assert_true(fabs(sum - 1.0) < 1e-5);
    lp_sampler_free(s);
}

/* ---- against a brute-force reference on a large vocabulary ---------------------- */

static int by_logit_desc(const void *a, const void *b)
{
    const lp_token_prob *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static int by_int(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* llama.cpp's top-k -> top-p -> min-p, written the obvious way: sort all. */
static size_t reference(const float *l, int n, int32_t k, float top_p, float min_p,
                        lp_token_prob *out)
{
    float max = -INFINITY, sum = 0.0f;
    for (int i = 0; i < n; i++) {
        out[i] = (lp_token_prob){.id = i, .logit = l[i]};
        max = l[i] > max ? l[i] : max;
    }
    qsort(out, (size_t)n, sizeof *out, by_logit_desc);
    size_t m = k > 0 && k < n ? (size_t)k : (size_t)n;
    if (top_p < 1.0f) {
        /* softmax in id order, as the sampler builds it, then cumulate */
        float *p = malloc((size_t)n * sizeof *p);
        assert_non_null(p);
        /* float sums depend on order: after a top-k the sampler sums in
         * sorted order, without one in id order */
        for (int i = 0; i < n; i++)
            p[i] = l[i] == max ? 1.0f : expf(l[i] - max);
        if (k > 0)
            for (size_t i = 0; i < m; i++)
                sum += p[out[i].id];
        else
            for (int i = 0; i < n; i++)
                sum += p[i];
        float cum = 0.0f;
        size_t keep = m;
        for (size_t i = 0; i < m; i++) {
            cum += p[out[i].id] / sum;
            if (cum >= top_p) {
                keep = i + 1;
                break;
            }
        }
        m = keep;
        free(p);
    }
    if (min_p > 0.0f) {
        const float thr = out[0].logit + logf(min_p);
        size_t i = 1;
        while (i < m && out[i].logit >= thr)
            i++;
        m = i;
    }
    return m;
}

static void test_against_reference(void **state)
{
    (void)state;
    enum { N = 50000 };
    static float l[N];
    static lp_token_prob ref[N];
    static int32_t got[N], want[N];
    const struct { int32_t k; float top_p, min_p, scale; } cases[] = {
        {40, 1.0f, 0.0f, 8.0f},   {40, 0.95f, 0.05f, 8.0f}, {0, 0.9f, 0.0f, 8.0f},
        {0, 0.9f, 0.0f, 0.5f},    /* flat: the nucleus needs thousands of tokens */
        {0, 1.0f, 0.3f, 4.0f},    {1000, 0.5f, 0.0f, 1.0f}, {0, 0.99f, 0.01f, 2.0f},
        {N + 5, 0.8f, 0.0f, 6.0f},
        {2000, 1.0f, 0.9f, 4.0f}, /* min-p cuts a sorted top-k */
        {0, 0.999f, 0.3f, 4.0f},  /* min-p cuts a sorted nucleus */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        random_logits(l, N, 500 + ci, cases[ci].scale);
        for (int i = 0; i < N; i += 7) /* plenty of exact ties */
            l[i] = roundf(l[i] * 4.0f) / 4.0f;
        lp_sampler_params p = plain(1.0f);
        p.top_k = cases[ci].k;
        p.top_p = cases[ci].top_p;
        p.min_p = cases[ci].min_p;
        lp_sampler *s = make(&p, N);
        sample(s, l);
        size_t n;
        const lp_token_prob *c = lp_sampler_candidates(s, &n);
        size_t m = reference(l, N, p.top_k, p.top_p, p.min_p, ref);
        if (n != m)
            fail_msg("case %zu: kept %zu, reference %zu", ci, n, m);
        if (p.top_k > 0 || p.top_p < 1.0f) { /* sorted output: same order */
            for (size_t i = 0; i < n; i++)
                assert_int_equal(c[i].id, ref[i].id);
        }
        for (size_t i = 0; i < n; i++) {
            got[i] = c[i].id;
            want[i] = ref[i].id;
        }
        qsort(got, n, sizeof *got, by_int);
        qsort(want, n, sizeof *want, by_int);
        assert_memory_equal(got, want, n * sizeof *got);
        lp_sampler_free(s);
    }
}

/* ---- penalties ---------------------------------------------------------------------- */

static float expect_pen(float l, int count, float rep, float freq, float pres)
{
    if (count == 0)
        return l;
    float x = l <= 0.0f ? l * rep : l / rep;
    return x - ((float)count * freq + pres);
}

static void test_penalties_formula(void **state)
{
    (void)state;
    const float base[8] = {2.0f, -1.0f, 0.0f, 3.0f, -2.0f, 1.0f, 0.5f, 4.0f};
    const int32_t hist[] = {0, 1, 1, 2, 3, 1};
    int counts[8] = {1, 3, 1, 1, 0, 0, 0, 0};
    lp_sampler_params p = plain(1.0f);
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.5f;
    lp_sampler *s = make(&p, 8);
    for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++)
        assert_int_equal(lp_sampler_accept(s, hist[i], NULL), 0);
    float l[8];
    memcpy(l, base, sizeof l);
    lp_sampler_apply_penalties(s, l);
    for (int i = 0; i < 8; i++) {
        float want = expect_pen(base[i], counts[i], 1.3f, 0.2f, 0.5f);
        if (l[i] != want)
            fail_msg("token %d: %g, want %g", i, (double)l[i], (double)want);
    }
    /* spot values by hand: positive divided, negative multiplied */
    assert_true(fabsf(l[0] - (2.0f / 1.3f - 0.7f)) < 1e-6f);
    assert_true(fabsf(l[1] - (-1.3f - 1.1f)) < 1e-6f);
    assert_true(fabsf(l[2] - (-0.7f)) < 1e-6f);

    /* the sampler sees the same penalized logits */
    sample(s, base);
    size_t n;
    const lp_token_prob *c = lp_sampler_candidates(s, &n);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_true(c[i].logit == l[c[i].id]);
    lp_sampler_free(s);

    /* all neutral: nothing changes even with history */
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    s = make(&p, 8);
    assert_int_equal(lp_sampler_accept(s, 0, NULL), 0);
    memcpy(l, base, sizeof l);
    lp_sampler_apply_penalties(s, l);
    assert_memory_equal(l, base, sizeof l);
    lp_sampler_free(s);
}

static void test_penalty_window(void **state)
{
    (void)state;
    float l[6];
    lp_sampler_params p = plain(1.0f);
    p.penalty_last_n = 3;
    p.frequency_penalty = 1.0f; /* logit drops by exactly the count */
    lp_sampler *s = make(&p, 6);
    const int32_t hist[] = {0, 1, 2, 3, 3, 4};
    /* window after each accept, as counts of tokens 0..5 */
    const int win[6][6] = {
        {1, 0, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0}, {1, 1, 1, 0, 0, 0},
        {0, 1, 1, 1, 0, 0}, {0, 0, 1, 2, 0, 0}, {0, 0, 0, 2, 1, 0},
    };
    for (int h = 0; h < 6; h++) {
        assert_int_equal(lp_sampler_accept(s, hist[h], NULL), 0);
        for (int i = 0; i < 6; i++)
            l[i] = 10.0f;
        lp_sampler_apply_penalties(s, l);
        for (int i = 0; i < 6; i++)
            if (l[i] != 10.0f - (float)win[h][i])
                fail_msg("after %d accepts token %d: %g, want %g", h + 1, i,
                         (double)l[i], 10.0 - win[h][i]);
    }
    lp_sampler_reset(s);
    for (int i = 0; i < 6; i++)
        l[i] = 10.0f;
    lp_sampler_apply_penalties(s, l);
    for (int i = 0; i < 6; i++)
        assert_true(l[i] == 10.0f);
    lp_sampler_free(s);

    /* last_n = 0 disables penalties entirely */
    p.penalty_last_n = 0;
    p.repeat_penalty = 2.0f;
    s = make(&p, 6);
    assert_int_equal(lp_sampler_accept(s, 1, NULL), 0);
    for (int i = 0; i < 6; i++)
        l[i] = 1.0f;
    lp_sampler_apply_penalties(s, l);
    assert_true(l[1] == 1.0f);
    lp_sampler_free(s);
}

static void test_penalty_steers_greedy(void **state)
{
    (void)state;
    /* llama.cpp applies penalties before its temperature step, so they
     * act at temp 0 too */
    const float l[4] = {1.0f, 3.0f, 2.5f, 0.0f};
    lp_sampler_params p = plain(0.0f);
    p.repeat_penalty = 1.5f; /* 3 / 1.5 = 2 < 2.5 */
    lp_sampler *s = make(&p, 4);
    assert_int_equal(sample(s, l), 1);
    assert_int_equal(lp_sampler_accept(s, 1, NULL), 0);
    assert_int_equal(sample(s, l), 2);
    lp_sampler_free(s);
}

/* ---- the draw follows the softmax --------------------------------------------------- */

static void check_frequencies(float temp, uint64_t seed)
{
    enum { V = 8, DRAWS = 20000 };
    const float l[V] = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f, 1.5f, -2.0f, 0.3f};
    double prob[V], z = 0.0;
    for (int i = 0; i < V; i++)
        z += (prob[i] = exp(l[i] / temp));
    lp_sampler_params p = plain(temp);
    p.seed = seed;
    lp_sampler *s = make(&p, V);
    int hits[V] = {0};
    for (int d = 0; d < DRAWS; d++)
        hits[sample(s, l)]++;
    double chi2 = 0.0;
    for (int i = 0; i < V; i++) {
        prob[i] /= z;
        double expect = prob[i] * DRAWS;
        double sd = sqrt(DRAWS * prob[i] * (1.0 - prob[i]));
        if (fabs(hits[i] - expect) > 4.5 * sd)
            fail_msg("temp %g token %d: %d hits, expected %.1f +- %.1f", (double)temp, i,
                     hits[i], expect, sd);
        chi2 += (hits[i] - expect) * (hits[i] - expect) / expect;
    }
    /* 7 degrees of freedom: P(chi2 > 24.3) = 0.001 */
    if (chi2 > 24.3)
        fail_msg("temp %g: chi-square %.2f over 7 dof", (double)temp, chi2);
    lp_sampler_free(s);
}

static void test_frequencies_match_softmax(void **state)
{
    (void)state;
    check_frequencies(1.0f, 2024);
    check_frequencies(0.6f, 77);
    check_frequencies(1.7f, 31337);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_known_answers),
        cmocka_unit_test(test_defaults_match_llama_cpp),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_reset_replays),
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_bad_logits),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_candidate_probs_follow_temperature),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_penalties_formula),
        cmocka_unit_test(test_penalty_window),
        cmocka_unit_test(test_penalty_steers_greedy),
        cmocka_unit_test(test_frequencies_match_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
