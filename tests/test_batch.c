/* Decode batches across sessions give every session exactly the bits it
 * gets alone:
 *  - lp_matmul_solo over n rows equals n one-row lp_matmul calls, bit for
 *    bit, for every weight type of the shared models (tiles of ggml's
 *    vec_dot order where the table has them, repacked Q4_0 included), on
 *    1 and 2 threads;
 *  - lp_forward_batch over 3 sessions at different positions equals each
 *    session's own one-token lp_forward, logits bit for bit, on whole
 *    models of several types, with flash attention and a q8_0 K cache, and
 *    on a model cut in two (hidden rows from separate buffers into the
 *    second shard);
 *  - and refuses a session twice, a wrong position, too many rows. */
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
#include "support_rng.h"

enum { N_SESS = 3, MAX_ROWS = 5 };

static const char *const MODELS[] = {"stories260K",        "synth-llama-Q4_K_M",
                                     "synth-llama-Q8_0",   "synth-llama-Q4_0",
                                     "synth-llama-F16",    "synth-llama-f32",
                                     "synth-llama-Q6_K",   "synth-qwen2-Q4_K_M",
                                     "synth-llama-Q5_K_M", "synth-llama-Q2_K",
                                     NULL};

static lp_shard *open_model(const char *stem, int first, int last, int threads,
                            const lp_attn_opts *attn)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.first = first;
    o.last = last;
    o.n_ctx = 128;
    o.n_batch = 16;
    o.n_slots = N_SESS + 1;
    o.n_threads = threads;
    if (attn)
        o.attn = *attn;
    lp_err err = {0};
    lp_shard *s = lp_shard_open(lp_test_shared(path, sizeof path, rel), &o, &err);
    if (!s)
        fail_msg("%s: %s", stem, err.msg);
    return s;
}

/* n rows at once in solo order against each row alone (2..4 rows: one
 * several-row dot where a type has them; 5: four, then one alone). */
static void check_weight_n(lp_shard *s, const lp_weight *w, const char *what, int n)
{
    float *x = malloc(sizeof(float) * (size_t)w->cols * n);
    float *all = malloc(sizeof(float) * (size_t)w->rows * n);
    float *one = malloc(sizeof(float) * (size_t)w->rows);
    void *scratch = malloc(lp_matmul_scratch_bytes(w->type, w->cols, n));
    assert_true(x && all && one && scratch);
    rng g = {0x5eed};
    for (int64_t i = 0; i < w->cols * n; i++)
        x[i] = rng_sym(&g);
    lp_matmul_solo(s->tp, &s->kernels, w, x, n, all, scratch);
    for (int t = 0; t < n; t++) {
        lp_matmul(s->tp, &s->kernels, w, x + (size_t)t * w->cols, 1, one, scratch);
        if (memcmp(one, all + (size_t)t * w->rows, sizeof(float) * (size_t)w->rows) != 0)
            fail_msg("%s: row %d of a solo batch differs from the row alone", what, t);
    }
    free(x);
    free(all);
    free(one);
    free(scratch);
}

static void check_weight(lp_shard *s, const lp_weight *w, const char *what)
{
    const int ns[] = {2, 3, 4, MAX_ROWS};
    for (int k = 0; k < 4; k++)
        check_weight_n(s, w, what, ns[k]);
}

static void test_matmul_solo(void **state)
{
    (void)state;
    int n = 0;
    for (int mi = 0; MODELS[mi]; mi++)
        for (int th = 1; th <= 2; th++) {
            lp_shard *s = open_model(MODELS[mi], 0, -1, th, NULL);
            const lp_layer *L = &s->model->layers[0];
            const lp_weight *w[] = {&L->wq, &L->wk, &L->w_gate, &L->w_down, &s->model->output};
            for (size_t i = 0; i < sizeof w / sizeof w[0]; i++, n++) {
                char what[128];
                snprintf(what, sizeof what, "%s (%s, %d threads) weight %zu", MODELS[mi],
                         lp_type_traits_get(w[i]->type)->name, th, i);
                check_weight(s, w[i], what);
            }
            lp_shard_close(s);
        }
    print_message("[ batch ] %d weights: solo batches equal rows alone, bit for bit\n", n);
}

