/* `coord split` (shard_split.h): models cut into 2 and 3 shard files, each
 * a GGUF with every source key, the layerpool.shard.* keys and exactly its
 * own tensors byte for byte; chaining the shard files gives the whole
 * model's logits bit for bit; the reported id is the file's SHA-256. Bad
 * ranges, a missing model, an unwritable directory and a failure halfway
 * leave no file behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "generate.h"
#include "model_id.h"
#include "sha256.h"
#include "shard.h"
#include "shard_info.h"
#include "shard_split.h"
#include "support.h"
#include "support_chain.h"

static const char *const MODELS[] = {"stories260K", "synth-llama-Q4_K_M", "synth-qwen2-Q8_0",
                                     "synth-llama31-tied-Q4_K_M", NULL};
enum { N_DECODE = 6 };

static char *model_path(char *buf, size_t cap, const char *stem)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    return lp_test_shared(buf, cap, rel);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* ---- running a chain of shards (as test_shards.c does in memory) -------- */

/* ---- what a shard file must hold ------------------------------------------ */

static bool same_value(const lp_gguf_value *a, const lp_gguf_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case LP_GGUF_STRING:
        return a->v.str.len == b->v.str.len && !memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len);
    case LP_GGUF_ARRAY:
        return a->v.arr.elem_type == b->v.arr.elem_type && a->v.arr.n == b->v.arr.n &&
               a->v.arr.nbytes == b->v.arr.nbytes &&
               !memcmp(a->v.arr.data, b->v.arr.data, a->v.arr.nbytes);
    default:
        return a->v.u64 == b->v.u64; /* the union's widest member */
    }
}

static uint32_t key_u32(const lp_gguf *g, const char *suffix)
{
    char key[128];
    uint32_t v = UINT32_MAX;
    snprintf(key, sizeof key, "%s%s", LP_SHARD_KEY_PREFIX, suffix);
    if (lp_gguf_get_u32(g, key, &v) != 0)
        fail_msg("shard lacks %s", key);
    return v;
}

static bool key_bool(const lp_gguf *g, const char *suffix)
{
    char key[128];
    bool v = false;
    snprintf(key, sizeof key, "%s%s", LP_SHARD_KEY_PREFIX, suffix);
    if (lp_gguf_get_bool(g, key, &v) != 0)
        fail_msg("shard lacks %s", key);
    return v;
}

/* Layer of blk.N.*, else -1. */
static long layer_of(lp_str name)
{
    if (name.len < 5 || memcmp(name.ptr, "blk.", 4) != 0)
        return -1;
    return strtol(name.ptr + 4, NULL, 10);
}

static bool expect_tensor(lp_str name, const lp_split_result *r, bool tied)
{
    long l = layer_of(name);
    if (l >= 0)
        return l >= r->first && l < r->last;
    if (lp_str_eq(name, "token_embd.weight"))
        return r->has_embed || (r->has_head && tied);
    if (lp_str_eq(name, "output.weight") || lp_str_eq(name, "output_norm.weight"))
        return r->has_head;
    return true;
}

