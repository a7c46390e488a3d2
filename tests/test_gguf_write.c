/* The GGUF writer's API: values of every type and the getters' range
 * checks, tensors at llama.cpp's offsets with zero padding, general.alignment,
 * nested arrays, refusals of bad input, and failed writes that leave no
 * file behind. (Copying real files byte for byte is in test_gguf.c.) */
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
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "support.h"

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

/* ---- the writer API --------------------------------------------------------- */

static lp_gguf *write_and_reopen(lp_gguf_writer *w, const char *path)
{
    lp_err err = {0};
    if (lp_gguf_writer_write(w, path, &err) != 0)
        fail_msg("write %s: %s", path, err.msg);
    return open_or_fail(path);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/w.gguf", dir);
    lp_gguf *src = open_shared("models/stories260K.gguf");
    lp_err err = {0};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    assert_non_null(w);

    float f32data[8 * 3];
    for (int i = 0; i < 8 * 3; i++)
        f32data[i] = (float)i * 0.5f - 3;
    uint8_t q8data[2 * 2 * 34];
    for (size_t i = 0; i < sizeof q8data; i++)
        q8data[i] = (uint8_t)(i * 7 + 1);
    const uint64_t ne_a[2] = {8, 3}, ne_b[2] = {64, 2}, ne_c[1] = {5};

    assert_int_equal(lp_gguf_writer_set_str(w, "general.architecture", "llama", &err), 0);
    assert_int_equal(lp_gguf_writer_set_u32(w, "llama.block_count", 7, &err), 0);
    assert_int_equal(lp_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.5f, &err), 0);
    assert_int_equal(lp_gguf_writer_add_kv(w, lp_gguf_find(src, "tokenizer.ggml.tokens"),
                                           &err), 0);
    /* A second set of an existing key replaces it where it stands. */
    assert_int_equal(lp_gguf_writer_set_u32(w, "llama.block_count", 9, &err), 0);
    assert_int_equal(lp_gguf_writer_add_tensor(w, "a", LP_TYPE_F32, 2, ne_a, f32data, &err), 0);
    assert_int_equal(lp_gguf_writer_add_tensor(w, "b.q8", LP_TYPE_Q8_0, 2, ne_b, q8data,
                                               &err), 0);
    assert_int_equal(lp_gguf_writer_add_tensor(w, "c", LP_TYPE_F32, 1, ne_c, f32data, &err), 0);

    /* Refused: a duplicate name, an unknown or removed type, a partial block. */
    assert_int_equal(lp_gguf_writer_add_tensor(w, "a", LP_TYPE_F32, 2, ne_a, f32data, &err), -1);
    assert_non_null(strstr(err.msg, "duplicate"));
    assert_int_equal(lp_gguf_writer_add_tensor(w, "d", 4, 2, ne_a, f32data, &err), -1);
    assert_int_equal(lp_gguf_writer_add_tensor(w, "d", 1000, 2, ne_a, f32data, &err), -1);
    assert_int_equal(lp_gguf_writer_add_tensor(w, "d", LP_TYPE_Q8_0, 2, ne_a, q8data, &err), -1);

    lp_gguf *g = write_and_reopen(w, path);
    assert_int_equal(g->n_kv, 4);
    assert_true(lp_str_eq(g->kv[0].key, "general.architecture"));
    assert_true(lp_str_eq(g->kv[1].key, "llama.block_count"));
    assert_true(lp_str_eq(g->kv[2].key, "llama.rope.freq_base"));
    assert_true(lp_str_eq(g->kv[3].key, "tokenizer.ggml.tokens"));
    uint32_t u32;
    float f;
    lp_str s;
    assert_int_equal(lp_gguf_get_u32(g, "llama.block_count", &u32), 0);
    assert_int_equal(u32, 9);
    assert_int_equal(lp_gguf_get_f32(g, "llama.rope.freq_base", &f), 0);
    assert_true(f == 10000.5f);
    lp_gguf_arr a, b;
    assert_int_equal(lp_gguf_get_arr(g, "tokenizer.ggml.tokens", &a), 0);
    assert_int_equal(lp_gguf_get_arr(src, "tokenizer.ggml.tokens", &b), 0);
    assert_int_equal(a.n, 512);
    assert_int_equal(a.nbytes, b.nbytes);
    assert_memory_equal(a.data, b.data, a.nbytes);
    assert_int_equal(lp_gguf_arr_str(&a, 300, &s), 0);
    lp_str s2;
    assert_int_equal(lp_gguf_arr_str(&b, 300, &s2), 0);
    assert_int_equal(s.len, s2.len);
    assert_memory_equal(s.ptr, s2.ptr, s.len);

    /* llama.cpp's layout: 96 bytes of a, then b at 96 (already aligned),
     * 136 bytes padded to 160, then c at 96 + 160 = 256. */
    assert_int_equal(g->n_tensors, 3);
    assert_int_equal(g->alignment, 32);
    assert_int_equal(g->data_offset % 32, 0);
    assert_int_equal(g->tensors[0].offset, 0);
    assert_int_equal(g->tensors[1].offset, 96);
    assert_int_equal(g->tensors[2].offset, 256);
    assert_int_equal(g->tensors[1].type, LP_TYPE_Q8_0);
    assert_int_equal(g->tensors[1].ne[0], 64);
    assert_int_equal(g->tensors[1].ne[1], 2);
    assert_int_equal(g->tensors[2].n_dims, 1);
    assert_int_equal(g->size, g->data_offset + 256 + 32);
    assert_memory_equal(g->tensors[0].data, f32data, sizeof f32data);
    assert_memory_equal(g->tensors[1].data, q8data, sizeof q8data);
    assert_memory_equal(g->tensors[2].data, f32data, 5 * 4);
    for (uint64_t i = 96 + 136; i < 256; i++) /* zero padding */
        assert_int_equal(g->base[g->data_offset + i], 0);
    lp_gguf_close(g);

    /* general.alignment moves every offset to multiples of 64. */
    assert_int_equal(lp_gguf_writer_set_u32(w, "general.alignment", 64, &err), 0);
    g = write_and_reopen(w, path);
    assert_int_equal(g->alignment, 64);
    assert_int_equal(g->data_offset % 64, 0);
    assert_int_equal(g->tensors[1].offset, 128);
    assert_int_equal(g->tensors[2].offset, 128 + 192);
    lp_gguf_close(g);

    /* A bad alignment is refused at write time and leaves no file. */
    unlink(path);
    assert_int_equal(lp_gguf_writer_set_u32(w, "general.alignment", 48, &err), 0);
    assert_int_equal(lp_gguf_writer_write(w, path, &err), -1);
    assert_non_null(strstr(err.msg, "general.alignment"));
    assert_int_equal(access(path, F_OK), -1);

    lp_gguf_writer_free(w);
    lp_gguf_close(src);
    lp_test_rmtree(dir);
}