/* Sessions 0..N_SESS-1 in slots, each a prompt of its own length. */
static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 300, 45, 99, 12, 470, 5, 33, 7};

static void prefill(lp_shard *s, int slot, int len)
{
    const float *lg;
    lp_err err = {0};
    lp_kv_close(s->kv, slot);
    assert_int_equal(lp_kv_open(s->kv, (uint64_t)(100 + slot), &err), slot);
    if (lp_prefill(s, slot, PROMPT, len, &lg, &err) != 0)
        fail_msg("prefill: %s", err.msg);
}

/* Whole model: each session's next token alone, then the same three as one
 * batch from the same caches: logits equal. */
static void check_model(const char *stem, const lp_attn_opts *attn)
{
    lp_shard *s = open_model(stem, 0, -1, 2, attn);
    const int nv = (int)s->model->hp.n_vocab;
    const int len[N_SESS] = {5, 11, 8}, slot[N_SESS] = {0, 1, 2};
    const int32_t tok[N_SESS] = {17, 3, 250};
    float *alone = malloc(sizeof(float) * (size_t)nv * N_SESS);
    lp_err err = {0};
    const float *lg;
    for (int i = 0; i < N_SESS; i++) {
        prefill(s, slot[i], len[i]);
        lp_fwd_in in = {.n = 1, .pos0 = len[i], .tokens = &tok[i]};
        if (lp_forward(s->run, s->kv, slot[i], &in, &lg, &err) != 0)
            fail_msg("%s: %s", stem, err.msg);
        memcpy(alone + (size_t)i * nv, lg, sizeof(float) * (size_t)nv);
    }
    int pos[N_SESS];
    for (int i = 0; i < N_SESS; i++) {
        assert_int_equal(lp_kv_set_len(s->kv, slot[i], len[i], &err), 0);
        pos[i] = len[i];
    }
    lp_fwd_in in = {.n = N_SESS, .tokens = tok};
    if (lp_forward_batch(s->run, s->kv, slot, pos, &in, &lg, &err) != 0)
        fail_msg("%s batch: %s", stem, err.msg);
    for (int i = 0; i < N_SESS; i++) {
        if (memcmp(lg + (size_t)i * nv, alone + (size_t)i * nv, sizeof(float) * (size_t)nv))
            fail_msg("%s: session %d's logits in the batch differ from its step alone", stem, i);
        assert_int_equal(lp_kv_len(s->kv, slot[i]), len[i] + 1);
    }
    free(alone);
    lp_shard_close(s);
}

static void test_forward_batch(void **state)
{
    (void)state;
    for (int mi = 0; MODELS[mi]; mi++)
        check_model(MODELS[mi], NULL);
    const lp_attn_opts fa = {.flash = true}, kq8 = {.type_k = LP_KV_Q8_0},
                       fa8 = {.flash = true, .type_k = LP_KV_Q8_0, .type_v = LP_KV_Q8_0};
    check_model("synth-llama-Q4_K_M", &fa);
    check_model("synth-llama-Q4_K_M", &kq8);
    check_model("synth-llama-Q8_0", &fa8);
    print_message("[ batch ] %d models (and -fa, q8_0 K, -fa q8_0 K/V): every session's logits "
                  "in a batch of 3 equal its step alone\n", (int)(sizeof MODELS / sizeof *MODELS) - 1);
}

/* A model cut in two: the second shard takes each session's hidden state
 * from its own buffer (a message each, on a worker). */
