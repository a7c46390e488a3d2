/* test_tokenizer — our tokenizers against llama.cpp's own test vectors
 * (the .inp/.out files in shared/vocab), its round-trip rules (test-tokenizer-1-*),
 * the stories260K prompts of the greedy reference, special tokens,
 * streaming detokenization, and hostile vocabularies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "gguf.h"
#include "support.h"
#include "tokenizer.h"

static const char *const VOCABS[] = {"ggml-vocab-llama-spm", "ggml-vocab-llama-bpe",
                                     "ggml-vocab-qwen2", NULL};

typedef struct vocab {
    lp_gguf *g;
    lp_tokenizer *t;
    double load_ms;
} vocab;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void vocab_open(vocab *v, const char *rel)
{
    char path[4096];
    lp_err err = {{0}};
    lp_test_shared(path, sizeof path, rel);
    double t0 = now_ms();
    v->g = lp_gguf_open(path, &err);
    if (!v->g)
        fail_msg("%s: %s", path, err.msg);
    v->t = lp_tokenizer_load(v->g, &err);
    if (!v->t)
        fail_msg("%s: %s", path, err.msg);
    v->load_ms = now_ms() - t0;
}

static void vocab_close(vocab *v)
{
    lp_tokenizer_free(v->t);
    lp_gguf_close(v->g);
}

static lp_token *tok(const lp_tokenizer *t, const char *s, size_t n, bool add, bool parse,
                     size_t *n_out)
{
    lp_token *ids = NULL;
    lp_err err = {{0}};
    if (lp_tokenize(t, s, n, add, parse, &ids, n_out, &err))
        fail_msg("tokenize: %s", err.msg);
    return ids;
}

static char *detok(const lp_tokenizer *t, const lp_token *ids, size_t n, size_t *len)
{
    char *s = NULL;
    lp_err err = {{0}};
    if (lp_detokenize(t, ids, n, false, true, &s, len, &err))
        fail_msg("detokenize: %s", err.msg);
    return s;
}

/* ---- llama.cpp's test vectors ------------------------------------------ */

typedef struct cases {
    char *inp, *out;        /* whole files, split in place */
    char **text;            /* NUL-split inputs (texts may hold no NUL) */
    size_t *text_len;
    char **ids;             /* the matching lines of .out */
    size_t n;
} cases;

static void cases_load(cases *c, const char *stem)
{
    char path[4096], rel[256];
    size_t n_inp, n_out;
    snprintf(rel, sizeof rel, "vocab/%s.gguf.inp", stem);
    c->inp = lp_test_read_file(lp_test_shared(path, sizeof path, rel), &n_inp);
    snprintf(rel, sizeof rel, "vocab/%s.gguf.out", stem);
    c->out = lp_test_read_file(lp_test_shared(path, sizeof path, rel), &n_out);
    assert_non_null(c->inp);
    assert_non_null(c->out);
    c->text = calloc(n_inp + 1, sizeof *c->text);
    c->text_len = calloc(n_inp + 1, sizeof *c->text_len);
    c->ids = calloc(n_out + 2, sizeof *c->ids);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *p = c->inp, *end = c->inp + n_inp;
    size_t n = 0;
    while (p < end) { /* as test-tokenizer-0's read_tests */
        char *q = strstr(p, sep);
        c->text[n] = p;
        c->text_len[n] = q ? (size_t)(q - p) : (size_t)(end - p);
        n++;
        if (!q)
            break;
        *q = 0;
        p = q + strlen(sep);
    }
    size_t m = 0;
    for (char *line = c->out; line && *line; m++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        c->ids[m] = line;
        line = nl ? nl + 1 : NULL;
    }
    assert_int_equal(n, m);
    c->n = n;
}

static void cases_free(cases *c)
{
    free(c->inp);
    free(c->out);
    free(c->text);
    free(c->text_len);
    free(c->ids);
}

static bool ids_match(const lp_token *ids, size_t n, const char *line)
{
    const char *p = line;
    for (size_t i = 0; i < n; i++) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p || v != ids[i])
            return false;
        p = e;
    }
    while (*p == ' ' || *p == '\r')
        p++;
    return *p == 0;
}

