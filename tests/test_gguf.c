/* GGUF reading on the real files in shared/: every model and vocab file
 * parses, its tensors and string arrays are where the bytes say, lookups
 * find every name, lp_gguf_copy reproduces each file byte for byte, and
 * parsing never reads tensor data. The writer's API is test_gguf_write.c's
 * job, hostile input test_gguf_fuzz.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "support.h"

/* ---- helpers ------------------------------------------------------------ */

typedef void (*file_fn)(const char *path, void *ctx);

/* Calls fn on every .gguf under shared/<dir>; returns how many. */
static int for_each_gguf(const char *dir, file_fn fn, void *ctx)
{
    char root[4096], path[4400];
    lp_test_shared(root, sizeof root, dir);
    DIR *d = opendir(root);
    if (!d)
        fail_msg("cannot open %s", root);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        fn(path, ctx);
        n++;
    }
    closedir(d);
    return n;
}

static lp_gguf *open_or_fail(const char *path)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(path, &err);
    if (!g)
        fail_msg("%s: %s", path, err.msg);
    return g;
}

static lp_gguf *open_shared(const char *rel)
{
    char path[4096];
    return open_or_fail(lp_test_shared(path, sizeof path, rel));
}

static uint64_t nelements(const lp_gguf_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

/* The offset table agrees with the bytes: string i+1 starts right where
 * string i ends, and the last one ends at nbytes. */
static void check_string_array(const lp_gguf_arr *a)
{
    const uint8_t *expect = a->data;
    for (uint64_t i = 0; i < a->n; i++) {
        lp_str s;
        assert_int_equal(lp_gguf_arr_str(a, i, &s), 0);
        assert_ptr_equal((const uint8_t *)s.ptr, expect + 8);
        expect = (const uint8_t *)s.ptr + s.len;
    }
    assert_ptr_equal(expect, a->data + a->nbytes);
    lp_str s;
    assert_int_equal(lp_gguf_arr_str(a, a->n, &s), -1);
}

static void check_parsed(const char *path, void *ctx)
{
    (void)ctx;
    lp_gguf *g = open_or_fail(path);
    assert_int_equal(g->version, 3);
    assert_true(g->n_kv > 0);
    assert_true(g->data_offset <= g->size);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const lp_gguf_kv *kv = &g->kv[i];
        char *key = strndup(kv->key.ptr, kv->key.len);
        assert_ptr_equal(lp_gguf_find(g, key), kv);
        free(key);
        if (kv->val.type == LP_GGUF_ARRAY && kv->val.v.arr.elem_type == LP_GGUF_STRING)
            check_string_array(&kv->val.v.arr);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        char name[LP_GGUF_MAX_NAME];
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = 0;
        assert_ptr_equal(lp_gguf_find_tensor(g, name), t);
        assert_int_equal(t->offset % g->alignment, 0);
        assert_ptr_equal(t->data, g->base + g->data_offset + t->offset);
        size_t row = lp_type_row_bytes(t->type, (int64_t)t->ne[0]);
        assert_int_equal(t->nbytes, row * (nelements(t) / t->ne[0]));
        assert_true(g->data_offset + t->offset + t->nbytes <= g->size);
    }
    if (g->n_tensors)
        assert_int_equal(g->data_offset % g->alignment, 0);
    lp_gguf_close(g);
}

static void test_parse_every_file(void **state)
{
    (void)state;
    assert_true(for_each_gguf("models", check_parsed, NULL) >= 20);
    assert_int_equal(for_each_gguf("vocab", check_parsed, NULL), 3);
}

/* ---- known values --------------------------------------------------------- */

