/* e2e_tokenize — the real `coord tokenize` binary: ids for llama.cpp's
 * test texts (read back from a file), BOS/special/pieces options, and its
 * errors for a missing model, a GGUF without a tokenizer, invalid UTF-8
 * and an empty prompt. */
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

enum { OUT_CAP = 1 << 16 };

/* Run coord tokenize ARGS; its stdout lands in out (OUT_CAP bytes). */
static int coord(const char *args, char *out)
{
    char bin[4096], cmd[16384];
    lp_test_bin(bin, sizeof bin, "coord");
    if (snprintf(cmd, sizeof cmd, "'%s' tokenize %s 2>/dev/null", bin, args) >= (int)sizeof cmd)
        return -1;
    return lp_test_run(cmd, out, OUT_CAP);
}

static const char *vocab_path(const char *stem, char *path, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/%s.gguf", stem);
    return lp_test_shared(path, cap, rel);
}

/* Every .inp text, written to a file and tokenized with -f, gives the
 * matching .out line. */
static void check_vocab_file(const char *stem, char *dir)
{
    char path[4096], rel[256], args[8192], vocab[4096], got[OUT_CAP];
    size_t n_inp, n_out;
    snprintf(rel, sizeof rel, "vocab/%s.gguf.inp", stem);
    char *inp = lp_test_read_file(lp_test_shared(path, sizeof path, rel), &n_inp);
    snprintf(rel, sizeof rel, "vocab/%s.gguf.out", stem);
    char *out = lp_test_read_file(lp_test_shared(path, sizeof path, rel), &n_out);
    assert_non_null(inp);
    assert_non_null(out);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *p = inp, *line = out;
    int checked = 0;
    while (p && line && *line) {
        char *q = strstr(p, sep), *nl = strchr(line, '\n');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (nl)
            *nl = 0;
        if (len > 0) { /* the empty text is the CLI's usage error, tested below */
            snprintf(path, sizeof path, "%s/text", dir);
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(p, 1, len, f), len);
            fclose(f);
            snprintf(args, sizeof args, "-m '%s' --no-bos -f '%s'", vocab_path(stem, vocab, sizeof vocab), path);
            assert_int_equal(coord(args, got), 0);
            char *e = got + strlen(got);
            while (e > got && (e[-1] == '\n' || e[-1] == ' '))
                *--e = 0;
            const char *want = line;
            while (*want == ' ')
                want++;
            if (strcmp(got, want))
                fail_msg("%s: '%.*s': want [%s], coord printed [%s]", stem, (int)len, p, want,
                         got);
            checked++;
        }
        p = q ? q + strlen(sep) : NULL;
        line = nl ? nl + 1 : NULL;
    }
    printf("%s: %d texts through coord tokenize, all equal\n", stem, checked);
    assert_true(checked > 40);
    free(inp);
    free(out);
}

static void test_vocab_files(void **state)
{
    (void)state;
    char dir[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    check_vocab_file("ggml-vocab-llama-spm", dir);
    check_vocab_file("ggml-vocab-llama-bpe", dir);
    check_vocab_file("ggml-vocab-qwen2", dir);
    lp_test_rmtree(dir);
}

static void test_options(void **state)
{
    (void)state;
    char args[8192], model[4096], vocab[4096], got[OUT_CAP];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(args, sizeof args, "-m '%s' -p 'Once upon a time'", model);
    assert_int_equal(coord(args, got), 0);
    assert_string_equal(got, "1 403 407 261 378\n");

    snprintf(args, sizeof args, "-m '%s' --no-bos -p 'Once upon a time'", model);
    assert_int_equal(coord(args, got), 0);
    assert_string_equal(got, "403 407 261 378\n");

    snprintf(args, sizeof args, "-m '%s' --pieces -p 'Once upon'", model);
    assert_int_equal(coord(args, got), 0);
    assert_string_equal(got, "1 403 407\n1 -> '<s>'\n403 -> ' Once'\n407 -> ' upon'\n");

    const char *bpe = vocab_path("ggml-vocab-llama-bpe", vocab, sizeof vocab);
    snprintf(args, sizeof args, "-m '%s' --special -p 'Hello<|eot_id|>'", bpe);
    assert_int_equal(coord(args, got), 0);
    assert_string_equal(got, "128000 9906 128009\n");
    snprintf(args, sizeof args, "-m '%s' -p 'Hello<|eot_id|>'", bpe);
    assert_int_equal(coord(args, got), 0);
    assert_null(strstr(got, "128009"));
}

static void test_errors(void **state)
{
    (void)state;
    char args[8192], dir[2048], path[4096], vocab[4096], got[OUT_CAP];
    const char *spm = vocab_path("ggml-vocab-llama-spm", vocab, sizeof vocab);

    assert_int_equal(coord("-m /nonexistent/model.gguf -p hi", got), 1);
    snprintf(args, sizeof args, "-m '%s' -p ''", spm);
    assert_int_equal(coord(args, got), 2);
    snprintf(args, sizeof args, "-m '%s' -p \"$(printf 'a\\377')\"", spm);
    assert_int_equal(coord(args, got), 1);
    snprintf(args, sizeof args, "-m '%s'", spm);
    assert_int_equal(coord(args, got), 2);
    assert_int_equal(coord("-p hi", got), 2);
    snprintf(args, sizeof args, "-m '%s' --bogus -p hi", spm);
    assert_int_equal(coord(args, got), 2);
    snprintf(args, sizeof args, "-m '%s' -f /nonexistent/text", spm);
    assert_int_equal(coord(args, got), 1);

    /* a GGUF with no tokenizer in it */
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/no-tok.gguf", dir);
    lp_err err = {{0}};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    assert_non_null(w);
    assert_int_equal(lp_gguf_writer_set_str(w, "general.architecture", "llama", &err), 0);
    assert_int_equal(lp_gguf_writer_write(w, path, &err), 0);
    lp_gguf_writer_free(w);
    char bin[4096], cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p hi 2>&1",
             lp_test_bin(bin, sizeof bin, "coord"), path);
    assert_int_equal(lp_test_run(cmd, got, sizeof got), 1);
    assert_non_null(strstr(got, "no tokenizer"));
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_files),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
