/* coord perplexity as a user runs it, against llama-perplexity's figures in
 * shared/reference/README.md (parsed from it, not copied here): PPL of
 * stories260K and its Q4_K_M at -c 128, and at -c 256 the Q4_K_M's KL
 * divergence from the F32, the share of positions whose top token agrees
 * and the PPL ratio. Through a local pool of two workers the output is the
 * single process's, line for line. Bad input ends in a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define OUT_CAP (1 << 16)

typedef struct readme_figs {
    double ppl[2][2], err[2][2]; /* [F32, Q4_K_M][ctx 128, ctx 256] */
    double kld, kld_err, same_top, same_top_err, ratio;
} readme_figs;

static readme_figs REF;

static const char *const MODELS[2] = {"stories260K", "stories260K-Q4_K_M"};

static char *shared(char *buf, size_t cap, const char *rel)
{
    return lp_test_shared(buf, cap, rel);
}

/* The number after `label` in s (skipping spaces, ':' and '='); fails the
 * test if the label is missing. */
static double after(const char *s, const char *label)
{
    const char *p = strstr(s, label);
    if (!p)
        fail_msg("'%s' not found in:\n%s", label, s);
    p += strlen(label);
    while (*p == ' ' || *p == ':' || *p == '=' || *p == '\n')
        p++;
    return strtod(p, NULL);
}

static int load_readme(void **state)
{
    (void)state;
    char path[4096];
    size_t len;
    char *t = lp_test_read_file(shared(path, sizeof path, "reference/README.md"), &len);
    if (!t)
        return -1;
    const char *rows[2] = {"| stories260K.gguf (F32) |", "| stories260K-Q4_K_M.gguf |"};
    int ok = 1;
    for (int m = 0; m < 2; m++) {
        const char *r = strstr(t, rows[m]);
        ok = ok && r && sscanf(r + strlen(rows[m]), " PPL %lf ± %lf | PPL %lf ± %lf",
                               &REF.ppl[m][0], &REF.err[m][0], &REF.ppl[m][1],
                               &REF.err[m][1]) == 4;
    }
    const char *k = strstr(t, "mean KLD");
    ok = ok && k && sscanf(k, "mean KLD %lf ± %lf, same top token %lf ± %lf", &REF.kld,
                           &REF.kld_err, &REF.same_top, &REF.same_top_err) == 4;
    const char *q = strstr(t, "mean PPL(Q)/PPL(base)");
    ok = ok && q && sscanf(q, "mean PPL(Q)/PPL(base) %lf", &REF.ratio) == 1;
    free(t);
    return ok ? 0 : -1;
}

/* Run coord perplexity with args; returns its exit status, output in out. */
static int coord(const char *args, bool with_stderr, char *out)
{
    char bin[4096], cmd[24576];
    snprintf(cmd, sizeof cmd, "%s perplexity %s %s", lp_test_bin(bin, sizeof bin, "coord"),
             args, with_stderr ? "2>&1" : "2>/dev/null");
    return lp_test_run(cmd, out, OUT_CAP);
}

