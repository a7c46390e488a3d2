/* `coord quantize` as a user runs it. From the f32/f16 models in shared/,
 * every type gives, tensor by tensor, the types llama.cpp's llama-quantize
 * gave the files there, the same general.file_type, and the very same
 * bytes; where llama.cpp has no file we check the mix its rules give.
 * Those files run in the pool with llama.cpp's greedy ids. Bad input (an
 * unknown type, a quantized or foreign model, an unwritable or full disk,
 * OUT = IN) ends in a clear error and leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "quantize.h"
#include "support.h"
#include "support_ids.h"
#include "support_ref.h"

#define OUT_CAP 65536

typedef struct qtest {
    char dir[4096];
    char out[4200];
} qtest;

static int setup(void **state)
{
    qtest *t = calloc(1, sizeof *t);
    if (!t || !lp_test_tmpdir(t->dir, sizeof t->dir))
        return -1;
    snprintf(t->out, sizeof t->out, "%s/out.gguf", t->dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    qtest *t = *state;
    lp_test_rmtree(t->dir);
    free(t);
    return 0;
}

static char *model(char *buf, size_t cap, const char *stem)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    return lp_test_shared(buf, cap, rel);
}

/* coord quantize ARGS with stderr in out; returns the exit status. */
static int quantize(const char *args, char *out)
{
    char bin[4096], cmd[16384];
    snprintf(cmd, sizeof cmd, "%s quantize %s 2>&1", lp_test_bin(bin, sizeof bin, "coord"),
             args);
    return lp_test_run(cmd, out, OUT_CAP);
}

static int quantize_model(const char *stem, const char *out_path, const char *type, char *out)
{
    char in[4096], args[12288];
    snprintf(args, sizeof args, "%s %s %s -t 2", model(in, sizeof in, stem), out_path, type);
    return quantize(args, out);
}

/* Entries of dir other than `keep` (NULL: none may exist). */
static void assert_dir_holds_only(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (keep && !strcmp(e->d_name, keep)))
            continue;
        closedir(d);
        fail_msg("%s holds '%s', left behind", dir, e->d_name);
    }
    closedir(d);
}

static uint32_t file_type(const lp_gguf *g)
{
    uint32_t ft = 999;
    assert_int_equal(lp_gguf_get_u32(g, "general.file_type", &ft), 0);
    return ft;
}

static const char *tname(uint32_t t)
{
    const lp_type_traits *tt = lp_type_traits_get(t);
    return tt ? tt->name : "?";
}

/* Ours against llama.cpp's: same tensors in the same order with the same
 * types and file_type; and, the strongest, the same bytes. */
static void assert_same_as_llama_cpp(const char *ours, const char *ref)
{
    lp_err err = {0};
    lp_gguf *a = lp_gguf_open(ours, &err), *b = lp_gguf_open(ref, &err);
    if (!a || !b)
        fail_msg("%s", err.msg);
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        const lp_gguf_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        if (x->name.len != y->name.len || memcmp(x->name.ptr, y->name.ptr, x->name.len))
            fail_msg("tensor %llu: %.*s, llama.cpp has %.*s", (unsigned long long)i,
                     (int)x->name.len, x->name.ptr, (int)y->name.len, y->name.ptr);
        if (x->type != y->type)
            fail_msg("%s: %.*s is %s, llama.cpp's %s", ref, (int)x->name.len, x->name.ptr,
                     tname(x->type), tname(y->type));
        if (x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes))
            fail_msg("%s: %.*s (%s): bytes differ", ref, (int)x->name.len, x->name.ptr,
                     tname(x->type));
    }
    assert_int_equal(file_type(a), file_type(b));
    assert_int_equal(a->size, b->size);
    assert_memory_equal(a->base, b->base, a->size); /* kvs and layout too */
    lp_gguf_close(a);
    lp_gguf_close(b);
}

