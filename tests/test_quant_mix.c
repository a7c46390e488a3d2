/* quant_mix: llama.cpp's file types and the type its rules give each
 * tensor. The mixes of models deeper than the files in shared/ (80 layers
 * with the 70B rule, 32 and 20 layers, with and without GQA >= 4) are the
 * types llama.cpp c392e509's llama-quantize wrote, tensor by tensor, for
 * random-weight F32 llama/qwen2 models of those shapes (n_embd 256, ffn
 * 512), recorded below as one digit per layer (2..6: q2_K..q6_K). The
 * order and the model facts come from the real files in shared/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant_mix.h"
#include "support.h"

static void test_ftype_names(void **state)
{
    (void)state;
    static const struct { const char *name; int id; } k[] = {
        {"F32", 0},    {"F16", 1},     {"Q4_0", 2},    {"Q4_1", 3},    {"Q8_0", 7},
        {"Q5_0", 8},   {"Q5_1", 9},    {"Q2_K", 10},   {"Q3_K_S", 11}, {"Q3_K_M", 12},
        {"Q3_K_L", 13}, {"Q4_K_S", 14}, {"Q4_K_M", 15}, {"Q5_K_S", 16}, {"Q5_K_M", 17},
        {"Q6_K", 18},  {"BF16", 32},   {"q4_k_m", 15}, {"Q4_K", 15},   {"q3_k", 12},
        {"Q5_K", 17},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        lp_ftype ft;
        assert_int_equal(lp_ftype_parse(k[i].name, &ft), 0);
        assert_int_equal(ft, k[i].id);
    }
    const char *bad[] = {"", "Q4", "IQ4_NL", "Q2_K_S", "Q4_K_X", "COPY", "15"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lp_ftype ft;
        assert_int_equal(lp_ftype_parse(bad[i], &ft), -1);
    }
    assert_int_equal(lp_ftype_count(), 17);
    for (int i = 0; i < lp_ftype_count(); i++) {
        lp_ftype ft;
        assert_int_equal(lp_ftype_parse(lp_ftype_name(lp_ftype_at(i)), &ft), 0);
        assert_int_equal(ft, lp_ftype_at(i));
    }
    assert_int_equal(lp_ftype_base(LP_FTYPE_Q3_K_L), LP_TYPE_Q3_K);
    assert_int_equal(lp_ftype_base(LP_FTYPE_BF16), LP_TYPE_BF16);
}

static lp_gguf_tensor tensor(const char *name, uint64_t ne0, uint64_t ne1)
{
    return (lp_gguf_tensor){.name = {name, strlen(name)}, .n_dims = 2,
                            .ne = {ne0, ne1, 1, 1}};
}

static char digit(lp_type t)
{
    switch (t) {
    case LP_TYPE_Q2_K: return '2';
    case LP_TYPE_Q3_K: return '3';
    case LP_TYPE_Q4_K: return '4';
    case LP_TYPE_Q5_K: return '5';
    case LP_TYPE_Q6_K: return '6';
    default: return '?';
    }
}

typedef struct mix_case {
    const char *type;
    const char *attn_v, *ffn_down; /* one digit per layer */
    char attn_output, rest, output;
} mix_case;

/* Visits a model's tensors in llama.cpp's order (outside the blocks, then
 * each block's by name) and checks each choice against llama-quantize's. */
static void check_mix(const lp_mix_facts *facts, const mix_case *c)
{
    lp_mix m;
    lp_ftype ft;
    lp_err err = {0};
    lp_mix_choice ch;
    assert_int_equal(lp_ftype_parse(c->type, &ft), 0);
    assert_int_equal(lp_mix_init_facts(&m, ft, facts, &err), 0);
    lp_gguf_tensor out = tensor("output.weight", 256, 512);
    lp_gguf_tensor emb = tensor("token_embd.weight", 256, 512);
    assert_int_equal(lp_mix_choose(&m, &out, &ch, &err), 0);
    assert_int_equal(digit(ch.type), c->output);
    assert_int_equal(lp_mix_choose(&m, &emb, &ch, &err), 0);
    assert_int_equal(digit(ch.type), c->rest);
    static const char *const names[] = {"attn_k", "attn_output", "attn_q", "attn_v",
                                        "ffn_down", "ffn_gate", "ffn_up"};
    for (int l = 0; l < m.n_layer; l++) {
        for (int j = 0; j < 7; j++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, names[j]);
            lp_gguf_tensor t = tensor(nm, j == 4 ? 512 : 256, 256);
            assert_int_equal(lp_mix_choose(&m, &t, &ch, &err), 0);
            assert_false(ch.fallback);
            char want = j == 3 ? c->attn_v[l] : j == 4 ? c->ffn_down[l]
                        : j == 1 ? c->attn_output : c->rest;
            if (digit(ch.type) != want)
                fail_msg("%s, %d layers: %s is %c, llama.cpp's %c", c->type, m.n_layer, nm,
                         digit(ch.type), want);
        }
    }
    assert_int_equal(m.n_fallback, 0);
}