/* Scalars of every type through add_kv, and the getters' range checks. */
static void test_writer_types_and_getters(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/t.gguf", dir);
    lp_err err = {0};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    static const struct { const char *key; lp_gguf_type t; int64_t i; uint64_t u; double f; } v[] = {
        {"i8", LP_GGUF_INT8, -5, 0, 0},
        {"u8", LP_GGUF_UINT8, 0, 200, 0},
        {"i16", LP_GGUF_INT16, -30000, 0, 0},
        {"u16", LP_GGUF_UINT16, 0, 65535, 0},
        {"i32", LP_GGUF_INT32, INT32_MIN, 0, 0},
        {"u32", LP_GGUF_UINT32, 0, UINT32_MAX, 0},
        {"i64", LP_GGUF_INT64, INT64_MIN, 0, 0},
        {"u64", LP_GGUF_UINT64, 0, UINT64_MAX, 0},
        {"u64small", LP_GGUF_UINT64, 0, 77, 0},
        {"bool", LP_GGUF_BOOL, 0, 1, 0},
        {"f32", LP_GGUF_FLOAT32, 0, 0, 0.25},
        {"f64", LP_GGUF_FLOAT64, 0, 0, 1e300},
        {"f64small", LP_GGUF_FLOAT64, 0, 0, -2.5},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        lp_gguf_kv kv = {.key = {v[k].key, strlen(v[k].key)}, .val.type = v[k].t};
        if (v[k].t == LP_GGUF_FLOAT32 || v[k].t == LP_GGUF_FLOAT64)
            kv.val.v.f64 = v[k].f;
        else if (v[k].i)
            kv.val.v.i64 = v[k].i;
        else
            kv.val.v.u64 = v[k].u;
        if (lp_gguf_writer_add_kv(w, &kv, &err) != 0)
            fail_msg("%s: %s", v[k].key, err.msg);
    }
    /* Values that do not fit their type, and invalid types, are refused. */
    lp_gguf_kv bad = {.key = {"bad", 3}, .val.type = LP_GGUF_UINT8, .val.v.u64 = 256};
    assert_int_equal(lp_gguf_writer_add_kv(w, &bad, &err), -1);
    bad.val.type = LP_GGUF_INT16;
    bad.val.v.i64 = 40000;
    assert_int_equal(lp_gguf_writer_add_kv(w, &bad, &err), -1);
    bad.val.type = (lp_gguf_type)13;
    assert_int_equal(lp_gguf_writer_add_kv(w, &bad, &err), -1);

    lp_gguf *g = write_and_reopen(w, path);
    int64_t i64;
    uint64_t u64;
    uint32_t u32;
    float f;
    bool b;
    assert_int_equal(lp_gguf_get_i64(g, "i8", &i64), 0);
    assert_int_equal(i64, -5);
    assert_int_equal(lp_gguf_get_u64(g, "i8", &u64), -1); /* negative */
    assert_int_equal(lp_gguf_get_u32(g, "u8", &u32), 0);
    assert_int_equal(u32, 200);
    assert_int_equal(lp_gguf_get_i64(g, "i16", &i64), 0);
    assert_int_equal(i64, -30000);
    assert_int_equal(lp_gguf_get_u32(g, "u16", &u32), 0);
    assert_int_equal(u32, 65535);
    assert_int_equal(lp_gguf_get_i64(g, "i32", &i64), 0);
    assert_int_equal(i64, INT32_MIN);
    assert_int_equal(lp_gguf_get_u32(g, "u32", &u32), 0);
    assert_int_equal(u32, UINT32_MAX);
    assert_int_equal(lp_gguf_get_i64(g, "i64", &i64), 0);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(lp_gguf_get_u64(g, "u64", &u64), 0);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(lp_gguf_get_u32(g, "u64", &u32), -1); /* too big */
    assert_int_equal(lp_gguf_get_i64(g, "u64", &i64), -1); /* too big */
    assert_int_equal(lp_gguf_get_u32(g, "u64small", &u32), 0);
    assert_int_equal(u32, 77);
    assert_int_equal(lp_gguf_get_bool(g, "bool", &b), 0);
    assert_true(b);
    assert_int_equal(lp_gguf_get_u32(g, "bool", &u32), -1);
    assert_int_equal(lp_gguf_get_bool(g, "u8", &b), -1);
    assert_int_equal(lp_gguf_get_f32(g, "f32", &f), 0);
    assert_true(f == 0.25f);
    assert_int_equal(lp_gguf_get_f32(g, "f64", &f), -1); /* out of f32 range */
    assert_int_equal(lp_gguf_get_f32(g, "f64small", &f), 0);
    assert_true(f == -2.5f);
    assert_int_equal(lp_gguf_get_f32(g, "u32", &f), -1);
    assert_int_equal(lp_gguf_get_i64(g, "f32", &i64), -1);
    assert_int_equal(g->n_tensors, 0);
    assert_int_equal(g->data_offset % 32, 0); /* padded after the infos */
    assert_int_equal(g->data_offset, g->size);
    lp_gguf_close(g);
    lp_gguf_writer_free(w);
    lp_test_rmtree(dir);
}

