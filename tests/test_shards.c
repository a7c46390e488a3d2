/* A model cut into layer ranges gives the same logits, bit for bit, as the
 * whole model in one shard: the guarantee the distributed path rests on
 * (DESIGN.md: f32 hidden states on the wire, same kernels, same order).
 * Every split point of several models, prefill in uneven chunks, then
 * greedy decode; also ranges that are invalid for the model. */
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

static const char *const MODELS[] = {"stories260K", "synth-llama-Q4_K_M", "synth-qwen2-Q8_0",
                                     "synth-llama31-tied-Q4_K_M", NULL};
static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 300, 45, 99, 12, 470, 5};
enum { N_PROMPT = sizeof PROMPT / sizeof PROMPT[0], N_DECODE = 8, CHUNK = 4 };

static lp_shard *open_range(const char *stem, int first, int last)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.first = first;
    o.last = last;
    o.n_ctx = 64;
    o.n_batch = CHUNK;
    o.n_threads = 2;
    lp_err err = {0};
    lp_shard *s = lp_shard_open(lp_test_shared(path, sizeof path, rel), &o, &err);
    if (!s)
        fail_msg("%s [%d, %d): %s", stem, first, last, err.msg);
    assert_int_equal(lp_kv_open(s->kv, 42, &err), 0);
    return s;
}

/* Run n tokens through the chain of shards; returns the last logits. */
static const float *chain_step(lp_shard **sh, int n_sh, const int32_t *toks, int n, int pos0)
{
    lp_err err = {0};
    const float *x = NULL;
    for (int i = 0; i < n_sh; i++) {
        lp_fwd_in in = {.n = n, .pos0 = pos0, .tokens = i == 0 ? toks : NULL,
                        .hidden = i == 0 ? NULL : x};
        if (lp_forward(sh[i]->run, sh[i]->kv, 0, &in, &x, &err) != 0)
            fail_msg("shard %d: %s", i, err.msg);
    }
    return x;
}

/* Logits after the prompt and after each decoded token, concatenated. */
static float *trace(lp_shard **sh, int n_sh, int n_vocab)
{
    float *out = malloc(sizeof(float) * (size_t)n_vocab * (N_DECODE + 1));
    const float *lg = NULL;
    for (int done = 0; done < N_PROMPT; done += CHUNK) {
        int n = N_PROMPT - done < CHUNK ? N_PROMPT - done : CHUNK;
        lg = chain_step(sh, n_sh, PROMPT + done, n, done);
    }
    int pos = N_PROMPT;
    for (int i = 0; i <= N_DECODE; i++) {
        memcpy(out + (size_t)i * n_vocab, lg, sizeof(float) * (size_t)n_vocab);
        int32_t t = lp_argmax(lg, n_vocab);
        if (i < N_DECODE)
            lg = chain_step(sh, n_sh, &t, 1, pos++);
    }
    return out;
}

static void test_every_split_matches_whole(void **state)
{
    (void)state;
    int splits = 0;
    for (int mi = 0; MODELS[mi]; mi++) {
        lp_shard *whole = open_range(MODELS[mi], 0, -1);
        const int n_layer = (int)whole->model->hp.n_layer, nv = (int)whole->model->hp.n_vocab;
        float *want = trace(&whole, 1, nv);
        lp_shard_close(whole);
        for (int k = 1; k < n_layer; k++, splits++) {
            lp_shard *two[2] = {open_range(MODELS[mi], 0, k), open_range(MODELS[mi], k, -1)};
            assert_int_equal(lp_kv_get_shape(two[1]->kv)->n_layer, n_layer - k);
            assert_false(two[0]->model->has_head);
            assert_false(two[1]->model->has_embed);
            float *got = trace(two, 2, nv);
            if (memcmp(got, want, sizeof(float) * (size_t)nv * (N_DECODE + 1)) != 0)
                fail_msg("%s split at layer %d differs from the whole model", MODELS[mi], k);
            free(got);
            lp_shard_close(two[0]);
            lp_shard_close(two[1]);
        }
        free(want);
    }
    print_message("[ shards ] %d split points equal the single shard bit for bit\n", splits);
}

static void test_bad_ranges(void **state)
{
    (void)state;
    char path[4096];
    lp_test_shared(path, sizeof path, "models/stories260K.gguf");
    const int ranges[][2] = {{-1, 3}, {3, 3}, {4, 2}, {0, 6}, {5, -1}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        lp_shard_opts o;
        lp_shard_opts_default(&o);
        o.first = ranges[i][0];
        o.last = ranges[i][1];
        lp_err err = {0};
        lp_shard *s = lp_shard_open(path, &o, &err);
        if (s)
            fail_msg("range [%d, %d) was accepted", o.first, o.last);
        assert_non_null(strstr(err.msg, "layer range"));
    }
}

/* A middle shard must be given hidden states, a first shard token ids. */
static void test_wrong_inputs(void **state)
{
    (void)state;
    lp_shard *mid = open_range("stories260K", 1, 3);
    lp_err err = {0};
    const float *out;
    int32_t tok = 1;
    lp_fwd_in in = {.n = 1, .pos0 = 0, .tokens = &tok};
    assert_int_equal(lp_forward(mid->run, mid->kv, 0, &in, &out, &err), -1);
    assert_non_null(strstr(err.msg, "hidden"));
    lp_fwd_in skip = {.n = 1, .pos0 = 5, .hidden = (float[64]){0}};
    assert_int_equal(lp_forward(mid->run, mid->kv, 0, &skip, &out, &err), -1);
    assert_non_null(strstr(err.msg, "position"));
    lp_shard_close(mid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split_matches_whole),
        cmocka_unit_test(test_bad_ranges),
        cmocka_unit_test(test_wrong_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