#define R5(x) x x x x x
#define R20(x) R5(x) R5(x) R5(x) R5(x)
#define R80(x) R20(x) R20(x) R20(x) R20(x)

/* 80 layers, 4 heads / 1 kv head: llama.cpp's 70B rule (attn_v q3/q4_K
 * -> q5_K) and GQA >= 4. qwen2 with 80 layers, 8/2 heads, gave the same. */
static void test_mix_80_layers(void **state)
{
    (void)state;
    /* arch, layers, heads, kv heads, output.weight, attn_v tensors */
    const lp_mix_facts llama = {"llama", 80, 4, 1, true, 80};
    const lp_mix_facts qwen2 = {"qwen2", 80, 8, 2, true, 80};
    const char *m4 = "6666666666556556556556556556556556556556"
                     "5565565565565565565565565565566666666666";
    const char *d4 = "6666666666446446446446446446446446446446"
                     "4464464464464464464464464464466666666666";
    const char *d3m = "55555"
                      "444444444444444444444444444444444444444444444444444444444444444444444444444";
    const char *d4s = "5555555555"
                      "4444444444444444444444444444444444444444444444444444444444444444444444";
    const mix_case k[] = {
        {"Q2_K", R80("5"), R80("3"), '3', '2', '6'},
        {"Q3_K_S", R80("5"), R80("3"), '3', '3', '6'},
        {"Q3_K_M", R80("5"), d3m, '4', '3', '6'},
        {"Q3_K_L", R80("5"), R80("5"), '5', '3', '6'},
        {"Q4_K_S", R80("5"), d4s, '4', '4', '6'},
        {"Q4_K_M", m4, d4, '4', '4', '6'},
        {"Q5_K_S", R80("5"), R80("5"), '5', '5', '6'},
        {"Q5_K_M", m4, m4, '5', '5', '6'},
        {"Q6_K", R80("6"), R80("6"), '6', '6', '6'},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        check_mix(&llama, &k[i]);
        check_mix(&qwen2, &k[i]);
    }
}

/* 32 layers without GQA (8/8 heads), and 20 layers with 8/2. */
static void test_mix_32_and_20_layers(void **state)
{
    (void)state;
    const lp_mix_facts l32 = {"llama", 32, 8, 8, true, 32};
    const mix_case k32[] = {
        {"Q2_K", R20("3") R5("3") "3333333", R20("3") R5("3") "3333333", '3', '2', '6'},
        {"Q3_K_M", "55444444444444444444444444444444", "55444444444444444444444444444444", '4',
         '3', '6'},
        {"Q4_K_S", "55554444444444444444444444444444", "55554444444444444444444444444444", '4',
         '4', '6'},
        {"Q4_K_M", "66664464464464464464464464466666", "66664464464464464464464464466666", '4',
         '4', '6'},
        {"Q5_K_M", "66665565565565565565565565566666", "66665565565565565565565565566666", '5',
         '5', '6'},
    };
    for (size_t i = 0; i < sizeof k32 / sizeof k32[0]; i++)
        check_mix(&l32, &k32[i]);
    const lp_mix_facts l20 = {"llama", 20, 8, 2, true, 20};
    const mix_case k20[] = {
        {"Q2_K", R20("4"), R20("3"), '3', '2', '6'},
        {"Q3_K_S", R20("3"), R20("3"), '3', '3', '6'},
        {"Q3_K_M", "55444444444444444444", "54444444444444444444", '4', '3', '6'},
        {"Q3_K_L", R20("5"), R20("5"), '5', '3', '6'},
        {"Q4_K_S", "55554444444444444444", "55444444444444444444", '4', '4', '6'},
        {"Q4_K_M", "66446446446446446666", "66446446446446446666", '4', '4', '6'},
        {"Q5_K_S", R20("5"), R20("5"), '5', '5', '6'},
        {"Q5_K_M", "66556556556556556666", "66556556556556556666", '5', '5', '6'},
        {"Q6_K", R20("6"), R20("6"), '6', '6', '6'},
    };
    for (size_t i = 0; i < sizeof k20 / sizeof k20[0]; i++)
        check_mix(&l20, &k20[i]);
}