static void test_vocab_vectors(void **state)
{
    (void)state;
    size_t total = 0, bad_total = 0;
    for (int k = 0; VOCABS[k]; k++) {
        char rel[256];
        vocab v;
        cases c = {0};
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        vocab_open(&v, rel);
        cases_load(&c, VOCABS[k]);
        size_t bad = 0;
        double t0 = now_ms();
        for (size_t i = 0; i < c.n; i++) {
            size_t n;
            lp_token *ids = tok(v.t, c.text[i], c.text_len[i], false, false, &n);
            if (!ids_match(ids, n, c.ids[i])) {
                bad++;
                fprintf(stderr, "%s case %zu '%.*s': want [%s], got [", VOCABS[k], i,
                        (int)c.text_len[i], c.text[i], c.ids[i]);
                for (size_t j = 0; j < n; j++)
                    fprintf(stderr, j ? " %d" : "%d", ids[j]);
                fprintf(stderr, "]\n");
            }
            free(ids);
        }
        double ms = now_ms() - t0;
        printf("%s: %zu cases, %zu mismatches (load %.1f ms, tokenize all %.2f ms)\n",
               VOCABS[k], c.n, bad, v.load_ms, ms);
        total += c.n;
        bad_total += bad;
        cases_free(&c);
        vocab_close(&v);
    }
    printf("vocab vectors: %zu checked, %zu mismatches\n", total, bad_total);
    assert_true(total >= 100);
    assert_int_equal(bad_total, 0);
}

/* The .inp texts come back from detokenize unchanged, except where a BPE
 * vocabulary's clean_spaces rewrites " ?" and the like (llama-bpe), which
 * llama.cpp does as well. */
static bool clean_spaces_applies(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ' ' && strchr("?!.,'", s[i + 1]))
            return true;
    return false;
}

static void test_inp_roundtrip(void **state)
{
    (void)state;
    for (int k = 0; VOCABS[k]; k++) {
        char rel[256];
        vocab v;
        cases c = {0};
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        vocab_open(&v, rel);
        cases_load(&c, VOCABS[k]);
        size_t checked = 0;
        bool clean = !strcmp(VOCABS[k], "ggml-vocab-llama-bpe");
        for (size_t i = 0; i < c.n; i++) {
            if (clean && clean_spaces_applies(c.text[i], c.text_len[i]))
                continue;
            size_t n, len;
            lp_token *ids = tok(v.t, c.text[i], c.text_len[i], false, false, &n);
            char *back = detok(v.t, ids, n, &len);
            if (len != c.text_len[i] || memcmp(back, c.text[i], len))
                fail_msg("%s: '%.*s' came back as '%s'", VOCABS[k], (int)c.text_len[i],
                         c.text[i], back);
            checked++;
            free(back);
            free(ids);
        }
        printf("%s: %zu of %zu texts round-trip\n", VOCABS[k], checked, c.n);
        assert_true(checked >= c.n - 3);
        cases_free(&c);
        vocab_close(&v);
    }
}

/* ---- llama.cpp's test-tokenizer-1-{spm,bpe} ---------------------------- */

/* Every token: its text tokenized (special tokens parsed) detokenizes to
 * the same text. BPE skips texts that are not valid UTF-8 (byte pieces),
 * as test-tokenizer-1-bpe does. */
static void vocab_roundtrip(const lp_tokenizer *t, const char *name)
{
    uint32_t nv = lp_tokenizer_n_vocab(t), skipped = 0;
    bool bpe = lp_tokenizer_kind(t) == LP_TOK_BPE;
    for (uint32_t i = 0; i < nv; i++) {
        lp_token id = (lp_token)i;
        size_t len, n, len2;
        char *s = detok(t, &id, 1, &len);
        if (bpe && !lp_utf8_valid(s, len, NULL)) {
            skipped++;
            free(s);
            continue;
        }
        lp_token *ids = tok(t, s, len, false, true, &n);
        char *back = detok(t, ids, n, &len2);
        if (len2 != len || memcmp(back, s, len))
            fail_msg("%s: token %u '%s' came back as '%s'", name, i, s, back);
        free(back);
        free(ids);
        free(s);
    }
    printf("%s: %u tokens round-trip (%u byte pieces skipped)\n", name, nv - skipped, skipped);
}

/* Every codepoint but surrogates, U+40000..U+E0000 and U+2581 round-trips
 * as a text of its own (parse_special as llama.cpp's tests pass it). */