static void model_args(char *buf, size_t cap, int m, const char *rest)
{
    char model[4096], rel[256], text[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", MODELS[m]);
    snprintf(buf, cap, "-m %s -f %s %s", shared(model, sizeof model, rel),
             shared(text, sizeof text, "corpus/tinystories_val_head40k.txt"), rest);
}

/* Our figure equals llama.cpp's as printed (half a unit of its last digit):
 * the forward pass reproduces its logits, so nothing looser is needed. The
 * issue's bar, 0.5 %, is printed for the record. */
static void expect_printed(const char *what, double ours, double ref, double unit)
{
    print_message("[ ppl ] %-28s ours %.6f llama.cpp %.6f (%.4f %% apart)\n", what, ours, ref,
                  100.0 * fabs(ours - ref) / ref);
    if (!(fabs(ours - ref) <= 0.5 * unit + 1e-12))
        fail_msg("%s: %.6f, llama.cpp %.6f", what, ours, ref);
}

static void test_ppl_ctx128(void **state)
{
    (void)state;
    char args[16384], *out = malloc(OUT_CAP);
    assert_non_null(out);
    for (int m = 0; m < 2; m++) {
        model_args(args, sizeof args, m, "-c 128");
        int st = coord(args, true, out);
        if (st != 0)
            fail_msg("%s: exit %d: %s", MODELS[m], st, out);
        assert_non_null(strstr(out, "[148]")); /* every window, as llama.cpp's 148 chunks */
        char what[64];
        snprintf(what, sizeof what, "%s PPL c128", MODELS[m]);
        expect_printed(what, after(out, "Final estimate: PPL"), REF.ppl[m][0], 1e-4);
        snprintf(what, sizeof what, "%s +/- c128", MODELS[m]);
        expect_printed(what, after(out, "+/-"), REF.err[m][0], 1e-4);
    }
    free(out);
}

/* Q4_K_M against F32 at -c 256: the KL figures, and both models' PPL at
 * 256 as the KL run reports them. */
static void test_kld_ctx256(void **state)
{
    (void)state;
    char args[16384], base[4096], rest[4200], *out = malloc(OUT_CAP);
    assert_non_null(out);
    snprintf(rest, sizeof rest, "-c 256 --kl-base %s",
             shared(base, sizeof base, "models/stories260K.gguf"));
    model_args(args, sizeof args, 1, rest);
    int st = coord(args, true, out);
    if (st != 0)
        fail_msg("exit %d: %s", st, out);
    expect_printed("mean KLD", after(out, "Mean    KLD"), REF.kld, 1e-6);
    const char *kl = strstr(out, "Mean    KLD");
    assert_non_null(kl);
    expect_printed("KLD +/-", after(kl, "±"), REF.kld_err, 1e-6);
    expect_printed("same top token %", after(out, "Same top p:"), REF.same_top, 1e-3);
    expect_printed("PPL(Q)/PPL(base)", after(out, "Mean PPL(Q)/PPL(base)"), REF.ratio, 1e-6);
    expect_printed("Q4_K_M PPL c256", after(out, "Mean PPL(Q)"), REF.ppl[1][1], 1e-4);
    expect_printed("F32 PPL c256", after(out, "Mean PPL(base)"), REF.ppl[0][1], 1e-4);
    free(out);
}

/* Two workers print what one process prints, every running value (PPL)
 * and every per-window line (KL, with rows split over two Results per
 * window at -c 256). A few windows suffice: the sanitizer build is slow. */
static void test_pool_equals_single(void **state)
{
    (void)state;
    char args[16384], pooled[16448], base[4096], rest[4200];
    char *one = malloc(OUT_CAP), *two = malloc(OUT_CAP);
    assert_non_null(one);
    assert_non_null(two);
    snprintf(rest, sizeof rest, "-c 256 --chunks 2 --kl-base %s",
             shared(base, sizeof base, "models/stories260K.gguf"));
    const char *cases[2] = {"-c 128 --chunks 12", rest};
    for (int i = 0; i < 2; i++) {
        model_args(args, sizeof args, 1, cases[i]);
        snprintf(pooled, sizeof pooled, "%s --local-workers 2", args);
        int st1 = coord(args, false, one), st2 = coord(pooled, false, two);
        assert_int_equal(st1, 0);
        if (st2 != 0) {
            coord(pooled, true, two);
            fail_msg("pool: exit %d: %s", st2, two);
        }
        assert_true(strlen(one) > 100);
        if (strcmp(one, two) != 0)
            fail_msg("pool differs from one process:\n%s\n---\n%s", one, two);
    }
    print_message("[ ppl ] 2 workers: PPL and KL output equal the single process's\n");
    free(one);
    free(two);
}

/* A copy of stories260K with one token's text changed: same size of
 * vocabulary, different vocabulary. */
static void write_other_vocab(const char *dir, char *path, size_t cap)
{
    char src[4096];
    size_t len;
    unsigned char *g = lp_test_read_file(shared(src, sizeof src, "models/stories260K.gguf"),
                                         &len);
    assert_non_null(g);
    unsigned char *hit = memmem(g, len, "\xe2\x96\x81Once", 7); /* "▁Once" */
    assert_non_null(hit);
    hit[3] = 'Q';
    snprintf(path, cap, "%s/other-vocab.gguf", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(g, 1, len, f), len);
    fclose(f);
    free(g);
}

static void expect_error(const char *args, int status, const char *says)
{
    char *out = malloc(OUT_CAP);
    assert_non_null(out);
    int st = coord(args, true, out);
    if (st != status || !strstr(out, says))
        fail_msg("coord perplexity %s: exit %d (want %d), output lacks '%s':\n%s", args, st,
                 status, says, out);
    free(out);
}

static void test_bad_input(void **state)
{
    (void)state;
    char dir[4096], model[4096], args[16384], other[4200], tiny[4200], extra[4400];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(args, sizeof args, "-m %s -f %s/none.txt -c 128", model, dir);
    expect_error(args, 1, "cannot open");
    snprintf(tiny, sizeof tiny, "%s/tiny.txt", dir);
    FILE *f = fopen(tiny, "w");
    assert_non_null(f);
    fputs("Once upon a time there was a little girl named Lily.", f);
    fclose(f);
    snprintf(args, sizeof args, "-m %s -f %s -c 128", model, tiny);
    expect_error(args, 1, "needs at least 256");
    const char *bad_ctx[] = {"-c 127", "-c 2", "-c 0"};
    for (size_t i = 0; i < sizeof bad_ctx / sizeof bad_ctx[0]; i++) {
        model_args(args, sizeof args, 0, bad_ctx[i]);
        expect_error(args, 2, bad_ctx[i][3] == '0' ? "not an integer" : "even number");
    }
    model_args(args, sizeof args, 0, "-c 4096");
    expect_error(args, 1, "larger than the model's context of 2048");
    write_other_vocab(dir, other, sizeof other);
    snprintf(extra, sizeof extra, "-c 128 --kl-base %s", other);
    model_args(args, sizeof args, 0, extra);
    expect_error(args, 1, "needs the same vocabulary");
    snprintf(extra, sizeof extra, "-c 128 --kl-base %s/none.gguf", dir);
    model_args(args, sizeof args, 0, extra);
    expect_error(args, 1, "none.gguf");
    snprintf(args, sizeof args, "-m %s -c 128", model);
    expect_error(args, 2, "-f FILE");
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ppl_ctx128),
        cmocka_unit_test(test_kld_ctx256),
        cmocka_unit_test(test_pool_equals_single),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, load_readme, NULL);
}