/* The type llama.cpp's rules give a tensor of synth-llama (4 layers,
 * 8 heads / 4 kv heads, rows of 256 or 768) for the mixes it has no file
 * of: Q3_K_S, Q3_K_L, Q5_K_S, and the float types. */
static uint32_t expected_mix(const char *type, const char *name)
{
    bool norm = strstr(name, "_norm") != NULL, out = !strcmp(name, "output.weight");
    if (norm || !strcmp(type, "F32"))
        return LP_TYPE_F32;
    if (!strcmp(type, "F16") || !strcmp(type, "BF16"))
        return !strcmp(type, "F16") ? LP_TYPE_F16 : LP_TYPE_BF16;
    if (out)
        return LP_TYPE_Q6_K;
    if (!strcmp(type, "Q5_K_S"))
        return LP_TYPE_Q5_K;
    if (!strcmp(type, "Q3_K_L") && (strstr(name, "attn_v") || strstr(name, "ffn_down") ||
                                    strstr(name, "attn_output")))
        return LP_TYPE_Q5_K;
    return LP_TYPE_Q3_K;
}

static void assert_mix(const char *path, const char *type, uint32_t ftype)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(path, &err);
    if (!g)
        fail_msg("%s", err.msg);
    assert_int_equal(g->n_tensors, 39);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        char nm[LP_GGUF_MAX_NAME];
        snprintf(nm, sizeof nm, "%.*s", (int)g->tensors[i].name.len, g->tensors[i].name.ptr);
        uint32_t want = expected_mix(type, nm);
        if (g->tensors[i].type != want)
            fail_msg("%s: %s is %s, llama.cpp's rules give %s", type, nm,
                     tname(g->tensors[i].type), tname(want));
    }
    assert_int_equal(file_type(g), ftype);
    lp_gguf_close(g);
}

static void test_synth_llama_every_type(void **state)
{
    qtest *t = *state;
    static const struct { const char *type; uint32_t ftype; bool ref; } k[] = {
        {"Q4_0", 2, true},    {"Q4_1", 3, true},    {"Q5_0", 8, true},
        {"Q5_1", 9, true},    {"Q8_0", 7, true},    {"Q2_K", 10, true},
        {"Q3_K_S", 11, false}, {"Q3_K_M", 12, true}, {"Q3_K_L", 13, false},
        {"Q4_K_S", 14, true}, {"Q4_K_M", 15, true}, {"Q5_K_S", 16, false},
        {"Q5_K_M", 17, true}, {"Q6_K", 18, true},   {"F16", 1, true},
        {"BF16", 32, true},   {"F32", 0, false},
    };
    char *out = malloc(OUT_CAP), ref[4096], stem[64];
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        if (quantize_model("synth-llama-f32", t->out, k[i].type, out) != 0)
            fail_msg("%s: %s", k[i].type, out);
        snprintf(stem, sizeof stem, "synth-llama-%s", k[i].type);
        if (k[i].ref)
            assert_same_as_llama_cpp(t->out, model(ref, sizeof ref, stem));
        else
            assert_mix(t->out, k[i].type, k[i].ftype);
        assert_dir_holds_only(t->dir, "out.gguf");
    }
    print_message("[ quantize ] synth-llama-f32: 13 types byte-equal to llama-quantize's files, "
                  "4 more with its mix\n");
    free(out);
}

static void expect_same(qtest *t, const char *src, const char *type, const char *ref_stem)
{
    char *out = malloc(OUT_CAP), ref[4096];
    if (quantize_model(src, t->out, type, out) != 0)
        fail_msg("%s -> %s: %s", src, type, out);
    assert_same_as_llama_cpp(t->out, model(ref, sizeof ref, ref_stem));
    free(out);
}

/* Rows of 64 and 172 are not multiples of 256: most tensors fall back to
 * q5_0, ffn_down (172) to f16, output.weight to q8_0, as llama.cpp does. */
