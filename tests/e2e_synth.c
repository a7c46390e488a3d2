/* `coord synth` as a user runs it: the tiny shape in every file type is a
 * GGUF our reader parses, whose weights dequantize to the intended
 * magnitudes, that `coord inspect` and `coord run` take, with finite
 * logits even 80 layers deep; a seed repeats its bytes whatever the thread
 * count; dry runs of the real shapes come out at the real files' sizes;
 * and bad input ends in a clear error with no file left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "generate.h"
#include "gguf.h"
#include "quant.h"
#include "quant_mix.h"
#include "shard.h"
#include "support.h"
#include "synth_internal.h"

static char g_dir[4096]; /* this run's scratch directory */

/* Runs `coord ARGS` (stdout and stderr together into out). */
static int coord(const char *args, char *out, size_t cap)
{
    char bin[4096], cmd[16384];
    int k = snprintf(cmd, sizeof cmd, "%s %s 2>&1", lp_test_bin(bin, sizeof bin, "coord"), args);
    if (k < 0 || (size_t)k >= sizeof cmd)
        fail_msg("command too long: %s", args);
    return lp_test_run(cmd, out, cap);
}

static void must_coord(const char *args, char *out, size_t cap)
{
    int st = coord(args, out, cap);
    if (st != 0)
        fail_msg("coord %s: status %d: %s", args, st, out);
}

/* The "total: N bytes ..., P params" line synth prints. */
static void parse_total(const char *out, uint64_t *bytes, uint64_t *params)
{
    const char *t = strstr(out, "total: ");
    assert_non_null(t);
    unsigned long long b = 0, p = 0;
    const char *pp = strstr(t, "tensors, ");
    assert_non_null(pp);
    assert_int_equal(sscanf(t, "total: %llu bytes", &b), 1);
    assert_int_equal(sscanf(pp, "tensors, %llu params", &p), 1);
    *bytes = b;
    *params = p;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- every type ---------------------------------------------------------- */

/* Every weight matrix dequantizes to mean ~0 and std ~1/sqrt(row length)
 * (what synth aims for); norms are exactly 1. */
static void check_weights(const lp_gguf *g, const char *ftype)
{
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        int64_t n0 = (int64_t)t->ne[0];
        size_t rb = lp_type_row_bytes(t->type, n0);
        float *row = malloc(sizeof *row * (size_t)n0);
        double sum = 0, sq = 0, n = 0;
        for (uint64_t r = 0; r < t->ne[1]; r++) {
            const uint8_t *src = (const uint8_t *)t->data + r * rb;
            assert_int_equal(lp_dequantize_row((lp_type)t->type, src, row, n0), 0);
            for (int64_t j = 0; j < n0; j++) {
                if (!isfinite(row[j]))
                    fail_msg("%s: %.*s: weight %" PRIu64 ",%lld is %g", ftype,
                             (int)t->name.len, t->name.ptr, r, (long long)j, (double)row[j]);
                sum += row[j], sq += (double)row[j] * row[j], n++;
            }
        }
        free(row);
        double mean = sum / n, sd = sqrt(sq / n - mean * mean);
        if (t->n_dims == 1 && memmem(t->name.ptr, t->name.len, "norm.weight", 11)) {
            assert_true(mean == 1.0 && sd == 0.0);
        } else if (t->n_dims == 2) {
            double want = 1.0 / sqrt((double)n0);
            if (!(fabs(sd / want - 1.0) < 0.1 && fabs(mean) < 0.05 * want))
                fail_msg("%s: %.*s (%s): mean %g std %g, want 0 and %g", ftype,
                         (int)t->name.len, t->name.ptr, lp_type_traits_get(t->type)->name,
                         mean, sd, want);
        }
    }
}

/* A few tokens through the model in-process: logits finite and spread
 * like a model's (neither all equal nor huge). */
