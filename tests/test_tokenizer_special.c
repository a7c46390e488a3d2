/* test_tokenizer_special — special tokens and the flags around them,
 * streaming detokenization, the pre-tokenizer splits without a vocabulary
 * file of their own (GPT-2, default), UTF-8 validation, and hostile
 * vocabularies built byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "support.h"
#include "support_tok.h"
#include "tokenizer.h"
#include "tokenizer_internal.h"

static bool contains(const lp_token *ids, size_t n, lp_token id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static void test_special_tokens(void **state)
{
    (void)state;
    tt_vocab v;

    tt_vocab_open(&v, "vocab/ggml-vocab-llama-bpe.gguf");
    assert_int_equal(lp_tokenizer_bos(v.t), 128000);
    assert_int_equal(lp_tokenizer_eos(v.t), 128001);
    assert_int_equal(lp_tokenizer_eot(v.t), 128009); /* found by name */
    assert_true(lp_tokenizer_add_bos(v.t));
    assert_false(lp_tokenizer_add_eos(v.t));
    assert_true(lp_tokenizer_is_eog(v.t, 128009));
    assert_false(lp_tokenizer_is_eog(v.t, 9906));
    assert_int_equal(lp_tokenizer_n_vocab(v.t), 128256);
    assert_int_equal(lp_tokenizer_nl(v.t), 198);
    const char *s = "<|begin_of_text|>Hello<|eot_id|>";
    tt_expect_ids(v.t, s, false, true, (lp_token[]){128000, 9906, 128009}, 3);
    tt_expect_ids(v.t, s, true, true, (lp_token[]){128000, 128000, 9906, 128009}, 4);
    size_t n;
    lp_token *ids = tt_tok(v.t, s, strlen(s), false, false, &n); /* plain text */
    assert_true(n > 3);
    for (size_t i = 0; i < n; i++)
        assert_false(lp_tokenizer_attr(v.t, ids[i]) & LP_TOKATTR_CONTROL);
    free(ids);
    size_t pl;
    const char *p = lp_token_piece(v.t, 128009, true, &pl);
    assert_int_equal(pl, 10);
    assert_memory_equal(p, "<|eot_id|>", 10);
    lp_token_piece(v.t, 128009, false, &pl);
    assert_int_equal(pl, 0);
    tt_vocab_close(&v);

    tt_vocab_open(&v, "vocab/ggml-vocab-qwen2.gguf");
    assert_int_equal(lp_tokenizer_eos(v.t), 151645);
    assert_int_equal(lp_tokenizer_eot(v.t), 151645);
    assert_int_equal(lp_tokenizer_bos(v.t), 11); /* llama.cpp's BPE default */
    assert_false(lp_tokenizer_add_bos(v.t));
    assert_true(lp_tokenizer_is_eog(v.t, 151643)); /* <|endoftext|> */
    /* user-defined tokens are matched even without parse_special */
    ids = tt_tok(v.t, "a<think>b", 9, false, false, &n);
    assert_true(contains(ids, n, 151667));
    free(ids);
    ids = tt_tok(v.t, "<|im_start|>", 12, false, false, &n);
    assert_false(contains(ids, n, 151644));
    free(ids);
    tt_expect_ids(v.t, "<|im_start|>user", false, true, (lp_token[]){151644, 872}, 2);
    tt_vocab_close(&v);

    tt_vocab_open(&v, "vocab/ggml-vocab-llama-spm.gguf");
    assert_int_equal(lp_tokenizer_bos(v.t), 1);
    assert_int_equal(lp_tokenizer_eos(v.t), 2);
    assert_int_equal(lp_tokenizer_unk(v.t), 0);
    assert_int_equal(lp_tokenizer_nl(v.t), 13);
    assert_int_equal(lp_tokenizer_pad(v.t), LP_TOKEN_NULL);
    /* after a special token the SPM space prefix comes back */
    tt_expect_ids(v.t, "Hello</s>Hello", false, true, (lp_token[]){15043, 2, 15043}, 3);
    tt_expect_ids(v.t, "Hello world", true, false, (lp_token[]){1, 15043, 3186}, 3);
    /* bytes without a token of their own fall back to <0xNN> */
    tt_expect_ids(v.t, "\xf0\x9f\xa6\x99", false, false,
               (lp_token[]){29871, 243, 162, 169, 156}, 5);
    /* invalid UTF-8 goes in as raw bytes, as llama.cpp's SPM does */
    tt_expect_ids(v.t, "\x80", false, false, (lp_token[]){29871, 0x80 + 3}, 2);
    tt_vocab_close(&v);

    tt_vocab_open(&v, "models/stories260K.gguf");
    assert_int_equal(lp_tokenizer_pad(v.t), LP_TOKEN_NULL); /* 0xFFFFFFFF in the file */
    assert_true(lp_tokenizer_add_bos(v.t));
    tt_vocab_close(&v);
}