static void test_stories_fallback(void **state)
{
    expect_same(*state, "stories260K", "Q4_K_M", "stories260K-Q4_K_M");
}

static void test_qwen2_and_tied(void **state)
{
    expect_same(*state, "synth-qwen2-f32", "Q4_K_M", "synth-qwen2-Q4_K_M");
    expect_same(*state, "synth-qwen2-f32", "Q8_0", "synth-qwen2-Q8_0");
    /* f16 source; no output.weight, so token_embd gets output's q6_K */
    expect_same(*state, "synth-llama31-tied-f16", "Q4_K_M", "synth-llama31-tied-Q4_K_M");
}

/* Q2_K/Q3_K rows of 64: llama.cpp falls back to iq4_nl, which we cannot
 * run; we write q4_0 (the same 32-value blocks and size) and say so. */
static void test_iq4_nl_fallback_is_q4_0(void **state)
{
    qtest *t = *state;
    char *out = malloc(OUT_CAP);
    if (quantize_model("stories260K", t->out, "Q2_K", out) != 0)
        fail_msg("%s", out);
    assert_non_null(strstr(out, "iq4_nl"));
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(t->out, &err);
    assert_non_null(g);
    int q4_0 = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        assert_int_not_equal(g->tensors[i].type, 20); /* iq4_nl */
        q4_0 += g->tensors[i].type == LP_TYPE_Q4_0;
    }
    assert_int_equal(q4_0, 31); /* where llama.cpp's file has iq4_nl */
    assert_int_equal(file_type(g), 10);
    lp_gguf_close(g);
    free(out);
}

/* bf16 and (with a warning) q8_0 sources take the same mix. */
static void test_bf16_and_q8_0_sources(void **state)
{
    qtest *t = *state;
    char *out = malloc(OUT_CAP), ref[4096];
    lp_err err = {0};
    const char *src[] = {"synth-llama-BF16", "synth-llama-Q8_0"};
    for (int s = 0; s < 2; s++) {
        if (quantize_model(src[s], t->out, "Q4_K_M", out) != 0)
            fail_msg("%s: %s", src[s], out);
        assert_true((strstr(out, "requantized") != NULL) == (s == 1));
        lp_gguf *a = lp_gguf_open(t->out, &err);
        lp_gguf *b = lp_gguf_open(model(ref, sizeof ref, "synth-llama-Q4_K_M"), &err);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(a->n_tensors, b->n_tensors);
        for (uint64_t i = 0; i < a->n_tensors; i++)
            assert_int_equal(a->tensors[i].type, b->tensors[i].type);
        lp_gguf_close(a);
        lp_gguf_close(b);
    }
    free(out);
}

/* Greedy ids of `coord run` (workers > 0: through a local pool). */
static int greedy(const char *path, const ref_case *c, int workers, int32_t *ids)
{
    char bin[4096], cmd[16384], out[8192];
    int k = snprintf(cmd, sizeof cmd, "%s run -m %s -n %d -c 512 --ids --ignore-eos -t 2 ",
                     lp_test_bin(bin, sizeof bin, "coord"), path, c->n_greedy);
    if (workers)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, "--local-workers %d -b 16 ", workers);
    k += snprintf(cmd + k, sizeof cmd - (size_t)k, "--tokens ");
    for (int i = 0; i < c->n_prompt; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s%d", i ? "," : "", c->prompt[i]);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>/dev/null");
    if (lp_test_run(cmd, out, sizeof out) != 0)
        fail_msg("%s", cmd);
    return lp_test_parse_ids(out, ids, 64);
}

/* Our file and llama.cpp's give the same greedy ids, in one process and
 * through two workers, and they are llama.cpp's own. */
