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
#include "support_chain.h"

static const char *const MODELS[] = {"stories260K", "synth-llama-Q4_K_M", "synth-qwen2-Q8_0",
                                     "synth-llama31-tied-Q4_K_M", NULL};
enum { N_DECODE = 8 };

static lp_shard *open_range(const char *stem, int first, int last)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    return chain_open(lp_test_shared(path, sizeof path, rel), first, last);
}

static void test_every_split_matches_whole(void **state)
{
    (void)state;
    int splits = 0;
    for (int mi = 0; MODELS[mi]; mi++) {
        lp_shard *whole = open_range(MODELS[mi], 0, -1);
        const int n_layer = (int)whole->model->hp.n_layer, nv = (int)whole->model->hp.n_vocab;
        float *want = chain_trace(&whole, 1, nv, N_DECODE);
        lp_shard_close(whole);
        for (int k = 1; k < n_layer; k++, splits++) {
            lp_shard *two[2] = {open_range(MODELS[mi], 0, k), open_range(MODELS[mi], k, -1)};
            assert_int_equal(lp_kv_get_shape(two[1]->kv)->n_layer, n_layer - k);
            assert_false(two[0]->model->has_head);
            assert_false(two[1]->model->has_embed);
            float *got = chain_trace(two, 2, nv, N_DECODE);
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