static lp_mix_choice choose(lp_ftype ft, bool has_output, const char *name, uint64_t ne0,
                            int want_rc)
{
    lp_mix m = {.ftype = ft, .n_layer = 4, .n_gqa = 1, .has_output = has_output,
                .n_attention_wv = 4};
    lp_gguf_tensor t = tensor(name, ne0, 64);
    lp_mix_choice c;
    lp_err err = {0};
    assert_int_equal(lp_mix_choose(&m, &t, &c, &err), want_rc);
    if (want_rc)
        assert_non_null(strstr(err.msg, "llama.cpp refuses this too"));
    return c;
}

/* Rows that are not whole blocks: llama.cpp's fallback chain. */
static void test_fallbacks(void **state)
{
    (void)state;
    lp_mix_choice c = choose(LP_FTYPE_Q4_K_M, true, "blk.0.attn_q.weight", 64, 0);
    assert_true(c.fallback && c.wanted == LP_TYPE_Q4_K && c.type == LP_TYPE_Q5_0);
    c = choose(LP_FTYPE_Q5_K_S, true, "blk.0.attn_q.weight", 96, 0);
    assert_true(c.type == LP_TYPE_Q5_1 && !c.substituted);
    c = choose(LP_FTYPE_Q6_K, true, "blk.0.attn_q.weight", 64, 0);
    assert_int_equal(c.type, LP_TYPE_Q8_0);
    c = choose(LP_FTYPE_Q2_K, true, "blk.0.attn_q.weight", 64, 0);
    assert_true(c.type == LP_TYPE_Q4_0 && c.substituted); /* llama.cpp: iq4_nl */
    c = choose(LP_FTYPE_Q3_K_M, true, "blk.0.ffn_down.weight", 172, 0);
    assert_true(c.wanted == LP_TYPE_Q4_K && c.type == LP_TYPE_F16 && !c.substituted);
    /* output.weight: q8_0 at once when its rows are not whole k-blocks */
    c = choose(LP_FTYPE_Q4_K_M, true, "output.weight", 64, 0);
    assert_true(c.type == LP_TYPE_Q8_0 && !c.fallback);
    c = choose(LP_FTYPE_Q4_K_M, false, "token_embd.weight", 64, 0); /* tied: the same */
    assert_int_equal(c.type, LP_TYPE_Q8_0);
    c = choose(LP_FTYPE_Q4_K_M, true, "token_embd.weight", 64, 0);
    assert_int_equal(c.type, LP_TYPE_Q5_0);
    /* legacy types have no fallback: llama.cpp stops */
    choose(LP_FTYPE_Q4_0, true, "blk.0.ffn_down.weight", 172, -1);
    choose(LP_FTYPE_Q8_0, true, "blk.0.attn_q.weight", 48, -1);
    /* float targets take any row */
    c = choose(LP_FTYPE_F16, true, "blk.0.ffn_down.weight", 172, 0);
    assert_true(c.type == LP_TYPE_F16 && !c.fallback);
}

static lp_gguf *open_model(const char *stem)
{
    char rel[256], path[4096];
    lp_err err = {0};
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    if (!g)
        fail_msg("%s", err.msg);
    return g;
}

/* stories260K's tensors, in our order, are in the order llama-quantize
 * wrote them; only 2-D non-norm weights are converted. */
static void test_order_and_converts(void **state)
{
    (void)state;
    lp_gguf *src = open_model("stories260K"), *ref = open_model("stories260K-Q4_K_M");
    uint64_t *order = lp_mix_order(src);
    assert_non_null(order);
    assert_int_equal(src->n_tensors, ref->n_tensors);
    int converted = 0;
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const lp_gguf_tensor *a = &src->tensors[order[i]], *b = &ref->tensors[i];
        assert_int_equal(a->name.len, b->name.len);
        assert_memory_equal(a->name.ptr, b->name.ptr, a->name.len);
        converted += lp_mix_converts(a);
        assert_int_equal(lp_mix_converts(a), b->type != LP_TYPE_F32);
    }
    assert_int_equal(converted, 37);
    free(order);
    lp_gguf_close(src);
    lp_gguf_close(ref);
    lp_gguf_tensor col = {.name = {"blk.0.x.weight", 14}, .n_dims = 2, .ne = {256, 1, 1, 1}};
    assert_false(lp_mix_converts(&col)); /* 1-D to ggml, whatever n_dims says */
    assert_int_equal(lp_mix_n_dims(&col), 1);
    lp_gguf_tensor bias = {.name = {"blk.0.attn_q.bias", 17}, .n_dims = 2, .ne = {256, 4, 1, 1}};
    assert_false(lp_mix_converts(&bias));
}