static void greedy_same(qtest *t, const char *src, const char *type, const char *ref_stem)
{
    char *out = malloc(OUT_CAP), ref[4096];
    if (quantize_model(src, t->out, type, out) != 0)
        fail_msg("%s", out);
    ref_model m;
    assert_int_equal(ref_load(ref_stem, &m), 0);
    const ref_case *c = &m.cases[0];
    int32_t theirs[64], ours[64], pooled[64];
    int n = greedy(model(ref, sizeof ref, ref_stem), c, 0, theirs);
    assert_int_equal(greedy(t->out, c, 0, ours), n);
    assert_int_equal(greedy(t->out, c, 2, pooled), n);
    assert_memory_equal(ours, theirs, (size_t)n * sizeof *ours);
    assert_memory_equal(pooled, theirs, (size_t)n * sizeof *ours);
    bool noise;
    assert_int_equal(ref_greedy_mismatch(c, ours, n, &noise), -1);
    print_message("[ quantize ] %s %s: %d greedy ids equal llama.cpp's file's, in one "
                  "process and through 2 workers\n", src, type, n);
    ref_free(&m);
    free(out);
}

static void test_greedy_equals_llama_cpp(void **state)
{
    greedy_same(*state, "stories260K", "Q4_K_M", "stories260K-Q4_K_M");
    greedy_same(*state, "synth-llama-f32", "Q4_0", "synth-llama-Q4_0");
    greedy_same(*state, "synth-llama-f32", "Q6_K", "synth-llama-Q6_K");
}

/* synth-llama-f32 with a token_embd of 33000 rows: 9 MB of Q8_0, more
 * than one of the writer's 8 MB chunks, which ends inside a row. */
#define BIG_ROWS 33000

static float *write_big(const char *path)
{
    char src[4096];
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(model(src, sizeof src, "synth-llama-f32"), &err);
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    float *big = malloc((size_t)BIG_ROWS * 256 * sizeof *big);
    assert_non_null(g);
    assert_non_null(w);
    assert_non_null(big);
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)BIG_ROWS * 256; i++) {
        x = x * 1664525u + 1013904223u;
        big[i] = (float)((int32_t)(x >> 8) - (1 << 23)) / (float)(1 << 23);
    }
    for (uint64_t i = 0; i < g->n_kv; i++)
        assert_int_equal(lp_gguf_writer_add_kv(w, &g->kv[i], &err), 0);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        char nm[LP_GGUF_MAX_NAME];
        snprintf(nm, sizeof nm, "%.*s", (int)t->name.len, t->name.ptr);
        bool emb = !strcmp(nm, "token_embd.weight");
        const uint64_t ne[2] = {256, BIG_ROWS};
        assert_int_equal(lp_gguf_writer_add_tensor(w, nm, t->type, t->n_dims, emb ? ne : t->ne,
                                                   emb ? big : t->data, &err), 0);
    }
    assert_int_equal(lp_gguf_writer_write(w, path, &err), 0);
    lp_gguf_writer_free(w);
    lp_gguf_close(g);
    return big;
}

/* Chunks that cut rows, on three threads, give the bytes of quantizing
 * the whole tensor at once. */
static void test_tensor_larger_than_a_chunk(void **state)
{
    qtest *t = *state;
    char in[4200], args[12288], *out = malloc(OUT_CAP);
    snprintf(in, sizeof in, "%s/big.gguf", t->dir);
    float *big = write_big(in);
    size_t rb = lp_type_row_bytes(LP_TYPE_Q8_0, 256), n = rb * BIG_ROWS;
    assert_true(n > LP_GGUF_FILL_CHUNK && LP_GGUF_FILL_CHUNK % rb != 0);
    uint8_t *want = malloc(n);
    lp_err err = {0};
    assert_int_equal(lp_quantize_rows(LP_TYPE_Q8_0, big, want, BIG_ROWS, 256, &err), 0);
    snprintf(args, sizeof args, "%s %s Q8_0 -t 3", in, t->out);
    if (quantize(args, out) != 0)
        fail_msg("%s", out);
    lp_gguf *g = lp_gguf_open(t->out, &err);
    assert_non_null(g);
    const lp_gguf_tensor *e = lp_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(e);
    assert_int_equal(e->type, LP_TYPE_Q8_0);
    assert_int_equal(e->nbytes, n);
    assert_memory_equal(e->data, want, n);
    lp_gguf_close(g);
    free(want);
    free(big);
    free(out);
}

