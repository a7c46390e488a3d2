/* The forward pass against llama.cpp: for every model the reference covers,
 * the last prompt position's logits within README's tolerance and the
 * greedy continuation token for token — with every kernel table the CPU
 * runs (scalar, AVX2, AVX-512, VNNI), on 1 and 2 threads (and 3 with the
 * best table: all of them at 3 would add half again to a run that takes
 * minutes under ASan), and the logits bit-identical across thread counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "shard.h"
#include "support.h"
#include "support_ref.h"

typedef struct tally {
    int cases, noise_stops, exact;
} tally;

/* The reference prints 6 significant digits: ours "equals" it when ours,
 * printed the same way, gives the same text. */
static bool same_6_digits(float ours, float ref)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%.6g", (double)ours);
    snprintf(b, sizeof b, "%.6g", (double)ref);
    return strcmp(a, b) == 0 || fabsf(ours - ref) <= 1e-6f * fmaxf(1.0f, fabsf(ref));
}

static lp_shard *open_model(const char *stem, int isa, int threads)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.isa = isa;
    o.n_threads = threads;
    o.n_ctx = 512;
    o.n_batch = 512; /* the whole prompt in one batch, as the reference ran */
    lp_err err = {0};
    lp_shard *s = lp_shard_open(lp_test_shared(path, sizeof path, rel), &o, &err);
    if (!s)
        fail_msg("%s: %s", stem, err.msg);
    return s;
}

/* Runs one case; copies the prompt logits to `logits` for cross-checks. */
static void run_case(lp_shard *s, const ref_model *m, const ref_case *c, float *logits,
                     tally *t)
{
    lp_err err = {0};
    const float *out;
    int slot = lp_kv_open(s->kv, 7, &err);
    assert_true(slot >= 0);
    assert_int_equal(c->n_vocab, s->model->hp.n_vocab);
    if (lp_prefill(s, slot, c->prompt, c->n_prompt, &out, &err) != 0)
        fail_msg("%s: %s", m->name, err.msg);
    memcpy(logits, out, sizeof(float) * (size_t)c->n_vocab);
    float tol = ref_logit_tolerance(m, c), worst = 0;
    bool exact = true;
    for (int i = 0; i < c->n_vocab; i++) {
        worst = fmaxf(worst, fabsf(out[i] - c->logits[i]));
        exact = exact && same_6_digits(out[i], c->logits[i]);
    }
    t->exact += exact;
    if (!(worst <= tol))
        fail_msg("%s (prompt of %d): max logit diff %g > tolerance %g", m->name, c->n_prompt,
                 (double)worst, (double)tol);
    /* Stricter than README's tolerance: our kernels reproduce ggml's float
     * order on every ISA, so every logit prints as llama.cpp's does. */
    if (!exact)
        fail_msg("%s (prompt of %d): logits within tolerance (max diff %g) but not equal to "
                 "llama.cpp's printed digits", m->name, c->n_prompt, (double)worst);
    int32_t ours[64];
    int n = 0;
    for (; n < c->n_greedy; n++) {
        ours[n] = lp_argmax(out, c->n_vocab);
        if (n + 1 < c->n_greedy && lp_decode_one(s, slot, ours[n], &out, &err) != 0)
            fail_msg("%s: %s", m->name, err.msg);
    }
    bool noise;
    int bad = ref_greedy_mismatch(c, ours, n, &noise);
    if (bad >= 0)
        fail_msg("%s (prompt of %d): greedy step %d: ours %d, llama.cpp %d (gap %g)", m->name,
                 c->n_prompt, bad, ours[bad], c->greedy[bad], (double)c->gaps[bad]);
    t->cases++;
    t->noise_stops += noise;
    lp_kv_close(s->kv, slot);
}

static void check_isa(int isa)
{
    tally t = {0};
    for (int mi = 0; REF_MODELS[mi]; mi++) {
        ref_model m;
        assert_int_equal(ref_load(REF_MODELS[mi], &m), 0);
        const size_t nv = (size_t)m.cases[0].n_vocab, nc = (size_t)m.n_cases;
        float *by_threads[3];
        const int max_threads = isa == (int)lp_cpu_best_isa() ? 3 : 2;
        for (int threads = 1; threads <= max_threads; threads++) {
            by_threads[threads - 1] = calloc(nc * nv, sizeof(float));
            lp_shard *s = open_model(m.name, isa, threads);
            for (int ci = 0; ci < m.n_cases; ci++)
                run_case(s, &m, &m.cases[ci], by_threads[threads - 1] + ci * nv, &t);
            lp_shard_close(s);
        }
        for (int k = 1; k < max_threads; k++)
            if (memcmp(by_threads[0], by_threads[k], nc * nv * sizeof(float)) != 0)
                fail_msg("%s: logits differ between 1 and %d threads", m.name, k + 1);
        for (int k = 0; k < max_threads; k++)
            free(by_threads[k]);
        ref_free(&m);
    }
    print_message("[ %s ] %d cases match llama.cpp (%d with every logit equal to the "
                  "printed 6 digits); %d stopped early at a near-tie\n",
                  lp_isa_name((lp_isa)isa), t.cases, t.exact, t.noise_stops);
}

/* Every kernel table this CPU can run: they must all reproduce llama.cpp. */
static void test_every_isa(void **state)
{
    (void)state;
    for (int isa = LP_ISA_SCALAR; isa <= (int)lp_cpu_best_isa(); isa++)
        check_isa(isa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