static void check_shard_file(const lp_gguf *src, const uint8_t src_id[32],
                             const lp_split_result *r, int index, int count)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(r->path, &err);
    if (!g)
        fail_msg("%s: %s", r->path, err.msg);
    /* Identity: the source's, and the id is the file's SHA-256. */
    uint8_t id[32], file_id[32];
    uint64_t size = 0;
    assert_int_equal(lp_model_id(g, id, &err), 0);
    assert_memory_equal(id, src_id, 32);
    assert_int_equal(lp_sha256_file(r->path, file_id, &size, &err), 0);
    assert_memory_equal(file_id, r->id, 32);
    assert_int_equal(size, r->size);
    assert_int_equal(g->version, 3);
    /* Every source key, same value; ours besides. */
    for (uint64_t i = 0; i < src->n_kv; i++) {
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)src->kv[i].key.len, src->kv[i].key.ptr);
        const lp_gguf_kv *kv = lp_gguf_find(g, key);
        if (!kv || !same_value(&kv->val, &src->kv[i].val))
            fail_msg("%s: key %s missing or changed", r->path, key);
    }
    assert_int_equal(g->n_kv, src->n_kv + 9);
    assert_int_equal(key_u32(g, "first"), r->first);
    assert_int_equal(key_u32(g, "last"), r->last);
    assert_int_equal(key_u32(g, "index"), index);
    assert_int_equal(key_u32(g, "count"), count);
    lp_hparams hp;
    assert_int_equal(lp_hparams_read(src, &hp, &err), 0);
    assert_int_equal(key_u32(g, "n_layer"), hp.n_layer);
    assert_int_equal(key_u32(g, "n_vocab"), hp.n_vocab);
    assert_int_equal(key_bool(g, "has_embed"), r->first == 0);
    assert_int_equal(key_bool(g, "has_head"), (uint32_t)r->last == hp.n_layer);
    lp_shard_info si;
    assert_int_equal(lp_shard_info_read(g, &si, &err), 0);
    assert_true(si.is_shard);
    assert_memory_equal(si.model_id, src_id, 32);
    assert_int_equal(si.first, r->first);
    assert_int_equal(si.last, r->last);
    assert_int_equal(si.n_layer, hp.n_layer);
    assert_int_equal(si.n_vocab, hp.n_vocab);
    assert_int_equal(si.index, index);
    assert_int_equal(si.count, count);
    assert_int_equal(si.has_embed, r->has_embed);
    assert_int_equal(si.has_head, r->has_head);
    assert_int_equal(lp_shard_info_read(src, &si, &err), 0);
    assert_false(si.is_shard);
    /* Exactly the tensors its range needs, bytes unchanged. */
    bool tied = lp_gguf_find_tensor(src, "output.weight") == NULL;
    uint64_t want = 0;
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const lp_gguf_tensor *s = &src->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)s->name.len, s->name.ptr);
        const lp_gguf_tensor *t = lp_gguf_find_tensor(g, name);
        if (!expect_tensor(s->name, r, tied)) {
            if (t)
                fail_msg("%s holds %s, outside layers %d-%d", r->path, name, r->first, r->last);
            continue;
        }
        want++;
        if (!t)
            fail_msg("%s lacks %s", r->path, name);
        assert_int_equal(t->type, s->type);
        assert_int_equal(t->n_dims, s->n_dims);
        assert_memory_equal(t->ne, s->ne, sizeof t->ne);
        assert_int_equal(t->nbytes, s->nbytes);
        assert_memory_equal(t->data, s->data, s->nbytes);
    }
    assert_int_equal(g->n_tensors, want);
    lp_gguf_close(g);
}

/* Split one model at the given ranges and check files and logits. */
static void split_and_check(const char *stem, const lp_layer_range *rg, int n,
                            const float *want, int n_vocab)
{
    char dir[4096], src_path[4096];
    model_path(src_path, sizeof src_path, stem);
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_split_result res[4];
    lp_err err = {0};
    if (lp_split_model(src_path, rg, n, dir, NULL, NULL, res, &err) != 0)
        fail_msg("%s: %s", stem, err.msg);
    assert_int_equal(count_entries(dir), n);
    lp_gguf *src = lp_gguf_open(src_path, &err);
    assert_non_null(src);
    uint8_t src_id[32];
    assert_int_equal(lp_model_id(src, src_id, &err), 0);
    lp_shard *sh[4];
    for (int i = 0; i < n; i++) {
        char name[4400];
        snprintf(name, sizeof name, "%s/%s.shard-%d-of-%d.gguf", dir, stem, i + 1, n);
        assert_string_equal(res[i].path, name);
        check_shard_file(src, src_id, &res[i], i, n);
        sh[i] = chain_open(res[i].path, rg[i].first, rg[i].last);
    }
    float *got = chain_trace(sh, n, n_vocab, N_DECODE);
    if (memcmp(got, want, sizeof(float) * (size_t)n_vocab * (N_DECODE + 1)) != 0)
        fail_msg("%s in %d shard files differs from the whole model", stem, n);
    free(got);
    for (int i = 0; i < n; i++)
        lp_shard_close(sh[i]);
    lp_gguf_close(src);
    lp_test_rmtree(dir);
}

static void test_shard_files_match_whole(void **state)
{
    (void)state;
    int files = 0;
    for (int mi = 0; MODELS[mi]; mi++) {
        char path[4096];
        lp_shard *whole = chain_open(model_path(path, sizeof path, MODELS[mi]), 0, -1);
        const int nl = (int)whole->model->hp.n_layer, nv = (int)whole->model->hp.n_vocab;
        float *want = chain_trace(&whole, 1, nv, N_DECODE);
        lp_shard_close(whole);
        lp_layer_range two[2] = {{0, nl / 2}, {nl / 2, nl}};
        split_and_check(MODELS[mi], two, 2, want, nv);
        files += 2;
        if (nl >= 3) {
            lp_layer_range three[3] = {{0, 1}, {1, nl - 1}, {nl - 1, nl}};
            split_and_check(MODELS[mi], three, 3, want, nv);
            files += 3;
        }
        free(want);
    }
    print_message("[ split ] %d shard files give the whole models' logits bit for bit\n", files);
}