static void check_logits(const char *path, const char *what)
{
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.n_ctx = 64;
    lp_err err = {{0}};
    lp_shard *s = lp_shard_open(path, &o, &err);
    if (!s)
        fail_msg("%s: %s", what, err.msg);
    int slot = lp_kv_open(s->kv, 1, &err);
    assert_true(slot >= 0);
    const int32_t prompt[] = {1, 300, 301, 302, 400, 259, 3};
    const float *logits;
    if (lp_prefill(s, slot, prompt, 7, &logits, &err) != 0)
        fail_msg("%s: %s", what, err.msg);
    int nv = (int)s->model->hp.n_vocab;
    double sum = 0, sq = 0;
    for (int i = 0; i < nv; i++) {
        if (!isfinite(logits[i]))
            fail_msg("%s: logit %d is %g", what, i, (double)logits[i]);
        sum += logits[i], sq += (double)logits[i] * logits[i];
    }
    double sd = sqrt(sq / nv - (sum / nv) * (sum / nv));
    if (!(sd > 0.2 && sd < 20.0))
        fail_msg("%s: logits' std %g is not a model's", what, sd);
    lp_kv_close(s->kv, slot);
    lp_shard_close(s);
}

/* Our tiny shape is that of shared/models/synth-llama-*.gguf, which
 * llama-quantize wrote: same tensors, order, shapes and types. Returns
 * whether there was such a file to compare with. */
static bool same_table_as_llama_quantize(const lp_gguf *g, const char *ftype)
{
    char rel[128], path[4096];
    if (!strcmp(ftype, "F32")) /* synth-llama-f32 is the converter's source, not its output */
        return false;
    snprintf(rel, sizeof rel, "models/synth-llama-%s.gguf", ftype);
    lp_err err = {{0}};
    lp_gguf *ref = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    if (!ref)
        return false;
    assert_int_equal(g->n_tensors, ref->n_tensors);
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        const lp_gguf_tensor *a = &g->tensors[k], *b = &ref->tensors[k];
        if (!(a->name.len == b->name.len && !memcmp(a->name.ptr, b->name.ptr, a->name.len) &&
              a->type == b->type && a->n_dims == b->n_dims && a->ne[0] == b->ne[0] &&
              a->ne[1] == b->ne[1]))
            fail_msg("%s: tensor %" PRIu64 " is %.*s %s, llama-quantize's %.*s %s", ftype, k,
                     (int)a->name.len, a->name.ptr, lp_type_traits_get(a->type)->name,
                     (int)b->name.len, b->name.ptr, lp_type_traits_get(b->type)->name);
    }
    lp_gguf_close(ref);
    return true;
}

static int one_type(lp_ftype ft)
{
    const char *name = lp_ftype_name(ft);
    char path[4300], args[8800], out[16384];
    snprintf(path, sizeof path, "%s/tiny-%s.gguf", g_dir, name);
    snprintf(args, sizeof args, "synth --shape tiny -t %s -o %s", name, path);
    must_coord(args, out, sizeof out);
    uint64_t bytes, params;
    parse_total(out, &bytes, &params);
    assert_int_equal(bytes, file_size(path)); /* the reported size is exact */
    snprintf(args, sizeof args, "synth --shape tiny -t %s --dry-run", name);
    must_coord(args, out, sizeof out);
    uint64_t dry_bytes;
    parse_total(out, &dry_bytes, &params);
    assert_int_equal(dry_bytes, bytes);

    lp_err err = {{0}};
    lp_gguf *g = lp_gguf_open(path, &err);
    if (!g)
        fail_msg("%s: %s", name, err.msg);
    uint32_t ft_kv = 99;
    assert_int_equal(lp_gguf_get_u32(g, "general.file_type", &ft_kv), 0);
    assert_int_equal(ft_kv, (uint32_t)ft);
    int compared = same_table_as_llama_quantize(g, name);
    check_weights(g, name);
    lp_gguf_close(g);

    snprintf(args, sizeof args, "inspect %s", path);
    must_coord(args, out, sizeof out);
    assert_non_null(strstr(out, "architecture:     llama"));
    check_logits(path, name);
    snprintf(args, sizeof args, "run -m %s -p 'hello world' -n 6 --ignore-eos --ids", path);
    must_coord(args, out, sizeof out);
    int commas = 0;
    for (const char *p = out; *p && *p != '\n'; p++)
        commas += *p == ',';
    if (commas != 5)
        fail_msg("%s: coord run printed: %s", name, out);
    return compared;
}

