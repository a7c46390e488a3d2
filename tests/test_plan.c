/* The shard planner: model descriptions from the real GGUF headers, plans
 * that cover every layer once in worker order within every budget, layer
 * counts in proportion to speed, the planner's choice against a brute-force
 * search when memory binds, the 70B-shaped model over 3x16 GiB (fits) and
 * 2x16 GiB (does not, by a shortfall computed here by hand), synth shapes
 * (--shape) counted from the very tensors coord synth plans and equal to
 * llama-quantize's files where shared/ has one of that shape, and the
 * compute-buffer estimate against what lp_run_new really allocates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kernels.h"
#include "model.h"
#include "plan.h"
#include "synth_plan.h"
#include "threadpool.h"
#include "size.h"
#include "support.h"
#include "synth.h"
#include "vec.h"

#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)

/* Every *.gguf in shared/models, sorted; caller frees each and the list. */
static int model_files(char ***out)
{
    char dir[4096];
    lp_test_shared(dir, sizeof dir, "models");
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **list = NULL;
    size_t cap = 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        list = lp_vec_reserve(list, &cap, (size_t)n, 1, sizeof *list);
        assert_non_null(list);
        list[n] = malloc(strlen(dir) + len + 2);
        sprintf(list[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
            char *t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    *out = list;
    return n;
}

static void free_files(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* A plan must cover [0, n_layer) in order, a layer or more each, with every
 * shard's numbers those of the per-shard functions and within budget. */
static void check_plan(const lp_plan_model *m, const lp_plan_worker *w, int n,
                       const lp_plan_opts *o, const lp_plan_shard *p)
{
    int at = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(p[i].first, at);
        assert_true(p[i].last > p[i].first);
        at = p[i].last;
        assert_int_equal(p[i].has_embed, p[i].first == 0);
        assert_int_equal(p[i].has_head, p[i].last == (int)m->n_layer);
        assert_true(p[i].weight_bytes == lp_plan_weight_bytes(m, p[i].first, p[i].last));
        assert_true(p[i].kv_bytes ==
                    lp_plan_kv_bytes(m, p[i].first, p[i].last, o->n_ctx, o->n_sessions));
        assert_true(p[i].buffer_bytes == lp_plan_run_bytes(m, p[i].first, p[i].last,
                                                           o->n_batch, o->n_ctx,
                                                           o->n_threads));
        assert_true(p[i].total ==
                    p[i].weight_bytes + p[i].kv_bytes + p[i].buffer_bytes + p[i].reserve);
        assert_true(p[i].budget == w[i].budget);
        assert_true(p[i].fits && p[i].total <= w[i].budget);
    }
    assert_int_equal(at, (int)m->n_layer);
}

/* The description adds up to the file: every tensor is a layer's or an end's. */
static void check_desc_against_file(const char *path, const lp_plan_model *m)
{
    lp_err err = {{0}};
    lp_gguf *g = lp_gguf_open(path, &err);
    assert_non_null(g);
    uint64_t all = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        all += g->tensors[i].nbytes;
    uint64_t ours = m->embed_bytes + m->output_bytes + m->output_norm_bytes +
                    m->rope_freqs_bytes;
    for (uint32_t l = 0; l < m->n_layer; l++) {
        assert_true(m->layer_bytes[l] > 0 && m->layer_dot_row[l] > 0);
        ours += m->layer_bytes[l];
    }
    if (ours != all)
        fail_msg("%s: described %llu bytes, the file holds %llu", path,
                 (unsigned long long)ours, (unsigned long long)all);
    assert_int_equal(m->output_tied, lp_gguf_find_tensor(g, "output.weight") == NULL);
    assert_true(m->kv_bytes_token_layer == 4ull * m->n_head_kv * m->head_dim);
    /* The whole model as one shard is every byte once. */
    assert_true(lp_plan_weight_bytes(m, 0, (int)m->n_layer) == all);
    lp_gguf_close(g);
}

static void test_real_models(void **state)
{
    (void)state;
    static const double speeds[][4] = {{1}, {1, 1}, {1, 2}, {1, 1, 2}, {3, 1, 1, 1}};
    static const int counts[] = {1, 2, 2, 3, 4};
    char **files;
    int nf = model_files(&files), plans = 0;
    assert_true(nf >= 10);
    for (int f = 0; f < nf; f++) {
        lp_plan_model m;
        lp_err err = {{0}};
        if (lp_plan_model_open(files[f], &m, &err) != 0)
            fail_msg("%s: %s", files[f], err.msg);
        check_desc_against_file(files[f], &m);
        lp_plan_opts o;
        lp_plan_opts_default(&o);
        o.n_ctx = 512;
        o.n_sessions = 2;
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            int n = counts[c];
            if (n > (int)m.n_layer)
                continue;
            lp_plan_worker w[4];
            double total = 0;
            for (int i = 0; i < n; i++) {
                w[i] = (lp_plan_worker){.budget = GIB, .speed = speeds[c][i]};
                total += speeds[c][i];
            }
            lp_plan_shard p[4];
            if (lp_plan_make(&m, w, n, &o, p, &err) != 0)
                fail_msg("%s over %d workers: %s", files[f], n, err.msg);
            check_plan(&m, w, n, &o, p);
            /* Largest remainders: each count within one of its quota,
             * unless a quota under one layer had to be rounded up to one. */
            bool small = false;
            for (int i = 0; i < n; i++)
                small = small || m.n_layer * w[i].speed / total < 1.0;
            for (int i = 0; i < n; i++) {
                double quota = m.n_layer * w[i].speed / total;
                assert_true(small || fabs((p[i].last - p[i].first) - quota) < 1.0);
            }
            plans++;
        }
        lp_plan_model_free(&m);
    }
    print_message("[ plan ] %d models, %d plans within budget and in proportion\n", nf,
                  plans);
    free_files(files, nf);
}

static void open_shared(const char *rel, lp_plan_model *m)
{
    char path[4096];
    lp_err err = {{0}};
    if (lp_plan_model_open(lp_test_shared(path, sizeof path, rel), m, &err) != 0)
        fail_msg("%s: %s", rel, err.msg);
}

/* Speed 1,1,2 over stories260K's 5 layers (177.5 KiB each, the last with
 * the 128 KiB f32 head: 1015.5 KiB a token): shares 253.9, 253.9, 507.8
 * KiB; worker 0 ends nearest 253.9 (after 1 layer: 177.5), worker 1
 * nearest 507.8 (after 3: 532.5), worker 2 takes the last 2 and the head. */
static void test_proportional_counts(void **state)
{
    (void)state;
    lp_plan_model m;
    open_shared("models/stories260K.gguf", &m);
    assert_int_equal(m.n_layer, 5);
    lp_plan_opts o;
    lp_plan_opts_default(&o);
    lp_plan_worker w[3] = {{GIB, 1}, {GIB, 1}, {GIB, 2}};
    lp_plan_shard p[3];
    lp_err err = {{0}};
    assert_int_equal(lp_plan_make(&m, w, 3, &o, p, &err), 0);
    assert_int_equal(p[0].last - p[0].first, 1);
    assert_int_equal(p[1].last - p[1].first, 2);
    assert_int_equal(p[2].last - p[2].first, 2);
    /* Equal speeds over 2: worker 0 ends nearest 507.8 KiB, after 3 layers. */
    assert_int_equal(lp_plan_make(&m, w, 2, &o, p, &err), 0);
    assert_int_equal(p[0].last, 3);
    /* A tiny speed still gets its one layer. */
    lp_plan_worker w2[3] = {{GIB, 100}, {GIB, 0.001}, {GIB, 100}};
    assert_int_equal(lp_plan_make(&m, w2, 3, &o, p, &err), 0);
    check_plan(&m, w2, 3, &o, p);
    assert_int_equal(p[1].last - p[1].first, 1);
    lp_plan_model_free(&m);
}

/* The tied head is token_embd, held on the last shard too. */
static void test_tied_output(void **state)
{
    (void)state;
    lp_plan_model m;
    open_shared("models/synth-llama31-tied-Q4_K_M.gguf", &m);
    assert_true(m.output_tied && m.rope_freqs_bytes > 0);
    const int L = (int)m.n_layer;
    uint64_t layers = 0;
    for (int l = 1; l < L; l++)
        layers += m.layer_bytes[l];
    assert_true(lp_plan_weight_bytes(&m, 1, L) ==
                layers + m.embed_bytes + m.output_norm_bytes + m.rope_freqs_bytes);
    assert_true(lp_plan_weight_bytes(&m, 0, 1) ==
                m.layer_bytes[0] + m.embed_bytes + m.rope_freqs_bytes);
    lp_plan_model_free(&m);
}

/* ---- the 70B-shaped model ---------------------------------------------- */

static void synth70b(lp_plan_model *m)
{
    lp_err err = {{0}};
    if (lp_synth_plan_model(&LP_SYNTH_LLAMA70B_Q4_K_M, m, &err) != 0)
        fail_msg("%s", err.msg);
}

static void test_70b_description(void **state)
{
    (void)state;
    lp_plan_model m;
    synth70b(&m);
    assert_int_equal(m.n_layer, 80);
    uint64_t all = m.embed_bytes + m.output_bytes + m.output_norm_bytes + m.rope_freqs_bytes;
    for (int l = 0; l < 80; l++)
        all += m.layer_bytes[l];
    /* What llama.cpp's Q4_K_M of Llama 3.1 70B holds in tensor data. */
    assert_true(all == 42512531712ull);
    /* Q4_K layer: q, o 8192x8192, k 1024 rows, v Q5_K, gate/up/down 28672. */
    const uint64_t q4 = 8192ull * 8192 / 256 * 144, kq4 = 1024ull * 8192 / 256 * 144,
                   v5 = 1024ull * 8192 / 256 * 176, ffq4 = 28672ull * 8192 / 256 * 144,
                   v6 = 1024ull * 8192 / 256 * 210, ffq6 = 28672ull * 8192 / 256 * 210,
                   norms = 2 * 8192 * 4;
    assert_true(m.layer_bytes[10] == 2 * q4 + kq4 + v5 + 3 * ffq4 + norms);      /* plain */
    assert_true(m.layer_bytes[0] == 2 * q4 + kq4 + v6 + 2 * ffq4 + ffq6 + norms); /* more bits */
    assert_true(m.layer_bytes[12] == m.layer_bytes[0] && m.layer_bytes[79] == m.layer_bytes[0]);
    int more = 0;
    for (int l = 0; l < 80; l++)
        more += m.layer_bytes[l] == m.layer_bytes[0];
    assert_int_equal(more, 40); /* "about half" the layers */
    assert_true(m.embed_bytes == 128256ull * 8192 / 256 * 144);
    assert_true(m.output_bytes == 128256ull * 8192 / 256 * 210);
    assert_true(m.kv_bytes_token_layer == 2 * 8 * 128 * 2);
    lp_plan_model_free(&m);
}

static void test_70b_fits_3x16(void **state)
{
    (void)state;
    lp_plan_model m;
    synth70b(&m);
    lp_plan_opts o;
    lp_plan_opts_default(&o);
    o.n_ctx = 8192;
    lp_plan_worker w[3] = {{16 * GIB, 1}, {16 * GIB, 1}, {16 * GIB, 1}};
    lp_plan_shard p[3];
    lp_err err = {{0}};
    if (lp_plan_make(&m, w, 3, &o, p, &err) != 0)
        fail_msg("%s", err.msg);
    check_plan(&m, w, 3, &o, p);
    /* a token's cost in thirds: the head (1.0 GiB of Q6_K) weighs two
     * layers, so the last worker holds 25 layers, the middle one 28 */
    assert_int_equal(p[0].last, 27);
    assert_int_equal(p[1].last, 55);
    char b[3][32];
    print_message("[ plan ] 70B Q4_K_M, ctx 8192, 3x16 GiB: %s / %s / %s\n",
                  lp_size_format(p[0].total, b[0], 32), lp_size_format(p[1].total, b[1], 32),
                  lp_size_format(p[2].total, b[2], 32));
    lp_plan_model_free(&m);
}

/* lp_run_new's buffers for the 70B shape, by hand from model.c's list. */
static uint64_t run_bytes_70b(uint64_t B, uint64_t ctx, uint64_t nth, bool head)
{
    uint64_t per_tok = (2 * 8192 + 2 * 8192 + 2 * 1024 + 2 * 28672 + 128) * 4;
    uint64_t scratch = B * (28672 / 256 * 292); /* ffn_down's input as Q8_K */
    uint64_t head_scratch = 8192 / 256 * 292;
    if (head && head_scratch > scratch)
        scratch = head_scratch;
    return B * per_tok + 128256 * 4 + scratch + nth * ctx * 4 + nth * 128 * 2 + nth * ctx * 2;
}

static void test_70b_short_2x16(void **state)
{
    (void)state;
    lp_plan_model m;
    synth70b(&m);
    lp_plan_opts o;
    lp_plan_opts_default(&o);
    o.n_ctx = 8192;
    lp_plan_worker w[2] = {{16 * GIB, 1}, {16 * GIB, 1}};
    lp_plan_shard p[2];
    lp_err err = {{0}};
    assert_int_equal(lp_plan_make(&m, w, 2, &o, p, &err), LP_PLAN_NO_FIT);
    /* Needed: all weights (rope_freqs, 64 floats, on both shards), all KV,
     * and each worker's buffers + reserve. */
    const uint64_t kv = 80ull * 8192 * 1024 * 2 * 2;
    const uint64_t need = 42512531712ull + 256 + kv + run_bytes_70b(256, 8192, 16, false) +
                          run_bytes_70b(256, 8192, 16, true) + 2 * o.reserve;
    assert_true(p[0].total + p[1].total == need);
    char want[256], b1[32], b2[32];
    snprintf(want, sizeof want, "does not fit: needs %s, the 2 workers offer 32.0 GiB (%s short)",
             lp_size_format(need, b1, sizeof b1), lp_size_format(need - 32 * GIB, b2, sizeof b2));
    if (!strstr(err.msg, want))
        fail_msg("message: %s\nwanted: %s", err.msg, want);
    /* halves of a token's cost: the head goes with worker 1's 39 layers */
    assert_non_null(strstr(err.msg, "worker 0 (layers 0-40) needs"));
    assert_non_null(strstr(err.msg, "worker 1 (layers 41-79) needs"));
    assert_false(p[0].fits || p[1].fits);
    print_message("[ plan ] 70B over 2x16 GiB: %s\n", err.msg);
    lp_plan_model_free(&m);
}

/* ---- synth shapes: one source of truth -------------------------------- */

static void plan_shape(const char *name, lp_ftype ft, lp_plan_model *m)
{
    lp_err err = {{0}};
    const lp_synth_spec sh = {name, ft};
    if (lp_synth_plan_model(&sh, m, &err) != 0)
        fail_msg("%s %s: %s", name, lp_ftype_name(ft), err.msg);
}

static lp_synth *synth_of(const char *name, lp_ftype ft)
{
    lp_err err = {{0}};
    const lp_synth_opts o = {.shape = lp_synth_shape_find(name), .ftype = ft, .n_threads = 1};
    assert_non_null(o.shape);
    lp_synth *s = lp_synth_new(&o, &err);
    if (!s)
        fail_msg("%s: %s", name, err.msg);
    return s;
}

/* Shard [first, last)'s weights straight from the tensor list, by plan.h's
 * rule: blk.N.* of its layers, token_embd on the first shard, output* on the
 * last (token_embd too when there is no output.weight), rope_freqs on all. */
static uint64_t synth_shard_bytes(const lp_synth *s, int first, int last, int n_layer)
{
    bool tied = true;
    uint64_t embed = 0, sum = 0;
    for (size_t i = 0; i < lp_synth_n_tensors(s); i++) {
        lp_synth_tensor_info t;
        lp_synth_tensor(s, i, &t);
        int il;
        if (sscanf(t.name, "blk.%d.", &il) == 1)
            sum += il >= first && il < last ? t.nbytes : 0;
        else if (!strcmp(t.name, "token_embd.weight"))
            embed = t.nbytes;
        else if (!strcmp(t.name, "rope_freqs.weight"))
            sum += t.nbytes;
        else if (!strncmp(t.name, "output", 6))
            sum += last == n_layer ? t.nbytes : 0;
        tied &= strcmp(t.name, "output.weight") != 0;
    }
    if (first == 0)
        sum += embed;
    if (last == n_layer && tied && first != 0)
        sum += embed;
    return sum;
}

/* The whole model's weights are lp_synth_totals' tensor bytes, and each
 * shard's those of its tensors. */
static void check_shape_bytes(const char *name, lp_ftype ft)
{
    lp_plan_model m;
    plan_shape(name, ft, &m);
    lp_synth *s = synth_of(name, ft);
    lp_synth_totals tot;
    lp_synth_totals_get(s, &tot);
    const int L = (int)m.n_layer;
    assert_int_equal(m.n_layer, lp_synth_shape_find(name)->n_layer);
    if (lp_plan_weight_bytes(&m, 0, L) != tot.tensor_bytes)
        fail_msg("%s %s: plan %llu, synth %llu bytes", name, lp_ftype_name(ft),
                 (unsigned long long)lp_plan_weight_bytes(&m, 0, L),
                 (unsigned long long)tot.tensor_bytes);
    const int cuts[][2] = {{0, 1}, {1, L}, {0, L / 3}, {L / 3, L - 1}, {L - 1, L}};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
        assert_true(lp_plan_weight_bytes(&m, cuts[c][0], cuts[c][1]) ==
                    synth_shard_bytes(s, cuts[c][0], cuts[c][1], L));
    lp_synth_free(s);
    lp_plan_model_free(&m);
}

static void test_shape_bytes(void **state)
{
    (void)state;
    check_shape_bytes("llama3-8b", LP_FTYPE_Q4_K_M);
    check_shape_bytes("qwen2.5-7b", LP_FTYPE_Q8_0);
    /* Every shape at every type: what --help offers plans. */
    for (int i = 0; lp_synth_shape_at(i); i++)
        for (int t = 0; t < lp_ftype_count(); t++)
            check_shape_bytes(lp_synth_shape_at(i)->name, lp_ftype_at(t));
}

/* The tiny shape is shared/'s synth-llama: the shape planned at a type is,
 * field by field, llama-quantize's file of that type planned. */
static void test_tiny_is_llama_quantize(void **state)
{
    (void)state;
    static const char *const types[] = {"f32",  "F16",  "BF16", "Q8_0",   "Q4_0",
                                        "Q4_1", "Q5_0", "Q5_1", "Q2_K",   "Q3_K_M",
                                        "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "models/synth-llama-%s.gguf", types[i]);
        lp_plan_model f, m;
        lp_ftype ft;
        assert_int_equal(lp_ftype_parse(types[i], &ft), 0);
        open_shared(rel, &f);
        plan_shape("tiny", ft, &m);
        assert_string_equal(m.arch, f.arch);
        assert_true(m.n_layer == f.n_layer && m.n_embd == f.n_embd && m.n_ff == f.n_ff &&
                    m.n_head == f.n_head && m.n_head_kv == f.n_head_kv &&
                    m.head_dim == f.head_dim && m.n_rot == f.n_rot && m.n_vocab == f.n_vocab);
        for (uint32_t l = 0; l < m.n_layer; l++)
            if (m.layer_bytes[l] != f.layer_bytes[l] || m.layer_dot_row[l] != f.layer_dot_row[l])
                fail_msg("%s layer %u: shape %llu/%llu, file %llu/%llu", rel, l,
                         (unsigned long long)m.layer_bytes[l],
                         (unsigned long long)m.layer_dot_row[l],
                         (unsigned long long)f.layer_bytes[l],
                         (unsigned long long)f.layer_dot_row[l]);
        assert_true(m.embed_bytes == f.embed_bytes && m.output_bytes == f.output_bytes &&
                    m.output_norm_bytes == f.output_norm_bytes &&
                    m.rope_freqs_bytes == f.rope_freqs_bytes &&
                    m.head_dot_row == f.head_dot_row && m.output_tied == f.output_tied &&
                    m.kv_bytes_token_layer == f.kv_bytes_token_layer);
        lp_plan_model_free(&f);
        lp_plan_model_free(&m);
    }
}

static void parse_ok(const char *spec, const char *type, const char *name, lp_ftype ft)
{
    lp_synth_spec sh;
    lp_err err = {{0}};
    if (lp_synth_spec_parse(spec, type, &sh, &err) != 0)
        fail_msg("%s %s: %s", spec, type ? type : "-", err.msg);
    assert_string_equal(sh.name, name);
    assert_int_equal(sh.ftype, ft);
}

/* A bad name fails with a message that holds each needle. */
static void parse_bad(const char *spec, const char *type, const char *const *needles)
{
    lp_synth_spec sh;
    lp_err err = {{0}};
    assert_int_equal(lp_synth_spec_parse(spec, type, &sh, &err), -1);
    for (; *needles; needles++)
        if (!strstr(err.msg, *needles))
            fail_msg("%s %s: no '%s' in: %s", spec, type ? type : "-", *needles, err.msg);
}

static void test_shape_parse(void **state)
{
    (void)state;
    parse_ok("llama3-8b", NULL, "llama3-8b", LP_FTYPE_Q4_K_M);
    parse_ok("qwen2.5-7b:q8_0", NULL, "qwen2.5-7b", LP_FTYPE_Q8_0);
    parse_ok("llama3-1b", "Q5_K_S", "llama3-1b", LP_FTYPE_Q5_K_S);
    parse_ok("tiny:Q4_K", NULL, "tiny", LP_FTYPE_Q4_K_M); /* llama-quantize's alias */
    parse_ok("llama70b-q4_k_m", NULL, "llama3-70b", LP_FTYPE_Q4_K_M);
    parse_ok("LLAMA70B-Q4_K_M", NULL, "llama3-70b", LP_FTYPE_Q4_K_M);
    /* Unknown names list what is valid. */
    const char *shapes[] = {"unknown shape 'llama3-13b'", "tiny", "llama3-1b", "llama3-8b",
                            "llama3-70b", "qwen2.5-7b", "llama70b-q4_k_m", NULL};
    parse_bad("llama3-13b:Q8_0", NULL, shapes);
    const char *types[] = {"unknown file type 'IQ4_XS'", "Q4_0", "Q2_K", "Q4_K_M", "Q8_0",
                           "F16", "BF16", "F32", NULL};
    parse_bad("llama3-8b:IQ4_XS", NULL, types);
    parse_bad("llama3-8b", "IQ4_XS", types);
    const char *empty[] = {"unknown file type ''", NULL};
    parse_bad("llama3-8b:", NULL, empty);
    const char *twice[] = {"give the type once", NULL};
    parse_bad("llama3-8b:Q8_0", "Q4_0", twice);
    const char *alias[] = {"names its type (Q4_K_M) already", "llama3-70b:Q8_0", NULL};
    parse_bad("llama70b-q4_k_m", "Q8_0", alias);
    parse_bad("llama70b-q4_k_m:Q8_0", NULL, alias);
    lp_plan_model m;
    lp_err err = {{0}};
    const lp_synth_spec none = {"llama3-13b", LP_FTYPE_Q8_0};
    assert_int_equal(lp_synth_plan_model(&none, &m, &err), -1);
    assert_non_null(strstr(err.msg, "unknown shape 'llama3-13b'"));
}

/* ---- when memory binds: the planner against every split ----------------- */

/* What a token costs layers [a, e): their bytes, the head's with the last
 * (plan.h). */
static double tok_cost(const lp_plan_model *m, int a, int e)
{
    double c = 0;
    for (int l = a; l < e; l++)
        c += (double)m->layer_bytes[l];
    if (e == (int)m->n_layer)
        c += (double)(m->output_tied ? m->embed_bytes : m->output_bytes);
    return c;
}

/* Smallest max(cost_i / speed_i) over all splits of 3 workers that fit. */
static double brute_best(const lp_plan_model *m, const lp_plan_worker *w,
                         const lp_plan_opts *o)
{
    const int L = (int)m->n_layer;
    double best = INFINITY;
    for (int a = 1; a < L; a++)
        for (int b = a + 1; b < L; b++) {
            const int cut[4] = {0, a, b, L};
            double worst = 0;
            bool ok = true;
            for (int i = 0; i < 3 && ok; i++) {
                uint64_t t = lp_plan_weight_bytes(m, cut[i], cut[i + 1]) +
                             lp_plan_kv_bytes(m, cut[i], cut[i + 1], o->n_ctx, o->n_sessions) +
                             lp_plan_run_bytes(m, cut[i], cut[i + 1], o->n_batch, o->n_ctx,
                                               o->n_threads) +
                             o->reserve;
                ok = t <= w[i].budget;
                worst = fmax(worst, tok_cost(m, cut[i], cut[i + 1]) / w[i].speed);
            }
            if (ok && worst < best)
                best = worst;
        }
    return best;
}

static void test_memory_binds(void **state)
{
    (void)state;
    lp_plan_model m;
    synth70b(&m);
    lp_plan_opts o;
    lp_plan_opts_default(&o);
    o.n_ctx = 8192;
    static const lp_plan_worker cases[][3] = {
        {{32 * GIB, 1}, {12 * GIB, 1}, {12 * GIB, 1}},
        {{12 * GIB, 1}, {12 * GIB, 1}, {32 * GIB, 1}},
        {{12 * GIB, 2}, {32 * GIB, 1}, {12 * GIB, 2}},
        {{20 * GIB, 1}, {20 * GIB, 3}, {8 * GIB, 1}},
        {{15 * GIB, 1}, {15 * GIB, 1}, {15 * GIB, 1}},
        {{14 * GIB, 1}, {14 * GIB, 1}, {14 * GIB, 1}},
        {{10 * GIB, 1}, {30 * GIB, 1}, {10 * GIB, 1}},
    };
    int fitted = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const lp_plan_worker *w = cases[c];
        lp_plan_shard p[3];
        lp_err err = {{0}};
        double best = brute_best(&m, w, &o);
        int rc = lp_plan_make(&m, w, 3, &o, p, &err);
        if (isinf(best)) {
            assert_int_equal(rc, LP_PLAN_NO_FIT);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu: %s (a split fits)", c, err.msg);
        check_plan(&m, w, 3, &o, p);
        double worst = 0;
        for (int i = 0; i < 3; i++)
            worst = fmax(worst, tok_cost(&m, p[i].first, p[i].last) / w[i].speed);
        if (fabs(worst - best) > 1e-9 * best)
            fail_msg("case %zu: bottleneck %g, the best split has %g", c, worst, best);
        print_message("[ plan ] case %zu: layers %d / %d / %d\n", c, p[0].last,
                      p[1].last - p[1].first, p[2].last - p[2].first);
        fitted++;
    }
    assert_int_equal(fitted, 6); /* the 14 GiB case cannot fit */
    lp_plan_model_free(&m);
}

/* ---- edges and refusals ------------------------------------------------ */

static void test_edges(void **state)
{
    (void)state;
    lp_plan_model m;
    open_shared("models/stories260K.gguf", &m);
    lp_plan_opts o;
    lp_plan_opts_default(&o);
    lp_plan_shard p[8];
    lp_err err = {{0}};
    /* One worker holds everything. */
    lp_plan_worker one = {GIB, 1};
    assert_int_equal(lp_plan_make(&m, &one, 1, &o, p, &err), 0);
    check_plan(&m, &one, 1, &o, p);
    assert_true(p[0].has_embed && p[0].has_head);
    /* One worker that is a byte short. */
    one.budget = p[0].total - 1;
    assert_int_equal(lp_plan_make(&m, &one, 1, &o, p, &err), LP_PLAN_NO_FIT);
    assert_non_null(strstr(err.msg, "(1 B short)"));
    /* A worker too small for any layer is named, not dropped. */
    lp_plan_worker w[3] = {{GIB, 1}, {MIB, 1}, {GIB, 1}};
    assert_int_equal(lp_plan_make(&m, w, 3, &o, p, &err), LP_PLAN_NO_FIT);
    assert_non_null(strstr(err.msg, "worker 1 cannot hold even one layer"));
    /* Zero budgets, bad speeds, too many workers, bad options: refused. */
    w[1].budget = 0;
    assert_int_equal(lp_plan_make(&m, w, 3, &o, p, &err), -1);
    assert_non_null(strstr(err.msg, "worker 1 has a memory budget of 0"));
    w[1].budget = GIB;
    const double bad[] = {0.0, -1.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w[2].speed = bad[i];
        assert_int_equal(lp_plan_make(&m, w, 3, &o, p, &err), -1);
        assert_non_null(strstr(err.msg, "worker 2 has speed"));
    }
    w[2].speed = 1;
    lp_plan_worker six[6] = {{GIB, 1}, {GIB, 1}, {GIB, 1}, {GIB, 1}, {GIB, 1}, {GIB, 1}};
    assert_int_equal(lp_plan_make(&m, six, 6, &o, p, &err), -1);
    assert_non_null(strstr(err.msg, "6 workers for 5 layers"));
    assert_int_equal(lp_plan_make(&m, six, 5, &o, p, &err), 0);
    assert_int_equal(lp_plan_make(&m, six, 0, &o, p, &err), -1);
    lp_plan_opts bad_o = o;
    bad_o.n_ctx = 0;
    assert_int_equal(lp_plan_make(&m, w, 3, &bad_o, p, &err), -1);
    bad_o = o;
    bad_o.n_sessions = -1;
    assert_int_equal(lp_plan_make(&m, w, 3, &bad_o, p, &err), -1);
    /* Per-shard functions refuse ranges outside the model. */
    assert_true(lp_plan_weight_bytes(&m, 3, 3) == UINT64_MAX);
    assert_true(lp_plan_kv_bytes(&m, -1, 2, 512, 1) == UINT64_MAX);
    assert_true(lp_plan_run_bytes(&m, 0, 6, 256, 512, 1) == UINT64_MAX);
    lp_plan_model_free(&m);
}

/* ---- the buffer estimate is what lp_run_new allocates ------------------ */

static uint64_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static void run_bytes_case(const char *rel, int first, int last, int batch, int ctx, int nth)
{
    char path[4096];
    lp_err err = {{0}};
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    assert_non_null(g);
    lp_model *model = lp_model_load(g, first, last, &err);
    assert_non_null(model);
    lp_threadpool *pool = lp_threadpool_create(nth, &err);
    assert_non_null(pool);
    lp_kernels k;
    assert_int_equal(lp_kernels_init(&k, LP_ISA_SCALAR, &err), 0);
    lp_plan_model m;
    assert_int_equal(lp_plan_model_from_gguf(g, &m, &err), 0);
    if (last == -1)
        last = (int)m.n_layer;
    uint64_t want = lp_plan_run_bytes(&m, first, last, batch, ctx, nth);
    uint64_t before = heap_in_use();
    lp_run *r = lp_run_new(model, &k, pool, batch, ctx, &err);
    assert_non_null(r);
    uint64_t got = heap_in_use() - before;
    /* malloc adds a header and rounding per block (a page for mmap'd ones). */
    if (got < want || got > want + 20 * 4200)
        fail_msg("%s [%d, %d) batch %d ctx %d: lp_run_new took %llu bytes, the plan says "
                 "%llu", rel, first, last, batch, ctx, (unsigned long long)got,
                 (unsigned long long)want);
    lp_run_free(r);
    lp_plan_model_free(&m);
    lp_threadpool_destroy(pool);
    lp_model_free(model);
    lp_gguf_close(g);
}

static void test_run_bytes_match(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    (void)run_bytes_case;
    skip(); /* ASan's and TSan's allocators are invisible to mallinfo2 */
#else
    run_bytes_case("models/synth-llama-Q4_K_M.gguf", 0, 4, 256, 1024, 2);
    run_bytes_case("models/synth-llama-Q4_K_M.gguf", 1, 3, 64, 4096, 3);
    run_bytes_case("models/synth-qwen2-Q8_0.gguf", 2, -1, 512, 2048, 1);
    run_bytes_case("models/stories260K.gguf", 0, 2, 128, 512, 4);
    run_bytes_case("models/synth-llama31-tied-f16.gguf", 1, -1, 300, 3000, 2);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_models),     cmocka_unit_test(test_proportional_counts),
        cmocka_unit_test(test_tied_output),     cmocka_unit_test(test_70b_description),
        cmocka_unit_test(test_70b_fits_3x16),   cmocka_unit_test(test_70b_short_2x16),
        cmocka_unit_test(test_shape_bytes),     cmocka_unit_test(test_tiny_is_llama_quantize),
        cmocka_unit_test(test_shape_parse),
        cmocka_unit_test(test_memory_binds),    cmocka_unit_test(test_edges),
        cmocka_unit_test(test_run_bytes_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