/* ---- streaming detokenizer --------------------------------------------- */

static void stream_equals_detok(const lp_tokenizer *t, const char *text)
{
    size_t n, len;
    lp_token *ids = tt_tok(t, text, strlen(text), false, false, &n);
    char *whole = tt_detok(t, ids, n, &len);
    lp_err err = {{0}};
    lp_detok_stream *st = lp_detok_stream_new(t, true, true, &err);
    assert_non_null(st);
    char *acc = calloc(1, len + 64);
    size_t an = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = lp_detok_stream_push(st, ids[i], &pl);
        assert_non_null(p);
        assert_true(lp_utf8_valid(p, pl, NULL)); /* never half a character */
        assert_true(an + pl <= len);
        memcpy(acc + an, p, pl);
        an += pl;
    }
    size_t pl;
    const char *p = lp_detok_stream_flush(st, &pl);
    memcpy(acc + an, p, pl);
    an += pl;
    assert_int_equal(an, len);
    assert_memory_equal(acc, whole, len);
    free(acc);
    free(whole);
    free(ids);
    lp_detok_stream_free(st);
}

static void test_stream(void **state)
{
    (void)state;
    tt_vocab v;
    tt_vocab_open(&v, "vocab/ggml-vocab-llama-bpe.gguf");
    /* U+1F999 is three tokens here: 11410 ' \xf0\x9f', 99 '\xa6', 247 '\x99' */
    stream_equals_detok(v.t, " this is \xf0\x9f\xa6\x99.cpp and \xe1\x9e\x80\xe1\x9e\xb6 too");
    lp_err err = {{0}};
    lp_detok_stream *st = lp_detok_stream_new(v.t, false, false, &err);
    size_t pl;
    const char *p = lp_detok_stream_push(st, 11410, &pl); /* " \xf0\x9f" */
    assert_int_equal(pl, 1);
    assert_memory_equal(p, " ", 1);
    p = lp_detok_stream_push(st, 99, &pl);
    assert_int_equal(pl, 0);
    p = lp_detok_stream_push(st, 247, &pl);
    assert_int_equal(pl, 4);
    assert_memory_equal(p, "\xf0\x9f\xa6\x99", 4);
    p = lp_detok_stream_push(st, 128009, &pl); /* control, not rendered */
    assert_int_equal(pl, 0);
    /* a character cut short by the end comes out as U+FFFD */
    lp_detok_stream_push(st, 11410, &pl);
    p = lp_detok_stream_flush(st, &pl);
    assert_int_equal(pl, 3);
    assert_memory_equal(p, "\xef\xbf\xbd", 3);
    assert_null(lp_detok_stream_push(st, 999999, &pl));
    lp_detok_stream_free(st);
    tt_vocab_close(&v);

    tt_vocab_open(&v, "vocab/ggml-vocab-llama-spm.gguf");
    stream_equals_detok(v.t, "Hello \xf0\x9f\xa6\x99 world \xd0\xbd\xd0\xb5");
    st = lp_detok_stream_new(v.t, false, true, &err);
    p = lp_detok_stream_push(st, 0x80 + 3, &pl); /* <0x80>: a stray continuation */
    assert_int_equal(pl, 3);
    assert_memory_equal(p, "\xef\xbf\xbd", 3);
    p = lp_detok_stream_push(st, 15043, &pl); /* "▁Hello": not the first piece */
    assert_int_equal(pl, 6);
    assert_memory_equal(p, " Hello", 6);
    lp_detok_stream_free(st);
    tt_vocab_close(&v);
}

/* ---- hostile vocabularies: a GGUF built byte by byte ---------------- */

typedef struct gb {
    uint8_t b[8192];
    size_t n, n_kv_at;
    uint64_t n_kv;
} gb;