static void test_tiny_every_type(void **state)
{
    (void)state;
    int compared = 0;
    for (int i = 0; i < lp_ftype_count(); i++)
        compared += one_type(lp_ftype_at(i));
    assert_true(compared >= 13); /* the shared files cover 13 of the 17 */
    print_message("[ synth ] tiny in %d file types: parsed, weights as intended, inspect "
                  "and run work, logits finite; %d tensor tables equal llama-quantize's\n",
                  lp_ftype_count(), compared);
}

/* Pre-norm residual sums grow only as sqrt(layers) with these weights. */
static void test_deep_stays_finite(void **state)
{
    (void)state;
    char path[4300], args[8800], out[16384];
    snprintf(path, sizeof path, "%s/deep.gguf", g_dir);
    snprintf(args, sizeof args, "synth --shape tiny --layers 80 -t Q4_K_M -o %s", path);
    must_coord(args, out, sizeof out);
    check_logits(path, "tiny, 80 layers");
    unlink(path);
}

/* rope_freqs against Hugging Face's own formulation of Llama 3 scaling
 * (transformers' _compute_llama3_parameters, in double): it scales the
 * inverse frequencies down, and the factor is their ratio. */
static void test_rope_freqs(void **state)
{
    (void)state;
    const char *names[] = {"llama3-1b", "llama3-8b", "llama3-70b"};
    for (int k = 0; k < 3; k++) {
        const lp_synth_shape *sh = lp_synth_shape_find(names[k]);
        assert_non_null(sh);
        float got[512];
        synth_rope_factors(sh, got);
        double lo_wl = sh->rope_orig_ctx / sh->rope_low, hi_wl = sh->rope_orig_ctx / sh->rope_high;
        int n_one = 0, n_full = 0;
        for (uint32_t i = 0; i < sh->head_dim / 2; i++) {
            double inv = 1.0 / pow(sh->rope_base, 2.0 * i / sh->head_dim), wl = 2 * M_PI / inv;
            double scaled = wl > lo_wl ? inv / sh->rope_factor : inv;
            if (wl >= hi_wl && wl <= lo_wl) {
                double smooth = (sh->rope_orig_ctx / wl - sh->rope_low) /
                                (sh->rope_high - sh->rope_low);
                scaled = (1 - smooth) * inv / sh->rope_factor + smooth * inv;
            }
            double want = inv / scaled;
            if (!(fabs(got[i] / want - 1.0) < 1e-5))
                fail_msg("%s: rope factor %u is %.7g, want %.7g", names[k], i, (double)got[i],
                         want);
            n_one += got[i] == 1.0f;
            n_full += got[i] == sh->rope_factor;
        }
        assert_true(n_one > 0 && n_full > 0); /* both ends of the blend occur */
    }
}

/* ---- determinism ----------------------------------------------------------- */

static void *synth_bytes(const char *extra, size_t *len)
{
    char path[4300], args[8800], out[4096];
    snprintf(path, sizeof path, "%s/seed.gguf", g_dir);
    snprintf(args, sizeof args, "synth --shape tiny -t Q5_K_M -o %s %s", path, extra);
    must_coord(args, out, sizeof out);
    void *b = lp_test_read_file(path, len);
    assert_non_null(b);
    unlink(path);
    return b;
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    size_t n1, n2, n3;
    uint8_t *a = synth_bytes("--seed 7 -j 1", &n1);
    uint8_t *b = synth_bytes("--seed 7 -j 3", &n2);
    uint8_t *c = synth_bytes("--seed 8 -j 2", &n3);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(a, b, n1);
    assert_memory_not_equal(a, c, n1);
    free(a);
    free(b);
    free(c);
}