static void test_stories260k(void **state)
{
    (void)state;
    lp_gguf *g = open_shared("models/stories260K.gguf");
    lp_str s;
    assert_int_equal(lp_gguf_get_str(g, "general.architecture", &s), 0);
    assert_true(lp_str_eq(s, "llama"));
    uint32_t u32;
    assert_int_equal(lp_gguf_get_u32(g, "llama.block_count", &u32), 0);
    assert_int_equal(u32, 5);
    assert_int_equal(lp_gguf_get_u32(g, "llama.embedding_length", &u32), 0);
    assert_int_equal(u32, 64);
    int64_t i64;
    uint64_t u64;
    assert_int_equal(lp_gguf_get_i64(g, "llama.attention.head_count", &i64), 0);
    assert_int_equal(i64, 8);
    assert_int_equal(lp_gguf_get_u64(g, "llama.attention.head_count_kv", &u64), 0);
    assert_int_equal(u64, 4);
    float f;
    assert_int_equal(lp_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f), 0);
    assert_true(f > 0 && f < 1e-3f);

    /* Wrong types and absent keys fail rather than convert. */
    assert_int_equal(lp_gguf_get_u32(g, "general.architecture", &u32), -1);
    assert_int_equal(lp_gguf_get_str(g, "llama.block_count", &s), -1);
    assert_int_equal(lp_gguf_get_f32(g, "llama.block_count", &f), -1);
    assert_int_equal(lp_gguf_get_u32(g, "llama.attention.layer_norm_rms_epsilon", &u32), -1);
    assert_int_equal(lp_gguf_get_u32(g, "no.such.key", &u32), -1);
    assert_null(lp_gguf_find(g, "llama.block_coun"));
    assert_null(lp_gguf_find_tensor(g, "token_embd.weigh"));

    lp_gguf_arr a;
    assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.tokens", &a), 0);
    assert_int_equal(a.elem_type, LP_GGUF_STRING);
    assert_int_equal(a.n, 512);
    assert_int_equal(lp_gguf_arr_str(&a, 0, &s), 0);
    assert_true(lp_str_eq(s, "<unk>"));
    assert_int_equal(lp_gguf_arr_str(&a, 1, &s), 0);
    assert_true(lp_str_eq(s, "<s>"));
    assert_int_equal(lp_gguf_arr_str(&a, 2, &s), 0);
    assert_true(lp_str_eq(s, "</s>"));
    assert_int_equal(lp_gguf_arr_f32(&a, 0, &f), -1);

    assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.scores", &a), 0);
    assert_int_equal(a.elem_type, LP_GGUF_FLOAT32);
    assert_int_equal(a.n, 512);
    assert_int_equal(lp_gguf_arr_f32(&a, 511, &f), 0);
    assert_int_equal(lp_gguf_arr_f32(&a, 512, &f), -1);
    assert_int_equal(lp_gguf_arr_str(&a, 0, &s), -1);

    assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.token_type", &a), 0);
    assert_int_equal(a.elem_type, LP_GGUF_INT32);
    assert_int_equal(lp_gguf_arr_i64(&a, 0, &i64), 0);
    assert_int_equal(i64, 2); /* <unk> is UNKNOWN */
    assert_int_equal(lp_gguf_arr_i64(&a, 1, &i64), 0);
    assert_int_equal(i64, 3); /* <s> is CONTROL */

    const lp_gguf_tensor *t = lp_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->type, LP_TYPE_F32);
    assert_int_equal(t->nbytes, 64 * 512 * 4);
    assert_non_null(lp_gguf_find_tensor(g, "blk.4.ffn_down.weight"));
    assert_null(lp_gguf_find_tensor(g, "blk.5.ffn_down.weight"));
    lp_gguf_close(g);
}

static void test_vocab_sizes(void **state)
{
    (void)state;
    static const struct { const char *file; uint64_t n_tokens; bool merges; } v[] = {
        {"vocab/ggml-vocab-llama-spm.gguf", 32000, false},
        {"vocab/ggml-vocab-llama-bpe.gguf", 128256, true},
        {"vocab/ggml-vocab-qwen2.gguf", 151669, true},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        lp_gguf *g = open_shared(v[k].file);
        lp_gguf_arr a;
        assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.tokens", &a), 0);
        if (a.n != v[k].n_tokens)
            fail_msg("%s: %llu tokens", v[k].file, (unsigned long long)a.n);
        lp_str last;
        assert_int_equal(lp_gguf_arr_str(&a, a.n - 1, &last), 0);
        assert_true(last.len > 0);
        assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.merges", &a) == 0, v[k].merges);
        assert_int_equal(g->n_tensors, 0);
        lp_gguf_close(g);
    }
}

/* ---- byte-identical copies -------------------------------------------------- */

static void check_copy(const char *path, void *ctx)
{
    const char *dir = ctx;
    char out[4200];
    snprintf(out, sizeof out, "%s/copy.gguf", dir);
    lp_gguf *g = open_or_fail(path);
    lp_err err = {0};
    if (lp_gguf_copy(g, out, &err) != 0)
        fail_msg("copy of %s: %s", path, err.msg);
    size_t n = 0;
    void *bytes = lp_test_read_file(out, &n);
    assert_non_null(bytes);
    if (n != g->size || memcmp(bytes, g->base, n) != 0)
        fail_msg("copy of %s differs (%zu bytes vs %llu)", path, n,
                 (unsigned long long)g->size);
    free(bytes);
    lp_gguf_close(g);
    unlink(out);
}