static void codepoint_roundtrip(const lp_tokenizer *t, const char *name)
{
    bool parse = lp_tokenizer_kind(t) == LP_TOK_SPM;
    uint32_t n_cp = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x40000 && cp <= 0xE0000) || cp == 0x2581)
            continue;
        char s[4];
        size_t sl = 0, n, len;
        if (cp < 0x80)
            s[sl++] = (char)cp;
        else if (cp < 0x800)
            s[sl++] = (char)(0xC0 | (cp >> 6)), s[sl++] = (char)(0x80 | (cp & 0x3F));
        else if (cp < 0x10000)
            s[sl++] = (char)(0xE0 | (cp >> 12)), s[sl++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            s[sl++] = (char)(0x80 | (cp & 0x3F));
        else
            s[sl++] = (char)(0xF0 | (cp >> 18)), s[sl++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
            s[sl++] = (char)(0x80 | ((cp >> 6) & 0x3F)), s[sl++] = (char)(0x80 | (cp & 0x3F));
        lp_token *ids = tok(t, s, sl, false, parse, &n);
        char *back = detok(t, ids, n, &len);
        if (len != sl || memcmp(back, s, sl))
            fail_msg("%s: U+%04X came back as '%s' (%zu bytes)", name, cp, back, len);
        free(back);
        free(ids);
        n_cp++;
    }
    printf("%s: %u codepoints round-trip\n", name, n_cp);
}

static void test_roundtrip_rules(void **state)
{
    (void)state;
    for (int k = 0; VOCABS[k]; k++) {
        char rel[256];
        vocab v;
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        vocab_open(&v, rel);
        vocab_roundtrip(v.t, VOCABS[k]);
        codepoint_roundtrip(v.t, VOCABS[k]);
        vocab_close(&v);
    }
}

/* ---- stories260K: the prompts of the greedy reference ---------------- */

static void test_stories_prompts(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    char *json = lp_test_read_file(lp_test_shared(path, sizeof path,
                                                  "reference/greedy/stories260K.json"), &len);
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    vocab v;
    vocab_open(&v, "models/stories260K.gguf");
    int n_cases = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, root) {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "prompt_text"));
        cJSON *want = cJSON_GetObjectItem(c, "prompt_ids");
        assert_non_null(text);
        size_t n;
        lp_token *ids = tok(v.t, text, strlen(text), true, false, &n);
        assert_int_equal(n, cJSON_GetArraySize(want));
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ids[i], cJSON_GetArrayItem(want, (int)i)->valueint);
        free(ids);
        n_cases++;
    }
    assert_int_equal(n_cases, 3);
    /* the first case spelled out, as the issue gives it */
    size_t n;
    lp_token *ids = tok(v.t, "Once upon a time", 16, true, false, &n);
    lp_token want[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    vocab_close(&v);
    cJSON_Delete(root);
    free(json);
}

/* ---- special tokens and flags ------------------------------------------ */