/* ---- real shapes ----------------------------------------------------------- */

/* Parameters of a llama-family model from its config.json numbers. */
typedef struct cfg {
    uint64_t e, layers, heads, kv_heads, hd, ff, vocab;
    bool tied, bias, rope_freqs;
} cfg;

static uint64_t params_of(cfg c)
{
    uint64_t q = c.heads * c.hd, kv = c.kv_heads * c.hd;
    uint64_t layer = c.e * q + 2 * c.e * kv + q * c.e + 3 * c.e * c.ff + 2 * c.e /* norms */ +
                     (c.bias ? q + 2 * kv : 0);
    return c.vocab * c.e * (c.tied ? 1 : 2) + c.e + c.layers * layer +
           (c.rope_freqs ? c.hd / 2 : 0);
}

static void dry_run(const char *shape, const char *type, uint64_t *bytes, uint64_t *params)
{
    char args[256], out[65536];
    snprintf(args, sizeof args, "synth --shape %s -t %s --dry-run", shape, type);
    must_coord(args, out, sizeof out);
    parse_total(out, bytes, params);
}

static void expect_near(const char *what, uint64_t got, double want, double tol)
{
    if (!(fabs((double)got / want - 1.0) <= tol))
        fail_msg("%s: %" PRIu64 " bytes, want %.0f +- %.0f%%", what, got, want, tol * 100);
}

static void test_real_shape_sizes(void **state)
{
    (void)state;
    uint64_t b, p;
    /* Llama-3.1-70B: llama.cpp's Q4_K_M file is 42.5 GB */
    dry_run("llama3-70b", "Q4_K_M", &b, &p);
    assert_int_equal(p, params_of((cfg){8192, 80, 64, 8, 128, 28672, 128256, .rope_freqs = true}));
    expect_near("llama3-70b Q4_K_M", b, 42.5e9, 0.03);
    /* Llama-3.1-8B: 4.92 GB */
    dry_run("llama3-8b", "Q4_K_M", &b, &p);
    assert_int_equal(p, params_of((cfg){4096, 32, 32, 8, 128, 14336, 128256, .rope_freqs = true}));
    expect_near("llama3-8b Q4_K_M", b, 4.92e9, 0.03);
    /* Llama-3.2-1B (tied): Q8_0 is 34 bytes per 32 weights */
    dry_run("llama3-1b", "Q8_0", &b, &p);
    assert_int_equal(p, params_of((cfg){2048, 16, 32, 8, 64, 8192, 128256, .tied = true,
                                         .rope_freqs = true}));
    expect_near("llama3-1b Q8_0", b, (double)p * 34.0 / 32.0, 0.01);
    /* Qwen2.5-7B: q/k/v biases; no rope_freqs */
    dry_run("qwen2.5-7b", "Q8_0", &b, &p);
    assert_int_equal(p, params_of((cfg){3584, 28, 28, 4, 128, 18944, 152064, .bias = true}));
    expect_near("qwen2.5-7b Q8_0", b, (double)p * 34.0 / 32.0, 0.01);
}

/* ---- vocabularies ----------------------------------------------------------- */