/* ---- bad input ----------------------------------------------------------- */

static void expect_refusal(qtest *t, const char *args, int status, const char *needle)
{
    char *out = malloc(OUT_CAP);
    int st = quantize(args, out);
    if (st != status || !strstr(out, needle))
        fail_msg("coord quantize %s: status %d (want %d), want '%s' in: %s", args, st, status,
                 needle, out);
    assert_dir_holds_only(t->dir, NULL);
    free(out);
}

static void test_bad_type_and_args(void **state)
{
    qtest *t = *state;
    char in[4096], args[12288];
    model(in, sizeof in, "synth-llama-f32");
    snprintf(args, sizeof args, "%s %s Q4_X", in, t->out);
    expect_refusal(t, args, 2, "valid types: Q4_0 Q4_1");
    snprintf(args, sizeof args, "%s %s IQ2_XXS", in, t->out);
    expect_refusal(t, args, 2, "Q4_K_M");
    snprintf(args, sizeof args, "%s %s Q4_0 -t 0", in, t->out);
    expect_refusal(t, args, 2, "-t");
    snprintf(args, sizeof args, "%s %s", in, t->out);
    expect_refusal(t, args, 2, "usage");
    snprintf(args, sizeof args, "%s %s Q4_0 extra", in, t->out);
    expect_refusal(t, args, 2, "unexpected argument 'extra'");
}

static void test_bad_inputs(void **state)
{
    qtest *t = *state;
    char in[4096], args[12288];
    snprintf(args, sizeof args, "%s/missing.gguf %s Q4_0", t->dir, t->out);
    expect_refusal(t, args, 1, "No such file");
    snprintf(args, sizeof args, "%s %s Q4_0", lp_test_shared(in, sizeof in,
             "models/PROVENANCE.md"), t->out);
    expect_refusal(t, args, 1, "PROVENANCE.md");
    /* already quantized below Q8_0 */
    snprintf(args, sizeof args, "%s %s Q4_0", model(in, sizeof in, "synth-llama-Q4_K_M"), t->out);
    expect_refusal(t, args, 1, "already quantized (q4_K)");
    /* rows of 172 fit no fallback of Q4_0: llama.cpp refuses too */
    snprintf(args, sizeof args, "%s %s Q4_0", model(in, sizeof in, "stories260K"), t->out);
    expect_refusal(t, args, 1, "not a multiple of q4_0's 32");
}

/* A copy of stories260K claiming another architecture. */
static void write_foreign(const char *path)
{
    char src[4096];
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(model(src, sizeof src, "stories260K"), &err);
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    assert_non_null(g);
    assert_non_null(w);
    for (uint64_t i = 0; i < g->n_kv; i++)
        assert_int_equal(lp_gguf_writer_add_kv(w, &g->kv[i], &err), 0);
    assert_int_equal(lp_gguf_writer_set_str(w, "general.architecture", "gpt2", &err), 0);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *x = &g->tensors[i];
        char nm[LP_GGUF_MAX_NAME];
        snprintf(nm, sizeof nm, "%.*s", (int)x->name.len, x->name.ptr);
        assert_int_equal(lp_gguf_writer_add_tensor(w, nm, x->type, x->n_dims, x->ne, x->data,
                                                   &err), 0);
    }
    assert_int_equal(lp_gguf_writer_write(w, path, &err), 0);
    lp_gguf_writer_free(w);
    lp_gguf_close(g);
}