static void test_split_batch(void **state)
{
    (void)state;
    lp_shard *a = open_model("synth-llama-Q4_K_M", 0, 2, 1, NULL);
    lp_shard *b = open_model("synth-llama-Q4_K_M", 2, -1, 1, NULL);
    const int e = (int)a->model->hp.n_embd, nv = (int)b->model->hp.n_vocab;
    const int slot[N_SESS] = {0, 1, 2}, len[N_SESS] = {4, 9, 6};
    const int32_t tok[N_SESS] = {30, 31, 32};
    float *h[N_SESS], *alone = malloc(sizeof(float) * (size_t)nv * N_SESS);
    lp_err err = {0};
    const float *out;
    for (int i = 0; i < N_SESS; i++) { /* both shards hold each session's prompt */
        lp_kv_open(a->kv, (uint64_t)(100 + i), &err);
        lp_kv_open(b->kv, (uint64_t)(100 + i), &err);
        for (int p = 0; p < len[i]; p++) {
            lp_fwd_in ia = {.n = 1, .pos0 = p, .tokens = &PROMPT[p]};
            assert_int_equal(lp_forward(a->run, a->kv, slot[i], &ia, &out, &err), 0);
            lp_fwd_in ib = {.n = 1, .pos0 = p, .hidden = out};
            assert_int_equal(lp_forward(b->run, b->kv, slot[i], &ib, &out, &err), 0);
        }
        lp_fwd_in ia = {.n = 1, .pos0 = len[i], .tokens = &tok[i]};
        assert_int_equal(lp_forward(a->run, a->kv, slot[i], &ia, &out, &err), 0);
        h[i] = malloc(sizeof(float) * (size_t)e);
        memcpy(h[i], out, sizeof(float) * (size_t)e);
        lp_fwd_in ib = {.n = 1, .pos0 = len[i], .hidden = h[i]};
        assert_int_equal(lp_forward(b->run, b->kv, slot[i], &ib, &out, &err), 0);
        memcpy(alone + (size_t)i * nv, out, sizeof(float) * (size_t)nv);
        assert_int_equal(lp_kv_set_len(b->kv, slot[i], len[i], &err), 0);
    }
    int pos[N_SESS] = {len[0], len[1], len[2]};
    const void *rows[N_SESS] = {h[2], h[0], h[1]}; /* any order of sessions */
    const int rslot[N_SESS] = {2, 0, 1}, rpos[N_SESS] = {pos[2], pos[0], pos[1]};
    lp_fwd_in in = {.n = N_SESS, .hidden_rows = rows};
    if (lp_forward_batch(b->run, b->kv, rslot, rpos, &in, &out, &err) != 0)
        fail_msg("batch: %s", err.msg);
    for (int t = 0; t < N_SESS; t++)
        if (memcmp(out + (size_t)t * nv, alone + (size_t)rslot[t] * nv, sizeof(float) * nv))
            fail_msg("session %d's logits from hidden rows differ from its step alone", rslot[t]);
    for (int i = 0; i < N_SESS; i++)
        free(h[i]);
    free(alone);
    lp_shard_close(a);
    lp_shard_close(b);
}

static void test_batch_refusals(void **state)
{
    (void)state;
    lp_shard *s = open_model("stories260K", 0, -1, 1, NULL);
    lp_err err = {0};
    const float *lg;
    prefill(s, 0, 3);
    prefill(s, 1, 4);
    const int32_t tok[2] = {5, 6};
    lp_fwd_in in = {.n = 2, .tokens = tok};
    const int twice[2] = {0, 0}, pos_twice[2] = {3, 3};
    assert_int_equal(lp_forward_batch(s->run, s->kv, twice, pos_twice, &in, &lg, &err), -1);
    assert_non_null(strstr(err.msg, "twice"));
    const int slots[2] = {0, 1}, wrong[2] = {3, 7};
    assert_int_equal(lp_forward_batch(s->run, s->kv, slots, wrong, &in, &lg, &err), -1);
    assert_non_null(strstr(err.msg, "position"));
    const int32_t bad[2] = {5, 999999};
    const int right[2] = {3, 4};
    lp_fwd_in oov = {.n = 2, .tokens = bad};
    assert_int_equal(lp_forward_batch(s->run, s->kv, slots, right, &oov, &lg, &err), -1);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    lp_fwd_in many = {.n = 17, .tokens = tok};
    assert_int_equal(lp_forward_batch(s->run, s->kv, slots, right, &many, &lg, &err), -1);
    /* nothing moved: both sessions still hold what they held */
    assert_int_equal(lp_kv_len(s->kv, 0), 3);
    assert_int_equal(lp_kv_len(s->kv, 1), 4);
    lp_shard_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_solo),
        cmocka_unit_test(test_forward_batch),
        cmocka_unit_test(test_split_batch),
        cmocka_unit_test(test_batch_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