/* Little builders for hand-made array values. */
static size_t put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); return 4; }
static size_t put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); return 8; }
static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    put_u64(p, n);
    memcpy(p + 8, s, n);
    return 8 + n;
}

/* An array of 3 arrays: [["ab", "", "xyz"], [], [1.5f, 2.5f]] */
static void test_nested_arrays(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = 0;
    n += put_u32(buf + n, LP_GGUF_STRING);
    n += put_u64(buf + n, 3);
    n += put_str(buf + n, "ab");
    n += put_str(buf + n, "");
    n += put_str(buf + n, "xyz");
    n += put_u32(buf + n, LP_GGUF_INT8);
    n += put_u64(buf + n, 0);
    n += put_u32(buf + n, LP_GGUF_FLOAT32);
    n += put_u64(buf + n, 2);
    float fl[2] = {1.5f, 2.5f};
    memcpy(buf + n, fl, 8);
    n += 8;
    lp_gguf_kv kv = {.key = {"nested", 6}, .val.type = LP_GGUF_ARRAY,
                     .val.v.arr = {.elem_type = LP_GGUF_ARRAY, .n = 3, .data = buf, .nbytes = n}};

    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/n.gguf", dir);
    lp_err err = {0};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    assert_int_equal(lp_gguf_writer_add_kv(w, &kv, &err), 0);
    /* An inconsistent array (one byte short) is refused, not written. */
    lp_gguf_kv shorter = kv;
    shorter.key.ptr = "short";
    shorter.key.len = 5;
    shorter.val.v.arr.nbytes--;
    assert_int_equal(lp_gguf_writer_add_kv(w, &shorter, &err), -1);

    lp_gguf *g = write_and_reopen(w, path);
    lp_gguf_arr a, in;
    lp_str s;
    float f;
    assert_int_equal(lp_gguf_get_arr(g, "nested", &a), 0);
    assert_int_equal(a.elem_type, LP_GGUF_ARRAY);
    assert_int_equal(a.n, 3);
    assert_int_equal(lp_gguf_arr_arr(&a, 0, &in), 0);
    assert_int_equal(in.elem_type, LP_GGUF_STRING);
    assert_int_equal(in.n, 3);
    assert_int_equal(lp_gguf_arr_str(&in, 0, &s), 0);
    assert_true(lp_str_eq(s, "ab"));
    assert_int_equal(lp_gguf_arr_str(&in, 1, &s), 0);
    assert_true(lp_str_eq(s, ""));
    assert_int_equal(lp_gguf_arr_str(&in, 2, &s), 0);
    assert_true(lp_str_eq(s, "xyz"));
    assert_int_equal(lp_gguf_arr_str(&in, 3, &s), -1);
    assert_int_equal(lp_gguf_arr_arr(&a, 1, &in), 0);
    assert_int_equal(in.elem_type, LP_GGUF_INT8);
    assert_int_equal(in.n, 0);
    assert_int_equal(in.nbytes, 0);
    assert_int_equal(lp_gguf_arr_arr(&a, 2, &in), 0);
    assert_int_equal(in.n, 2);
    assert_int_equal(in.nbytes, 8);
    assert_int_equal(lp_gguf_arr_f32(&in, 1, &f), 0);
    assert_true(f == 2.5f);
    assert_int_equal(lp_gguf_arr_arr(&a, 3, &in), -1);
    assert_int_equal(lp_gguf_arr_str(&a, 0, &s), -1);

    /* Copying the parsed nested kv reproduces the file. */
    char path2[4300];
    snprintf(path2, sizeof path2, "%s/n2.gguf", dir);
    assert_int_equal(lp_gguf_copy(g, path2, &err), 0);
    size_t n1, n2;
    void *b1 = lp_test_read_file(path, &n1), *b2 = lp_test_read_file(path2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    lp_gguf_close(g);
    lp_gguf_writer_free(w);
    lp_test_rmtree(dir);
}
/* ---- write failures --------------------------------------------------------- */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* A file-size limit makes write() fail with EFBIG, as a full disk would
 * with ENOSPC: the error is reported and no file, whole or partial, stays. */
static void test_write_failure_leaves_nothing(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/big.gguf", dir);
    lp_gguf *g = open_shared("models/stories260K.gguf");

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    lp_err err = {0};
    int rc = lp_gguf_copy(g, path, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(count_entries(dir), 0);

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/no/such/dir.gguf", dir);
    assert_int_equal(lp_gguf_copy(g, path, &err), -1);
    assert_non_null(strstr(err.msg, "no/such"));

    /* And the same copy succeeds without the limit. */
    snprintf(path, sizeof path, "%s/big.gguf", dir);
    assert_int_equal(lp_gguf_copy(g, path, &err), 0);
    assert_int_equal(count_entries(dir), 1);
    lp_gguf_close(g);
    lp_test_rmtree(dir);
}

/* Bytes a fill function makes from their offset, so any misplaced chunk
 * shows; fail_at makes it fail partway through. */
typedef struct gen_ctx {
    uint64_t fail_at; /* UINT64_MAX: never */
    int calls;
} gen_ctx;

static uint8_t gen_byte(uint64_t off) { return (uint8_t)((off * 2654435761u) >> 13); }

static int gen_fill(void *ctx, void *buf, uint64_t offset, size_t len, lp_err *err)
{
    gen_ctx *g = ctx;
    g->calls++;
    if (offset + len > g->fail_at)
        return lp_err_set(err, "generator stopped at %llu", (unsigned long long)g->fail_at);
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++)
        b[i] = gen_byte(offset + i);
    return 0;
}

/* A generated tensor larger than one chunk lands whole and in order beside
 * an ordinary one; a fill that fails abandons the file with its message. */
static void test_fill_tensor_streams(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/gen.gguf", dir);
    const uint64_t rows = 2 * LP_GGUF_FILL_CHUNK / 4096 + 3, ne[2] = {4096, rows};
    const uint64_t small_ne[1] = {8};
    const float small[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    gen_ctx gc = {.fail_at = UINT64_MAX};
    lp_err err = {0};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    assert_non_null(w);
    assert_int_equal(lp_gguf_writer_add_tensor(w, "small", LP_TYPE_F32, 1, small_ne, small,
                                               &err), 0);
    assert_int_equal(lp_gguf_writer_add_tensor_fill(w, "gen", 24 /* I8 */, 2, ne, gen_fill,
                                                    &gc, &err), 0);
    lp_gguf *g = write_and_reopen(w, path);
    assert_int_equal(gc.calls, 3);
    const lp_gguf_tensor *t = lp_gguf_find_tensor(g, "gen");
    assert_non_null(t);
    const uint8_t *d = t->data;
    for (uint64_t i = 0; i < 4096 * rows; i++)
        if (d[i] != gen_byte(i))
            fail_msg("byte %llu differs", (unsigned long long)i);
    assert_memory_equal(lp_gguf_find_tensor(g, "small")->data, small, sizeof small);
    lp_gguf_close(g);

    gc = (gen_ctx){.fail_at = LP_GGUF_FILL_CHUNK + 5};
    snprintf(path, sizeof path, "%s/fail.gguf", dir);
    assert_int_equal(lp_gguf_writer_write(w, path, &err), -1);
    assert_non_null(strstr(err.msg, "generator stopped"));
    assert_int_equal(count_entries(dir), 1); /* gen.gguf only */
    lp_gguf_writer_free(w);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_types_and_getters),
        cmocka_unit_test(test_nested_arrays),
        cmocka_unit_test(test_write_failure_leaves_nothing),
        cmocka_unit_test(test_fill_tensor_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