/* ---- shard keys that do not add up ---------------------------------------- */

/* A kv-only copy of g with key `key` replaced by v (or dropped if NULL). */
static lp_gguf *variant(const lp_gguf *g, const char *dir, const char *key,
                        const lp_gguf_value *v)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/variant.gguf", dir);
    lp_err err = {0};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        lp_gguf_kv kv = g->kv[i];
        if (lp_str_eq(kv.key, key)) {
            if (!v)
                continue;
            kv.val = *v;
        }
        assert_int_equal(lp_gguf_writer_add_kv(w, &kv, &err), 0);
    }
    assert_int_equal(lp_gguf_writer_write(w, path, &err), 0);
    lp_gguf_writer_free(w);
    lp_gguf *out = lp_gguf_open(path, &err);
    assert_non_null(out);
    return out;
}

/* lp_shard_info_read refuses keys that are missing, mistyped or at odds;
 * lp_shard_open refuses layers the file does not hold. */
static void test_shard_info_checks(void **state)
{
    (void)state;
    char dir[4096], model[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    model_path(model, sizeof model, "stories260K");
    lp_layer_range rg[2] = {{0, 2}, {2, 5}};
    lp_split_result res[2];
    lp_err err = {0};
    assert_int_equal(lp_split_model(model, rg, 2, dir, NULL, NULL, res, &err), 0);
    lp_gguf *g = lp_gguf_open(res[1].path, &err);
    assert_non_null(g);
    const lp_gguf_value u2 = {.type = LP_GGUF_UINT32, .v.u64 = 2},
                        u7 = {.type = LP_GGUF_UINT32, .v.u64 = 7},
                        no = {.type = LP_GGUF_BOOL, .v.u64 = 0},
                        str = {.type = LP_GGUF_STRING, .v.str = {"3", 1}};
    static const char *const P = LP_SHARD_KEY_PREFIX;
    const struct {
        const char *suffix;
        const lp_gguf_value *v;
        const char *msg;
    } bad[] = {
        {"last", &u2, "not a range"},      {"last", &u7, "not a range"},
        {"index", &u7, "index 7 of 2"},    {"has_head", &no, "disagree"},
        {"first", &str, "not an unsigned"}, {"n_vocab", NULL, "n_vocab' is missing"},
        {"has_embed", &u2, "not a bool"},  {"model_id", NULL, "model_id' is missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char key[96];
        snprintf(key, sizeof key, "%s%s", P, bad[i].suffix);
        lp_gguf *v = variant(g, dir, key, bad[i].v);
        lp_shard_info si;
        if (lp_shard_info_read(v, &si, &err) != -1 || !strstr(err.msg, bad[i].msg))
            fail_msg("%s: '%s' (expected '%s')", key, err.msg, bad[i].msg);
        lp_gguf_close(v);
    }
    lp_gguf_close(g);
    /* Layers the file does not hold: said plainly, not as a missing tensor. */
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.first = 1;
    o.last = 5;
    assert_null(lp_shard_open(res[1].path, &o, &err));
    assert_non_null(strstr(err.msg, "not inside this shard file's [2, 5)"));
    lp_test_rmtree(dir);
}

/* ---- refusals ------------------------------------------------------------- */

static void expect_refusal(const char *model, const char *ranges, const char *out_dir,
                           const char *msg_part)
{
    lp_layer_range rg[8];
    int n = 0;
    lp_err err = {0};
    lp_split_result res[8];
    int rc = lp_split_parse_ranges(ranges, rg, 8, &n, &err);
    if (rc == 0)
        rc = lp_split_model(model, rg, n, out_dir, NULL, NULL, res, &err);
    if (rc == 0)
        fail_msg("split of %s at '%s' into %s was accepted", model, ranges, out_dir);
    if (!strstr(err.msg, msg_part))
        fail_msg("'%s': error '%s' does not mention '%s'", ranges, err.msg, msg_part);
}

static void test_bad_input_leaves_nothing(void **state)
{
    (void)state;
    char dir[4096], out[4200], model[4096], file[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/out", dir);
    model_path(model, sizeof model, "stories260K"); /* 5 layers */
    static const char *const bad[][2] = {
        {"", "empty"},          {"0-3,x", "form"},       {"0-3,,3-5", "form"},
        {"0-3-5", "form"},      {"-1-3,3-5", "form"},    {"0-3;3-5", "form"},
        {"1-3,3-5", "start at layer 0"}, {"0-2,3-5", "start at layer 2"},
        {"0-3,2-5", "start at layer 3"}, {"0-0,0-5", "empty"},
        {"0-3,3-6", "past the model's 5 layers"}, {"0-3", "end at layer 3"},
        {"0-99999999999", "form"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_refusal(model, bad[i][0], out, bad[i][1]);
    expect_refusal("/nonexistent/model.gguf", "0-5", out, "/nonexistent/model.gguf");
    assert_int_equal(count_entries(dir), 0); /* not even the output directory */

    /* A shard is not a model to split again. */
    lp_layer_range rg[2] = {{0, 2}, {2, 5}};
    lp_split_result res[2];
    lp_err err = {0};
    assert_int_equal(lp_split_model(model, rg, 2, out, NULL, NULL, res, &err), 0);
    expect_refusal(res[0].path, "0-5", dir, "already a shard");

    /* Outputs that cannot be written: a file, a directory under a file,
     * and one even root cannot create files in. */
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    expect_refusal(model, "0-5", file, "not a directory");
    snprintf(out, sizeof out, "%s/plain/sub", dir);
    expect_refusal(model, "0-5", out, "cannot create output directory");
    expect_refusal(model, "0-5", "/proc", "/proc");
    if (geteuid() != 0) {
        snprintf(out, sizeof out, "%s/ro", dir);
        assert_int_equal(mkdir(out, 0555), 0);
        expect_refusal(model, "0-5", out, "not writable");
        assert_int_equal(count_entries(out), 0);
    }
    lp_test_rmtree(dir);
}

/* The disk fills while the second shard is written: the first one, already
 * complete, goes too, and no temporary file stays. */
static void test_failure_halfway_removes_all(void **state)
{
    (void)state;
    char dir[4096], model[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    model_path(model, sizeof model, "synth-llama-Q4_K_M");
    lp_layer_range rg[2] = {{0, 1}, {1, 4}}; /* the second is the larger */
    lp_split_result res[2];
    lp_err err = {0};
    assert_int_equal(lp_split_model(model, rg, 2, dir, NULL, NULL, res, &err), 0);
    assert_true(res[0].size < res[1].size);
    uint64_t first_size = res[0].size;
    lp_test_rmtree(dir);
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = first_size + 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = lp_split_model(model, rg, 2, dir, NULL, NULL, res, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "shard-2-of-2"));
    assert_int_equal(count_entries(dir), 0);
    lp_test_rmtree(dir);
}

/* The command line: ids printed match the files; usage errors exit 2;
 * --workers-mem splits where the planner says. */
static void test_cli(void **state)
{
    (void)state;
    char dir[4096], coord[4096], model[4096], cmd[16384], out[8192];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_test_bin(coord, sizeof coord, "coord");
    model_path(model, sizeof model, "synth-qwen2-Q8_0");
    snprintf(cmd, sizeof cmd, "'%s' split -m '%s' --plan 0-1,1-3 -o '%s/o' 2>/dev/null", coord,
             model, dir);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
    for (int i = 1; i <= 2; i++) {
        char path[4300], hex[65];
        uint8_t id[32];
        lp_err err = {0};
        snprintf(path, sizeof path, "%s/o/synth-qwen2-Q8_0.shard-%d-of-2.gguf", dir, i);
        assert_int_equal(lp_sha256_file(path, id, NULL, &err), 0);
        lp_model_id_hex(id, hex);
        assert_non_null(strstr(out, hex));
        assert_non_null(strstr(out, path));
    }
    snprintf(cmd, sizeof cmd, "'%s' split -m '%s' --plan 0-1,2-3 -o '%s/p' 2>&1", coord, model,
             dir);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "contiguous"));
    snprintf(cmd, sizeof cmd, "'%s' split -m '%s' -o '%s/p' 2>&1", coord, model, dir);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--plan"));
    /* Ranges from the planner: one shard per worker budget. */
    snprintf(cmd, sizeof cmd, "'%s' split -m '%s' --workers-mem 512M,512M,1G -o '%s/q' 2>&1",
             coord, model, dir);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "shard 3/3  layers 2-3  +head"));
    snprintf(cmd, sizeof cmd, "%s/q", dir);
    assert_int_equal(count_entries(cmd), 3);
    /* Budgets that cannot hold the model: the planner says why, no files. */
    snprintf(cmd, sizeof cmd, "'%s' split -m '%s' --workers-mem 1M,1M -o '%s/r' 2>&1", coord,
             model, dir);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not fit"));
    assert_int_equal(count_entries(dir), 2);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_files_match_whole),
        cmocka_unit_test(test_shard_info_checks),
        cmocka_unit_test(test_bad_input_leaves_nothing),
        cmocka_unit_test(test_failure_halfway_removes_all),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
