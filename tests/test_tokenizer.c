/* test_tokenizer — our tokenizers against llama.cpp's own test vectors
 * (the .inp/.out files in shared/vocab), its round-trip rules (test-tokenizer-1-*),
 * and the stories260K prompts of the greedy reference. Special tokens,
 * streaming and hostile files: test_tokenizer_special.c. */
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
#include "support_tok.h"
#include "tokenizer.h"

static const char *const VOCABS[] = {"ggml-vocab-llama-spm", "ggml-vocab-llama-bpe",
                                     "ggml-vocab-qwen2", NULL};

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
        tt_vocab v;
        cases c = {0};
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        tt_vocab_open(&v, rel);
        cases_load(&c, VOCABS[k]);
        size_t bad = 0;
        double t0 = tt_now_ms();
        for (size_t i = 0; i < c.n; i++) {
            size_t n;
            lp_token *ids = tt_tok(v.t, c.text[i], c.text_len[i], false, false, &n);
            /* the bound the server refuses too-long prompts by, untokenized */
            assert_true(n >= c.text_len[i] / lp_tokenizer_max_token_bytes(v.t));
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
        double ms = tt_now_ms() - t0;
        printf("%s: %zu cases, %zu mismatches (load %.1f ms, tokenize all %.2f ms)\n",
               VOCABS[k], c.n, bad, v.load_ms, ms);
        total += c.n;
        bad_total += bad;
        cases_free(&c);
        tt_vocab_close(&v);
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
        tt_vocab v;
        cases c = {0};
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        tt_vocab_open(&v, rel);
        cases_load(&c, VOCABS[k]);
        size_t checked = 0;
        bool clean = !strcmp(VOCABS[k], "ggml-vocab-llama-bpe");
        for (size_t i = 0; i < c.n; i++) {
            if (clean && clean_spaces_applies(c.text[i], c.text_len[i]))
                continue;
            size_t n, len;
            lp_token *ids = tt_tok(v.t, c.text[i], c.text_len[i], false, false, &n);
            char *back = tt_detok(v.t, ids, n, &len);
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
        tt_vocab_close(&v);
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
        char *s = tt_detok(t, &id, 1, &len);
        if (bpe && !lp_utf8_valid(s, len, NULL)) {
            skipped++;
            free(s);
            continue;
        }
        lp_token *ids = tt_tok(t, s, len, false, true, &n);
        char *back = tt_detok(t, ids, n, &len2);
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
        lp_token *ids = tt_tok(t, s, sl, false, parse, &n);
        char *back = tt_detok(t, ids, n, &len);
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
        tt_vocab v;
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        tt_vocab_open(&v, rel);
        vocab_roundtrip(v.t, VOCABS[k]);
        codepoint_roundtrip(v.t, VOCABS[k]);
        tt_vocab_close(&v);
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
    tt_vocab v;
    tt_vocab_open(&v, "models/stories260K.gguf");
    int n_cases = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, root) {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "prompt_text"));
        cJSON *want = cJSON_GetObjectItem(c, "prompt_ids");
        assert_non_null(text);
        size_t n;
        lp_token *ids = tt_tok(v.t, text, strlen(text), true, false, &n);
        assert_int_equal(n, cJSON_GetArraySize(want));
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ids[i], cJSON_GetArrayItem(want, (int)i)->valueint);
        free(ids);
        n_cases++;
    }
    assert_int_equal(n_cases, 3);
    /* the first case spelled out, as the issue gives it */
    size_t n;
    lp_token *ids = tt_tok(v.t, "Once upon a time", 16, true, false, &n);
    lp_token want[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    tt_vocab_close(&v);
    cJSON_Delete(root);
    free(json);
}

/* ---- special tokens and flags ------------------------------------------ */

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
        tt_vocab v;
        snprintf(rel, sizeof rel, "vocab/%s.gguf", VOCABS[k]);
        tt_vocab_open(&v, rel);
        double t0 = tt_now_ms();
        size_t n;
        lp_token *ids = tt_tok(v.t, text, len, false, false, &n);
        double ms = tt_now_ms() - t0;
        printf("%s: load %.1f ms; %zu bytes -> %zu tokens in %.1f ms\n", VOCABS[k], v.load_ms,
               len, n, ms);
        assert_true(n > len / 8);
        free(ids);
        tt_vocab_close(&v);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_vectors),
        cmocka_unit_test(test_inp_roundtrip),
        cmocka_unit_test(test_stories_prompts),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_roundtrip_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