/* What lp_mix_init_facts makes of a model's facts: llama.cpp's 70B is an
 * 80-layer llama with grouped kv heads (without, its 65B) or any 80-layer
 * qwen2; and what it refuses. */
static void test_init_facts(void **state)
{
    (void)state;
    static const struct { lp_mix_facts f; int n_gqa; bool is_70b; } k[] = {
        {{"llama", 80, 64, 8, true, 80}, 8, true},   /* Llama 3 70B */
        {{"llama", 80, 64, 64, true, 80}, 1, false}, /* LLaMA 65B */
        {{"qwen2", 80, 64, 64, true, 80}, 1, true},
        {{"qwen2", 80, 64, 8, false, 80}, 8, true},
        {{"llama", 79, 64, 8, true, 79}, 8, false},
        {{"llama", 16, 32, 8, false, 16}, 4, false}, /* Llama 3.2 1B, tied */
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        lp_mix m;
        lp_err err = {0};
        assert_int_equal(lp_mix_init_facts(&m, LP_FTYPE_Q4_K_M, &k[i].f, &err), 0);
        assert_int_equal(m.ftype, LP_FTYPE_Q4_K_M);
        assert_int_equal(m.n_layer, k[i].f.n_layer);
        assert_int_equal(m.n_gqa, k[i].n_gqa);
        assert_int_equal(m.is_70b, k[i].is_70b);
        assert_int_equal(m.has_output, k[i].f.has_output);
        assert_int_equal(m.n_attention_wv, k[i].f.n_attention_wv);
        assert_int_equal(m.i_attention_wv + m.i_ffn_down + m.n_chosen + m.n_fallback, 0);
    }
    lp_mix m;
    lp_err err = {0};
    lp_mix_facts f = {"llama", 80, 64, 8, true, 80};
    assert_int_equal(lp_mix_init_facts(&m, (lp_ftype)4, &f, &err), -1);
    assert_non_null(strstr(err.msg, "file type 4"));
    f.arch = "falcon";
    assert_int_equal(lp_mix_init_facts(&m, LP_FTYPE_Q8_0, &f, &err), -1);
    assert_non_null(strstr(err.msg, "architecture 'falcon'"));
    f.arch = "llama";
    f.n_attention_wv = 79;
    assert_int_equal(lp_mix_init_facts(&m, LP_FTYPE_Q8_0, &f, &err), -1);
    assert_non_null(strstr(err.msg, "79 attn_v tensors for 80 layers"));
}

static void test_init_reads_the_model(void **state)
{
    (void)state;
    static const struct { const char *stem; int n_layer, n_gqa; bool has_output; } k[] = {
        {"synth-llama-f32", 4, 2, true},
        {"synth-qwen2-f32", 3, 4, true},
        {"synth-llama31-tied-f16", 2, 4, false},
        {"stories260K", 5, 2, true},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        lp_gguf *g = open_model(k[i].stem);
        lp_mix m;
        lp_err err = {0};
        assert_int_equal(lp_mix_init(&m, LP_FTYPE_Q4_K_M, g, &err), 0);
        assert_int_equal(m.n_layer, k[i].n_layer);
        assert_int_equal(m.n_gqa, k[i].n_gqa);
        assert_int_equal(m.has_output, k[i].has_output);
        assert_int_equal(m.n_attention_wv, k[i].n_layer);
        assert_false(m.is_70b);
        assert_int_equal(lp_mix_init(&m, (lp_ftype)4, g, &err), -1); /* not a file type */
        lp_gguf_close(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ftype_names),
        cmocka_unit_test(test_mix_80_layers),
        cmocka_unit_test(test_mix_32_and_20_layers),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_order_and_converts),
        cmocka_unit_test(test_init_facts),
        cmocka_unit_test(test_init_reads_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