/* --vocab copies a real tokenizer: the file then tokenizes as its source. */
static void test_vocab_file(void **state)
{
    (void)state;
    char path[4300], src[4096], args[16384], out[8192], want[8192];
    snprintf(path, sizeof path, "%s/vocab.gguf", g_dir);
    lp_test_shared(src, sizeof src, "models/stories260K.gguf");
    snprintf(args, sizeof args, "synth --shape tiny -t Q8_0 --vocab %s -o %s", src, path);
    must_coord(args, out, sizeof out);
    snprintf(args, sizeof args, "tokenize -m %s -p 'Once upon a time, a girl'", src);
    must_coord(args, want, sizeof want);
    snprintf(args, sizeof args, "tokenize -m %s -p 'Once upon a time, a girl'", path);
    must_coord(args, out, sizeof out);
    assert_string_equal(out, want);
    unlink(path);
}

/* A vocabulary smaller than the shape's is padded as convert_hf_to_gguf.py
 * pads (Qwen2.5's 152064 rows over a 151669-token tokenizer). */
static void test_vocab_padded(void **state)
{
    (void)state;
    char small[4300], path[4300], src[4096], args[16384], out[8192];
    snprintf(small, sizeof small, "%s/small-vocab.gguf", g_dir);
    snprintf(path, sizeof path, "%s/padded.gguf", g_dir);
    lp_err err = {{0}};
    lp_gguf *g = lp_gguf_open(lp_test_shared(src, sizeof src, "models/stories260K.gguf"), &err);
    assert_non_null(g);
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        lp_gguf_kv kv = g->kv[i];
        if (kv.key.len < 10 || memcmp(kv.key.ptr, "tokenizer.", 10))
            continue;
        if (kv.val.type == LP_GGUF_ARRAY && kv.val.v.arr.n == 512) { /* keep 500 */
            lp_gguf_arr *a = &kv.val.v.arr;
            a->nbytes = a->offsets ? a->offsets[500] : 500 * (a->nbytes / 512);
            a->n = 500;
        }
        assert_int_equal(lp_gguf_writer_add_kv(w, &kv, &err), 0);
    }
    assert_int_equal(lp_gguf_writer_write(w, small, &err), 0);
    lp_gguf_writer_free(w);
    lp_gguf_close(g);

    snprintf(args, sizeof args, "synth --shape tiny -t Q4_0 --vocab %s -o %s", small, path);
    must_coord(args, out, sizeof out);
    g = lp_gguf_open(path, &err);
    assert_non_null(g);
    lp_gguf_arr tok, type;
    lp_str s;
    int64_t ty;
    assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.tokens", &tok), 0);
    assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.token_type", &type), 0);
    assert_int_equal(tok.n, 512);
    assert_int_equal(lp_gguf_arr_str(&tok, 511, &s), 0);
    assert_true(lp_str_eq(s, "[PAD511]"));
    assert_int_equal(lp_gguf_arr_i64(&type, 500, &ty), 0);
    assert_int_equal(ty, 5);
    lp_gguf_close(g);
    check_logits(path, "padded vocabulary");
    unlink(path);
    unlink(small);
}

/* ---- bad input ---------------------------------------------------------- */

/* No file under the scratch dir starting with `stem` (nor its temp file). */
static void expect_no_file(const char *stem)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, stem, strlen(stem)))
            fail_msg("left behind: %s", e->d_name);
    closedir(d);
}

static void expect_error(const char *args, int want, const char *needle)
{
    char out[16384];
    int st = coord(args, out, sizeof out);
    if (st != want || !strstr(out, needle))
        fail_msg("coord %s: status %d (want %d), output: %s", args, st, want, out);
}