static void put(gb *g, const void *p, size_t n)
{
    assert_true(g->n + n <= sizeof g->b);
    memcpy(g->b + g->n, p, n);
    g->n += n;
}
static void put_u32(gb *g, uint32_t v) { put(g, &v, 4); }
static void put_u64(gb *g, uint64_t v) { put(g, &v, 8); }
static void put_str(gb *g, const char *s) { put_u64(g, strlen(s)), put(g, s, strlen(s)); }

static void gb_begin(gb *g)
{
    g->n = 0;
    g->n_kv = 0;
    put(g, "GGUF", 4);
    put_u32(g, 3);
    put_u64(g, 0); /* tensors */
    g->n_kv_at = g->n;
    put_u64(g, 0);
}

static void kv_str(gb *g, const char *k, const char *v)
{
    put_str(g, k), put_u32(g, 8), put_str(g, v), g->n_kv++;
}

static void kv_strs(gb *g, const char *k, const char *const *v, int n)
{
    put_str(g, k), put_u32(g, 9), put_u32(g, 8), put_u64(g, (uint64_t)n);
    for (int i = 0; i < n; i++)
        put_str(g, v[i]);
    g->n_kv++;
}

static void kv_i32s(gb *g, const char *k, const int32_t *v, int n)
{
    put_str(g, k), put_u32(g, 9), put_u32(g, 5), put_u64(g, (uint64_t)n);
    put(g, v, 4 * (size_t)n);
    g->n_kv++;
}

static void kv_u32(gb *g, const char *k, uint32_t v)
{
    put_str(g, k), put_u32(g, 4), put_u32(g, v), g->n_kv++;
}

/* Load what was built; NULL with err on failure. */
static lp_tokenizer *gb_load(gb *g, lp_gguf **gg, lp_err *err)
{
    memcpy(g->b + g->n_kv_at, &g->n_kv, 8);
    *gg = lp_gguf_open_mem(g->b, g->n, err);
    if (!*gg)
        fail_msg("gguf: %s", err->msg);
    return lp_tokenizer_load(*gg, err);
}

static void expect_load_error(gb *g, const char *needle)
{
    lp_gguf *gg;
    lp_err err = {{0}};
    lp_tokenizer *t = gb_load(g, &gg, &err);
    if (t)
        fail_msg("loaded, expected an error about '%s'", needle);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    lp_gguf_close(gg);
}

static const char *const TOKS[] = {"a", "b", "ab", "<s>", "</s>"};

static void bpe_base(gb *g)
{
    gb_begin(g);
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_str(g, "tokenizer.ggml.pre", "gpt-2");
    kv_strs(g, "tokenizer.ggml.tokens", TOKS, 5);
}