static void test_foreign_architecture(void **state)
{
    qtest *t = *state;
    char in[4200], args[12288], keep[64] = "gpt2.gguf";
    snprintf(in, sizeof in, "%s/%s", t->dir, keep);
    write_foreign(in);
    snprintf(args, sizeof args, "%s %s Q8_0", in, t->out);
    char *out = malloc(OUT_CAP);
    int st = quantize(args, out);
    if (st != 1 || !strstr(out, "architecture 'gpt2' is not supported"))
        fail_msg("status %d: %s", st, out);
    assert_dir_holds_only(t->dir, keep);
    free(out);
}

static void test_bad_outputs(void **state)
{
    qtest *t = *state;
    char in[4096], args[12288];
    model(in, sizeof in, "synth-llama-f32");
    snprintf(args, sizeof args, "%s %s/no/such/dir/out.gguf Q8_0", in, t->dir);
    expect_refusal(t, args, 1, "No such file or directory");
    snprintf(args, sizeof args, "%s %s Q8_0", in, t->dir);
    expect_refusal(t, args, 2, "is a directory");
    snprintf(args, sizeof args, "%s %s Q8_0", in, in);
    expect_refusal(t, args, 2, "is the input file");
    snprintf(args, sizeof args, "%s /proc/out.gguf Q8_0", in);
    expect_refusal(t, args, 1, "/proc/out.gguf");
}

/* OUT naming the input by another path: refused, and the input intact. */
static void test_out_is_in(void **state)
{
    qtest *t = *state;
    char in[4096], copy[4200], other[4300], args[12288];
    snprintf(copy, sizeof copy, "%s/in.gguf", t->dir);
    snprintf(other, sizeof other, "%s/./in.gguf", t->dir);
    snprintf(args, sizeof args, "cp %s %s", model(in, sizeof in, "stories260K"), copy);
    assert_int_equal(system(args), 0);
    snprintf(args, sizeof args, "%s %s Q8_0", copy, other);
    char *out = malloc(OUT_CAP);
    assert_int_equal(quantize(args, out), 2);
    assert_non_null(strstr(out, "is the input file"));
    assert_dir_holds_only(t->dir, "in.gguf");
    size_t a, b;
    char *x = lp_test_read_file(in, &a), *y = lp_test_read_file(copy, &b);
    assert_int_equal(a, b);
    assert_memory_equal(x, y, a);
    free(x);
    free(y);
    free(out);
}

/* A full disk, as a file size limit: the write fails cleanly (EFBIG, not
 * a SIGXFSZ kill) and no partial or temporary file is left. */
static void test_disk_full(void **state)
{
    qtest *t = *state;
    char bin[4096], in[4096], cmd[16384], *out = malloc(OUT_CAP);
    snprintf(cmd, sizeof cmd, "ulimit -f 512 && %s quantize %s %s Q8_0 2>&1",
             lp_test_bin(bin, sizeof bin, "coord"), model(in, sizeof in, "synth-llama-f32"),
             t->out);
    int st = lp_test_run(cmd, out, OUT_CAP);
    if (st != 1 || !strstr(out, "File too large") || !strstr(out, "nothing written"))
        fail_msg("status %d: %s", st, out);
    assert_dir_holds_only(t->dir, NULL);
    free(out);
}

static void test_help(void **state)
{
    (void)state;
    char *out = malloc(OUT_CAP);
    assert_int_equal(quantize("--help", out), 0);
    assert_non_null(strstr(out, "Q4_K_M"));
    assert_non_null(strstr(out, "Q3_K_L"));
    assert_non_null(strstr(out, "-t, --threads"));
    free(out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_synth_llama_every_type), T(test_stories_fallback),
        T(test_qwen2_and_tied),         T(test_iq4_nl_fallback_is_q4_0),
        T(test_bf16_and_q8_0_sources),  T(test_greedy_equals_llama_cpp),
        T(test_tensor_larger_than_a_chunk), T(test_bad_type_and_args),
        T(test_bad_inputs),
        T(test_foreign_architecture),   T(test_bad_outputs),
        T(test_out_is_in),              T(test_disk_full),
        T(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