static void test_bad_input(void **state)
{
    (void)state;
    char args[8800], sh[9000], bin[4096], out[8192], notdir[4300];
    snprintf(args, sizeof args, "synth --shape llama9-1t -t Q4_0 -o %s/bad.gguf", g_dir);
    expect_error(args, 2, "unknown shape 'llama9-1t'");
    snprintf(args, sizeof args, "synth --shape tiny -t Q4_9 -o %s/bad.gguf", g_dir);
    expect_error(args, 2, "unknown type 'Q4_9'");
    expect_error("synth --shape tiny -t Q4_0", 2, "-o are required");
    expect_error("synth --shape tiny -t Q4_0 --seed x -o x.gguf", 2, "--seed");
    snprintf(args, sizeof args, "synth --shape tiny -t Q4_0 --vocab %s/none.gguf -o %s/bad.gguf",
             g_dir, g_dir);
    expect_error(args, 1, "--vocab");
    snprintf(args, sizeof args, "synth --shape llama3-8b -t Q4_0 --layers 1 --vocab %s --dry-run",
             lp_test_shared(sh, sizeof sh, "models/stories260K.gguf"));
    expect_error(args, 0, "total: ");                          /* 512 tokens: padded */
    snprintf(args, sizeof args, "synth --shape tiny -t Q4_0 --vocab %s --dry-run",
             lp_test_shared(sh, sizeof sh, "vocab/ggml-vocab-llama-bpe.gguf"));
    expect_error(args, 1, "more than the shape's vocabulary of 512");
    /* a path whose directory is a file */
    snprintf(notdir, sizeof notdir, "%s/plainfile", g_dir);
    FILE *f = fopen(notdir, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(args, sizeof args, "synth --shape tiny -t Q4_0 -o %s/bad.gguf", notdir);
    expect_error(args, 1, "cannot write in");
    unlink(notdir);
    expect_no_file("bad");

    /* Too little room (a file size limit stands in for a full disk): refused
     * up front, or, past the check, the write fails and cleans up. */
    lp_test_bin(bin, sizeof bin, "coord");
    snprintf(sh, sizeof sh, "trap '' XFSZ; ulimit -f 64; %s synth --shape tiny -t Q8_0 "
             "-o %s/full.gguf 2>&1", bin, g_dir);
    int st = lp_test_run(sh, out, sizeof out);
    if (st != 1 || !strstr(out, "file size limit"))
        fail_msg("ulimit: status %d: %s", st, out);
    expect_no_file("full");
    snprintf(sh, sizeof sh, "trap '' XFSZ; ulimit -f 64; %s synth --shape tiny -t Q8_0 "
             "--no-space-check -o %s/full.gguf 2>&1", bin, g_dir);
    st = lp_test_run(sh, out, sizeof out);
    if (st != 1 || !strstr(out, "File too large"))
        fail_msg("ulimit, no check: status %d: %s", st, out);
    expect_no_file("full");
}

/* Ctrl-C mid-write: the write stops at the next chunk, the temporary file
 * goes, the status says so. */
static void test_interrupt_leaves_nothing(void **state)
{
    (void)state;
    char bin[4096], sh[32768], out[8192];
    lp_test_bin(bin, sizeof bin, "coord");
    int k = snprintf(sh, sizeof sh,
             "%s synth --shape llama3-1b --layers 4 -t Q8_0 -o %s/int.gguf 2>%s/int.log & p=$!; "
             "i=0; while ! ls %s | grep -q 'int.gguf.tmp' && [ $i -lt 3000 ]; do "
             "sleep 0.01; i=$((i+1)); done; kill -INT $p; wait $p; echo \"status $?\"; "
             "cat %s/int.log; rm -f %s/int.log",
             bin, g_dir, g_dir, g_dir, g_dir, g_dir);
    assert_true(k > 0 && (size_t)k < sizeof sh);
    lp_test_run(sh, out, sizeof out);
    if (!strstr(out, "status 1") || !strstr(out, "interrupted"))
        fail_msg("SIGINT: %s", out);
    expect_no_file("int");
}

static int setup(void **state)
{
    (void)state;
    return lp_test_tmpdir(g_dir, sizeof g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lp_test_rmtree(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_every_type),
        cmocka_unit_test(test_deep_stays_finite),
        cmocka_unit_test(test_rope_freqs),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_real_shape_sizes),
        cmocka_unit_test(test_vocab_file),
        cmocka_unit_test(test_vocab_padded),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_interrupt_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