static void test_hostile(void **state)
{
    (void)state;
    gb *g = calloc(1, sizeof *g);
    const char *ok_merges[] = {"a b"};

    gb_begin(g);
    kv_str(g, "general.architecture", "llama");
    expect_load_error(g, "no tokenizer");

    gb_begin(g);
    kv_str(g, "tokenizer.ggml.model", "t5");
    expect_load_error(g, "not supported");

    bpe_base(g);
    expect_load_error(g, "merges is missing");

    bpe_base(g);
    kv_strs(g, "tokenizer.ggml.merges", (const char *[]){"ab"}, 1);
    expect_load_error(g, "merges[0]");

    bpe_base(g);
    kv_strs(g, "tokenizer.ggml.merges", (const char *[]){"a "}, 1);
    expect_load_error(g, "merges[0]");

    bpe_base(g);
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    kv_i32s(g, "tokenizer.ggml.token_type", (int32_t[]){1, 1, 1}, 3);
    expect_load_error(g, "3 entries for 5 tokens");

    bpe_base(g);
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    kv_i32s(g, "tokenizer.ggml.token_type", (int32_t[]){1, 6, 1, 3, 3}, 5);
    expect_load_error(g, "byte token");

    bpe_base(g);
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    kv_str(g, "tokenizer.ggml.bos_token_id", "1");
    expect_load_error(g, "bos_token_id");

    gb_begin(g);
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_strs(g, "tokenizer.ggml.tokens", (const char *[]){"a", "b", "a"}, 3);
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    expect_load_error(g, "repeats");

    gb_begin(g);
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_str(g, "tokenizer.ggml.pre", "no-such-split");
    kv_strs(g, "tokenizer.ggml.tokens", TOKS, 5);
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    expect_load_error(g, "not supported");

    /* add_bos with no BOS to add */
    gb_begin(g);
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_str(g, "tokenizer.ggml.pre", "llama-bpe"); /* add_bos by default */
    kv_strs(g, "tokenizer.ggml.tokens", TOKS, 5); /* default bos 11 is past the end */
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    expect_load_error(g, "no BOS");

    /* a well-formed one loads and merges; out-of-range ids are ignored */
    bpe_base(g);
    kv_strs(g, "tokenizer.ggml.merges", ok_merges, 1);
    kv_u32(g, "tokenizer.ggml.bos_token_id", 3);
    kv_u32(g, "tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);
    lp_gguf *gg;
    lp_err err = {{0}};
    lp_tokenizer *t = gb_load(g, &gg, &err);
    if (!t)
        fail_msg("%s", err.msg);
    assert_int_equal(lp_tokenizer_bos(t), 3);
    assert_int_equal(lp_tokenizer_eos(t), LP_TOKEN_NULL);
    assert_int_equal(lp_tokenizer_eot(t), LP_TOKEN_NULL);
    tt_expect_ids(t, "abba", false, false, (lp_token[]){2, 1, 0}, 3); /* ab b a */
    lp_tokenizer_free(t);
    lp_gguf_close(gg);
    free(g);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    size_t at = 99;
    assert_true(lp_utf8_valid("h\xc3\xa9\xf0\x9f\xa6\x99", 7, NULL));
    assert_false(lp_utf8_valid("ab\xc0\x80", 4, &at)); /* overlong */
    assert_int_equal(at, 2);
    assert_false(lp_utf8_valid("\xed\xa0\x80", 3, &at)); /* surrogate */
    assert_false(lp_utf8_valid("\xf4\x90\x80\x80", 4, &at)); /* > U+10FFFF */
    assert_false(lp_utf8_valid("\xe2\x82", 2, &at)); /* cut short */
    assert_true(lp_utf8_valid("", 0, &at));
}

/* ---- pre-tokenizer splits no vocabulary file covers --------------- */

static void expect_split(lp_pretok pre, const char *text, const size_t *want, size_t n_want)
{
    uint32_t cpts[128];
    size_t n = lp_utf8_decode(text, strlen(text), cpts), *lens = NULL, n_words = 0;
    assert_int_equal(lp_pretok_split(pre, cpts, n, &lens, &n_words), 0);
    if (n_words != n_want || memcmp(lens, want, n_words * sizeof *lens)) {
        fprintf(stderr, "'%s': got", text);
        for (size_t i = 0; i < n_words; i++)
            fprintf(stderr, " %zu", lens[i]);
        fail_msg("'%s' split differently", text);
    }
    free(lens);
}

static void test_pretok_splits(void **state)
{
    (void)state;
    /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ :
     * "Hello" " world" "'s" " " " 123" " !!" "\n" (contractions case-sensitive) */
    expect_split(LP_PRE_GPT2, "Hello world's  123 !!\n", (size_t[]){5, 6, 2, 1, 4, 3, 1}, 7);
    expect_split(LP_PRE_GPT2, "I'M ok", (size_t[]){1, 1, 1, 3}, 4); /* "I" "'" "M" " ok" */
    /* default: [\p{P}$+<=>^~|]+ runs, then GPT-2, then \p{N}+, then
     * [0-9]{3}: "a" "+" "b" " " "123" "456" "7" "!?" */
    expect_split(LP_PRE_DEFAULT, "a+b 1234567!?", (size_t[]){1, 1, 1, 1, 3, 3, 1, 2}, 8);
    /* llama3 vs qwen2 on digits and case-insensitive contractions */
    expect_split(LP_PRE_LLAMA3, "I'M 12345", (size_t[]){1, 2, 1, 3, 2}, 5);
    expect_split(LP_PRE_QWEN2, "I'M 12345", (size_t[]){1, 2, 1, 1, 1, 1, 1, 1}, 8);
    /* \s*[\r\n]+ takes spaces up to the last newline; U+00A0 is \s */
    expect_split(LP_PRE_LLAMA3, "a \n \n  b", (size_t[]){1, 4, 1, 2}, 4);
    expect_split(LP_PRE_QWEN2, "x\xc2\xa0\xc2\xa0y", (size_t[]){1, 1, 2}, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_pretok_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