static void test_copy_is_byte_identical(void **state)
{
    (void)state;
    char dir[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    assert_true(for_each_gguf("models", check_copy, dir) >= 20);
    assert_int_equal(for_each_gguf("vocab", check_copy, dir), 3);
    lp_test_rmtree(dir);
}

/* ---- many names ------------------------------------------------------------ */

/* 60000 kvs (keys "k.<i>") in a hand-built buffer: every one is found by
 * name, lookalikes are not, and a copy reproduces the buffer. */
static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 60000 };
    size_t cap = 24 + (size_t)N * 32, n = 0;
    uint8_t *buf = malloc(cap);
    memcpy(buf, "GGUF", 4);
    uint32_t v3 = 3;
    uint64_t zero = 0, nkv = N;
    memcpy(buf + 4, &v3, 4);
    memcpy(buf + 8, &zero, 8);
    memcpy(buf + 16, &nkv, 8);
    n = 24;
    for (uint32_t i = 0; i < N; i++) {
        char key[16];
        uint64_t len = (uint64_t)snprintf(key, sizeof key, "k.%u", (i * 7919u) % N);
        uint32_t t = LP_GGUF_UINT32, v = (i * 7919u) % N;
        memcpy(buf + n, &len, 8);
        memcpy(buf + n + 8, key, len);
        memcpy(buf + n + 8 + len, &t, 4);
        memcpy(buf + n + 12 + len, &v, 4);
        n += 16 + len;
    }
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open_mem(buf, n, &err);
    if (!g)
        fail_msg("%s", err.msg);
    assert_int_equal(g->n_kv, N);
    for (uint32_t i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof key, "k.%u", i);
        uint32_t v = 0;
        if (lp_gguf_get_u32(g, key, &v) != 0 || v != i)
            fail_msg("%s: %u", key, v);
    }
    assert_null(lp_gguf_find(g, "k."));
    assert_null(lp_gguf_find(g, "k.60000"));
    assert_null(lp_gguf_find(g, "k.1 "));
    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/many.gguf", dir);
    assert_int_equal(lp_gguf_copy(g, path, &err), 0);
    size_t n2;
    void *copy = lp_test_read_file(path, &n2);
    /* 32 does not divide n: the unpadded original comes back unpadded. */
    assert_int_equal(n2, n);
    assert_memory_equal(copy, buf, n);
    free(copy);
    lp_gguf_close(g);
    free(buf);
    lp_test_rmtree(dir);
}

/* ---- open errors and laziness ------------------------------------------------ */

static void test_open_errors(void **state)
{
    (void)state;
    lp_err err = {0};
    assert_null(lp_gguf_open("/nonexistent/x.gguf", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/x.gguf"));
    err.msg[0] = 0;
    assert_null(lp_gguf_open("/dev/null", &err));
    assert_true(err.msg[0] != 0);
    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_null(lp_gguf_open(path, &err));
    assert_non_null(strstr(err.msg, "empty"));
    assert_null(lp_gguf_open(dir, &err));
    lp_test_rmtree(dir);
    assert_null(lp_gguf_open("/nonexistent", NULL)); /* a NULL err is allowed */
}

/* Parsing never reads tensor data: with every data page unreadable, the
 * file still opens (a read there would fault). */
static void test_parse_does_not_touch_data(void **state)
{
    (void)state;
    char path[4096];
    size_t n = 0;
    uint8_t *bytes = lp_test_read_file(
        lp_test_shared(path, sizeof path, "models/synth-llama-Q4_K_M.gguf"), &n);
    assert_non_null(bytes);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t maplen = (n + page - 1) / page * page;
    uint8_t *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    memcpy(m, bytes, n);
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open_mem(m, n, &err);
    assert_non_null(g);
    size_t first = (size_t)(g->data_offset + page - 1) / page * page;
    lp_gguf_close(g);
    assert_true(first < maplen);
    assert_int_equal(mprotect(m + first, maplen - first, PROT_NONE), 0);
    g = lp_gguf_open_mem(m, n, &err);
    if (!g)
        fail_msg("%s", err.msg);
    assert_int_equal(g->n_tensors, 39);
    lp_gguf_close(g);
    munmap(m, maplen);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_every_file),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_vocab_sizes),
        cmocka_unit_test(test_copy_is_byte_identical),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_parse_does_not_touch_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