static void expect_ids(const lp_tokenizer *t, const char *s, bool add, bool parse,
                       const lp_token *want, size_t n_want)
{
    size_t n;
    lp_token *ids = tok(t, s, strlen(s), add, parse, &n);
    if (n != n_want || memcmp(ids, want, n * sizeof *ids)) {
        fprintf(stderr, "'%s': got", s);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        fail_msg("'%s' tokenized differently", s);
    }
    free(ids);
}

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
    vocab v;

    vocab_open(&v, "vocab/ggml-vocab-llama-bpe.gguf");
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
    expect_ids(v.t, s, false, true, (lp_token[]){128000, 9906, 128009}, 3);
    expect_ids(v.t, s, true, true, (lp_token[]){128000, 128000, 9906, 128009}, 4);
    size_t n;
    lp_token *ids = tok(v.t, s, strlen(s), false, false, &n); /* plain text */
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
    vocab_close(&v);

    vocab_open(&v, "vocab/ggml-vocab-qwen2.gguf");
    assert_int_equal(lp_tokenizer_eos(v.t), 151645);
    assert_int_equal(lp_tokenizer_eot(v.t), 151645);
    assert_int_equal(lp_tokenizer_bos(v.t), 11); /* llama.cpp's BPE default */
    assert_false(lp_tokenizer_add_bos(v.t));
    assert_true(lp_tokenizer_is_eog(v.t, 151643)); /* <|endoftext|> */
    /* user-defined tokens are matched even without parse_special */
    ids = tok(v.t, "a<think>b", 9, false, false, &n);
    assert_true(contains(ids, n, 151667));
    free(ids);
    ids = tok(v.t, "<|im_start|>", 12, false, false, &n);
    assert_false(contains(ids, n, 151644));
    free(ids);
    expect_ids(v.t, "<|im_start|>user", false, true, (lp_token[]){151644, 872}, 2);
    vocab_close(&v);

    vocab_open(&v, "vocab/ggml-vocab-llama-spm.gguf");
    assert_int_equal(lp_tokenizer_bos(v.t), 1);
    assert_int_equal(lp_tokenizer_eos(v.t), 2);
    assert_int_equal(lp_tokenizer_unk(v.t), 0);
    assert_int_equal(lp_tokenizer_nl(v.t), 13);
    assert_int_equal(lp_tokenizer_pad(v.t), LP_TOKEN_NULL);
    /* after a special token the SPM space prefix comes back */
    expect_ids(v.t, "Hello</s>Hello", false, true, (lp_token[]){15043, 2, 15043}, 3);
    expect_ids(v.t, "Hello world", true, false, (lp_token[]){1, 15043, 3186}, 3);
    /* bytes without a token of their own fall back to <0xNN> */
    expect_ids(v.t, "\xf0\x9f\xa6\x99", false, false,
               (lp_token[]){29871, 243, 162, 169, 156}, 5);
    /* invalid UTF-8 goes in as raw bytes, as llama.cpp's SPM does */
    expect_ids(v.t, "\x80", false, false, (lp_token[]){29871, 0x80 + 3}, 2);
    vocab_close(&v);

    vocab_open(&v, "models/stories260K.gguf");
    assert_int_equal(lp_tokenizer_pad(v.t), LP_TOKEN_NULL); /* 0xFFFFFFFF in the file */
    assert_true(lp_tokenizer_add_bos(v.t));
    vocab_close(&v);
}

/* ---- streaming detokenizer --------------------------------------------- */

static void stream_equals_detok(const lp_tokenizer *t, const char *text)
{
    size_t n, len;
    lp_token *ids = tok(t, text, strlen(text), false, false, &n);
    char *whole = detok(t, ids, n, &len);
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
    vocab v;
    vocab_open(&v, "vocab/ggml-vocab-llama-bpe.gguf");
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
    vocab_close(&v);

    vocab_open(&v, "vocab/ggml-vocab-llama-spm.gguf");
    stream_equals_detok(v.t, "Hello \xf0\x9f\xa6\x99 world \xd0\xbd\xd0\xb5");
    st = lp_detok_stream_new(v.t, false, true, &err);
    p = lp_detok_stream_push(st, 0x80 + 3, &pl); /* <0x80>: a stray continuation */
    assert_int_equal(pl, 3);
    assert_memory_equal(p, "\xef\xbf\xbd", 3);
    p = lp_detok_stream_push(st, 15043, &pl); /* "▁Hello": not the first piece */
    assert_int_equal(pl, 6);
    assert_memory_equal(p, " Hello", 6);
    lp_detok_stream_free(st);
    vocab_close(&v);
}

/* ---- performance (not a benchmark: a guard against a quadratic slip) ---- */

static void test_speed(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    char *text = lp_test_read_file(
        lp_test_shared(path, sizeof path, "corpus/tinystories_val_head40k.txt"), &len);
    assert_non_null(text);
    for (int k = 0; VOCABS[k]; k++) {
        char rel[256];
        vocab v;
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        vocab_open(&v, rel);
        double t0 = now_ms();
        size_t n;
        lp_token *ids = tok(v.t, text, len, false, false, &n);
        double ms = now_ms() - t0;
        printf("%s: load %.1f ms; %zu bytes -> %zu tokens in %.1f ms\n", VOCABS[k], v.load_ms,
               len, n, ms);
        assert_true(n > len / 8);
        free(ids);
        vocab_close(&v);
    }
    free(text);
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
    expect_ids(t, "abba", false, false, (lp_token[]){2, 1, 0}, 3); /* ab b a */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_vectors),
        cmocka_unit_test(test_inp_roundtrip),
        cmocka_unit_test(test_stories_prompts),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_roundtrip_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
