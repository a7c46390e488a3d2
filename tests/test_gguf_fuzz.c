/* The GGUF reader against hostile files: real files truncated at every
 * offset of their header region, hand-made corruptions of each field (each
 * checked for its own error message), and a fixed-seed byte-mutation loop.
 * Nothing here may crash or read out of bounds (run it under ASan: the
 * truncated tail is poisoned, so a one-byte over-read is caught). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gguf.h"
#include "quant.h"
#include "support.h"
#include "vec.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ---- helpers ------------------------------------------------------------ */

static uint8_t *read_shared(const char *rel, size_t *n)
{
    char path[4096];
    uint8_t *b = lp_test_read_file(lp_test_shared(path, sizeof path, rel), n);
    if (!b)
        fail_msg("cannot read %s", path);
    return b;
}

/* Reads through everything a parsed file offers, so a bad table or
 * pointer would be caught by ASan. Returns a checksum to keep it live. */
static uint64_t touch_all(const lp_gguf *g)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const lp_gguf_value *v = &g->kv[i].val;
        sum += g->kv[i].key.len ? (uint8_t)g->kv[i].key.ptr[g->kv[i].key.len - 1] : 0;
        if (v->type == LP_GGUF_STRING && v->v.str.len)
            sum += (uint8_t)v->v.str.ptr[v->v.str.len - 1];
        if (v->type != LP_GGUF_ARRAY)
            continue;
        lp_gguf_arr a = v->v.arr, in;
        for (uint64_t j = 0; j < a.n; j++) {
            lp_str s;
            float f;
            int64_t x;
            if (lp_gguf_arr_str(&a, j, &s) == 0 && s.len)
                sum += (uint8_t)s.ptr[s.len - 1];
            if (lp_gguf_arr_f32(&a, j, &f) == 0)
                sum += f == f;
            if (lp_gguf_arr_i64(&a, j, &x) == 0)
                sum += (uint64_t)x;
            if (lp_gguf_arr_arr(&a, j, &in) == 0 && in.nbytes)
                sum += in.data[in.nbytes - 1];
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].nbytes)
            sum += ((const uint8_t *)g->tensors[i].data)[g->tensors[i].nbytes - 1];
    return sum;
}

/* ---- (a) truncation ----------------------------------------------------- */

/* Parses buf[0, k) with buf[k, cap) poisoned. */
static lp_gguf *open_prefix(uint8_t *buf, size_t cap, size_t k, lp_err *err)
{
    POISON(buf + k, cap - k);
    err->msg[0] = 0;
    lp_gguf *g = lp_gguf_open_mem(buf, k, err);
    UNPOISON(buf, cap);
    return g;
}

static void expect_truncation_fails(uint8_t *buf, size_t cap, size_t k)
{
    lp_err err;
    lp_gguf *g = open_prefix(buf, cap, k, &err);
    if (g)
        fail_msg("truncated at %zu: parsed", k);
    if (err.msg[0] == 0)
        fail_msg("truncated at %zu: no message", k);
}

static void test_truncated_model(void **state)
{
    (void)state;
    size_t n;
    uint8_t *file = read_shared("models/stories260K-Q4_K_M.gguf", &n);
    size_t cap = (n + 7) & ~(size_t)7;
    uint8_t *buf = malloc(cap);
    memcpy(buf, file, n);
    lp_err err;
    lp_gguf *g = lp_gguf_open_mem(buf, n, &err);
    assert_non_null(g);
    uint64_t meta = g->data_offset, data_end = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        uint64_t e = g->data_offset + g->tensors[i].offset + g->tensors[i].nbytes;
        data_end = e > data_end ? e : data_end;
    }
    lp_gguf_close(g);
    assert_true(meta > 10000);

    for (size_t k = 0; k <= meta; k++)
        expect_truncation_fails(buf, cap, k);
    /* In the data section: fails until the last tensor's bytes are all there. */
    for (size_t k = meta; k <= n; k += (k + 1009 < n || k == n) ? 1009 : n - k) {
        g = open_prefix(buf, cap, k, &err);
        if ((g != NULL) != (k >= data_end))
            fail_msg("truncated at %zu (data ends at %llu): %s", k,
                     (unsigned long long)data_end, g ? "parsed" : err.msg);
        if (!g)
            assert_non_null(strstr(err.msg, "past end of file"));
        lp_gguf_close(g);
    }
    free(buf);
    free(file);
}

/* A tokenizer-only file is all metadata: every offset of its first 8 KiB,
 * a few bytes around every kv boundary, and a stride through the rest. */
static void test_truncated_vocab(void **state)
{
    (void)state;
    size_t n;
    uint8_t *file = read_shared("vocab/ggml-vocab-llama-spm.gguf", &n);
    size_t cap = (n + 7) & ~(size_t)7;
    uint8_t *buf = malloc(cap);
    memcpy(buf, file, n);
    lp_err err;
    lp_gguf *g = lp_gguf_open_mem(buf, n, &err);
    assert_non_null(g);
    assert_int_equal(g->data_offset, n); /* no padding in this older file */
    for (size_t k = 0; k < 8192; k++)
        expect_truncation_fails(buf, cap, k);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        size_t at = (size_t)((const uint8_t *)g->kv[i].key.ptr - buf) - 8;
        for (size_t k = at > 12 ? at - 12 : 0; k < at + 24 && k < n; k++)
            expect_truncation_fails(buf, cap, k);
    }
    for (size_t k = 8192; k < n; k += 397)
        expect_truncation_fails(buf, cap, k);
    for (size_t k = n - 64; k < n; k++)
        expect_truncation_fails(buf, cap, k);
    lp_gguf_close(g);
    free(buf);
    free(file);
}

/* ---- (b) targeted corruptions ------------------------------------------- */

typedef struct bld {
    uint8_t *p;
    size_t n, cap;
} bld;

static void b_put(bld *b, const void *v, size_t n)
{
    b->p = lp_vec_reserve(b->p, &b->cap, b->n, n, 1);
    assert_non_null(b->p);
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static size_t b_u32(bld *b, uint32_t v) { size_t at = b->n; b_put(b, &v, 4); return at; }
static size_t b_u64(bld *b, uint64_t v) { size_t at = b->n; b_put(b, &v, 8); return at; }
static size_t b_str(bld *b, const char *s)
{
    size_t at = b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
    return at;
}

static void b_pad(bld *b, size_t a)
{
    static const uint8_t z[64];
    while (b->n % a)
        b_put(b, z, 1);
}

/* Where each field of the base file lies. */
typedef struct layout {
    size_t kv0, kv0_type, kv0_str, align_kv, align_type, align_val, kv3_key;
    size_t arr_et, arr_n, arr_s0, nested;
    size_t t0, t0_ndims, t0_ne0, t0_ne1, t0_type, t0_off;
    size_t t1, t1_name, t1_ne0, t1_type, t1_off;
} layout;

/* A small valid file: 5 kvs (a string, the alignment, a string array, a
 * key that differs from kv 0 only in its last byte, an array of arrays) and
 * 2 tensors (f32 [32, 2] at 0, q8_0 [64] at 256). */
static void build_base(bld *b, layout *l)
{
    memset(b, 0, sizeof *b);
    b_put(b, "GGUF", 4);
    b_u32(b, 3);
    b_u64(b, 2);
    b_u64(b, 5);
    l->kv0 = b_str(b, "general.architecture");
    l->kv0_type = b_u32(b, LP_GGUF_STRING);
    l->kv0_str = b_str(b, "llama");
    l->align_kv = b_str(b, "general.alignment");
    l->align_type = b_u32(b, LP_GGUF_UINT32);
    l->align_val = b_u32(b, 32);
    b_str(b, "tokenizer.ggml.tokens");
    b_u32(b, LP_GGUF_ARRAY);
    l->arr_et = b_u32(b, LP_GGUF_STRING);
    l->arr_n = b_u64(b, 3);
    l->arr_s0 = b_str(b, "a");
    b_str(b, "bc");
    b_str(b, "def");
    l->kv3_key = b_str(b, "general.architecturX");
    b_u32(b, LP_GGUF_UINT8);
    uint8_t one = 1;
    b_put(b, &one, 1);
    b_str(b, "nested");
    l->nested = b_u32(b, LP_GGUF_ARRAY);
    b_u32(b, LP_GGUF_ARRAY);
    b_u64(b, 2);
    b_u32(b, LP_GGUF_INT16);
    b_u64(b, 1);
    uint16_t h = 7;
    b_put(b, &h, 2);
    b_u32(b, LP_GGUF_STRING);
    b_u64(b, 1);
    b_str(b, "in");

    l->t0 = b_str(b, "t0");
    l->t0_ndims = b_u32(b, 2);
    l->t0_ne0 = b_u64(b, 32);
    l->t0_ne1 = b_u64(b, 2);
    l->t0_type = b_u32(b, LP_TYPE_F32);
    l->t0_off = b_u64(b, 0);
    l->t1 = b_str(b, "t1");
    l->t1_name = l->t1 + 8;
    b_u32(b, 1);
    l->t1_ne0 = b_u64(b, 64);
    l->t1_type = b_u32(b, LP_TYPE_Q8_0);
    l->t1_off = b_u64(b, 256);
    b_pad(b, 32);
    for (int i = 0; i < 256 + 68; i++) {
        uint8_t x = (uint8_t)i;
        b_put(b, &x, 1);
    }
    b_pad(b, 32);
}

static void set32(bld *b, size_t at, uint32_t v) { memcpy(b->p + at, &v, 4); }
static void set64(bld *b, size_t at, uint64_t v) { memcpy(b->p + at, &v, 8); }

/* Parses an exact-size heap copy (so ASan sees any over-read). */
static bool parse_copy(const bld *b, lp_err *err)
{
    uint8_t *c = malloc(b->n);
    memcpy(c, b->p, b->n);
    err->msg[0] = 0;
    lp_gguf *g = lp_gguf_open_mem(c, b->n, err);
    if (g) {
        touch_all(g);
        lp_gguf_close(g);
    }
    free(c);
    return g != NULL;
}

#define EXPECT_ERROR(b, what, ...) expect_error(b, __LINE__, what, (const char *[]){__VA_ARGS__, NULL})

/* The file must fail with a message containing every given piece. */
static void expect_error(bld *b, int line, const char *what, const char **pieces)
{
    lp_err err;
    if (parse_copy(b, &err))
        fail_msg("line %d (%s): parsed", line, what);
    for (const char **p = pieces; *p; p++)
        if (!strstr(err.msg, *p))
            fail_msg("line %d (%s): expected '%s' in: %s", line, what, *p, err.msg);
    free(b->p);
}

static char *fmt(char *buf, size_t n, const char *f, size_t v)
{
    snprintf(buf, n, f, v);
    return buf;
}

static void test_base_file_parses(void **state)
{
    (void)state;
    bld b;
    layout l;
    build_base(&b, &l);
    uint8_t *c = malloc(b.n);
    memcpy(c, b.p, b.n);
    lp_err err;
    lp_gguf *g = lp_gguf_open_mem(c, b.n, &err);
    if (!g)
        fail_msg("%s", err.msg);
    assert_int_equal(g->n_kv, 5);
    assert_int_equal(g->n_tensors, 2);
    assert_int_equal(g->tensors[1].nbytes, 68);
    lp_gguf_arr a, in;
    lp_str s;
    assert_int_equal(lp_gguf_get_arr(g, "nested", &a), 0);
    assert_int_equal(lp_gguf_arr_arr(&a, 1, &in), 0);
    assert_int_equal(lp_gguf_arr_str(&in, 0, &s), 0);
    assert_true(lp_str_eq(s, "in"));
    lp_gguf_close(g);
    free(c);
    free(b.p);
}

static void test_header_corruptions(void **state)
{
    (void)state;
    bld b;
    layout l;
    build_base(&b, &l);
    b.p[0] = 'X';
    EXPECT_ERROR(&b, "magic", "bad magic", "offset 0");
    /* v2 differs from v3 only in allowing big-endian files: it parses. */
    build_base(&b, &l);
    set32(&b, 4, 2);
    lp_err err;
    if (!parse_copy(&b, &err))
        fail_msg("v2: %s", err.msg);
    free(b.p);
    build_base(&b, &l);
    set32(&b, 4, 1);
    EXPECT_ERROR(&b, "v1", "version 1", "no longer supported");
    build_base(&b, &l);
    set32(&b, 4, 99);
    EXPECT_ERROR(&b, "v99", "version 99", "not supported");
    build_base(&b, &l);
    set32(&b, 4, 0x03000000);
    EXPECT_ERROR(&b, "big-endian", "big-endian");
    build_base(&b, &l);
    set64(&b, 16, (uint64_t)1 << 62);
    EXPECT_ERROR(&b, "n_kv", "n_kv = 4611686018427387904", "offset 16");
    build_base(&b, &l);
    set64(&b, 8, UINT64_MAX / 3);
    EXPECT_ERROR(&b, "n_tensors", "n_tensors = 6148914691236517205", "offset 8");
    /* Counts one too large, in a file cut right after the last entry. */
    build_base(&b, &l);
    set64(&b, 8, 0);
    set64(&b, 16, 6);
    b.n = l.t0;
    EXPECT_ERROR(&b, "n_kv + 1", "kv 5", "key at offset", "needs 8 bytes, only 0 left");
    build_base(&b, &l);
    set64(&b, 8, 3);
    b.n = l.t1_off + 8;
    EXPECT_ERROR(&b, "n_tensors + 1", "tensor 2", "name at offset", "only 0 left");
}

static void test_kv_corruptions(void **state)
{
    (void)state;
    bld b;
    layout l;
    char off[64];
    build_base(&b, &l);
    set64(&b, l.kv0_str, 1000);
    EXPECT_ERROR(&b, "string past EOF", "kv 0 'general.architecture'",
                 fmt(off, sizeof off, "string value at offset %zu", l.kv0_str),
                 "runs past the end");
    build_base(&b, &l);
    set64(&b, l.kv0_str, (uint64_t)1 << 63);
    EXPECT_ERROR(&b, "string 2^63", "length 9223372036854775808", "runs past the end");
    build_base(&b, &l);
    set64(&b, l.kv0, UINT64_MAX);
    EXPECT_ERROR(&b, "key length", fmt(off, sizeof off, "kv 0 (at offset %zu)", l.kv0), "key");
    build_base(&b, &l);
    set64(&b, l.kv0, 0);
    EXPECT_ERROR(&b, "empty key", "empty key");
    build_base(&b, &l);
    set32(&b, l.kv0_type, 13);
    EXPECT_ERROR(&b, "type 13", "invalid value type 13",
                 fmt(off, sizeof off, "offset %zu", l.kv0_type));
    build_base(&b, &l);
    set32(&b, l.kv0_type, 0xFFFFFFFF);
    EXPECT_ERROR(&b, "type -1", "invalid value type 4294967295");
    build_base(&b, &l);
    set32(&b, l.arr_et, 13);
    EXPECT_ERROR(&b, "array elem type", "'tokenizer.ggml.tokens'", "invalid element type 13");
    build_base(&b, &l);
    set64(&b, l.arr_n, (uint64_t)1 << 40);
    EXPECT_ERROR(&b, "array length", "length 1099511627776 exceeds the limit");
    build_base(&b, &l);
    set64(&b, l.arr_n, 1000000);
    EXPECT_ERROR(&b, "array length past EOF", "1000000 elements of type str");
    build_base(&b, &l);
    set64(&b, l.arr_s0, 1u << 20);
    EXPECT_ERROR(&b, "array string past EOF", "string 0 of the array", "runs past the end");
    build_base(&b, &l);
    set32(&b, l.nested + 4, 77);
    EXPECT_ERROR(&b, "nested elem type", "'nested'", "invalid element type 77");
    build_base(&b, &l);
    b.p[l.kv3_key + 8 + 19] = 'e'; /* "general.architecturX" -> kv 0's key */
    EXPECT_ERROR(&b, "duplicate key", "kv 3 'general.architecture'", "duplicate key");
    build_base(&b, &l);
    set32(&b, l.align_val, 0);
    EXPECT_ERROR(&b, "alignment 0", "general.alignment", "= 0 is not a power of two");
    build_base(&b, &l);
    set32(&b, l.align_val, 3);
    EXPECT_ERROR(&b, "alignment 3", "= 3 is not a power of two");
    build_base(&b, &l);
    set32(&b, l.align_type, LP_GGUF_INT32);
    EXPECT_ERROR(&b, "alignment type", "general.alignment", "must be of type u32, not i32");
}

/* A kv holding arrays nested `depth` deep, the innermost empty. */
static void build_nested(bld *b, int depth)
{
    memset(b, 0, sizeof *b);
    b_put(b, "GGUF", 4);
    b_u32(b, 3);
    b_u64(b, 0);
    b_u64(b, 1);
    b_str(b, "bomb");
    b_u32(b, LP_GGUF_ARRAY);
    for (int i = 1; i < depth; i++) {
        b_u32(b, LP_GGUF_ARRAY);
        b_u64(b, 1);
    }
    b_u32(b, LP_GGUF_UINT8);
    b_u64(b, 0);
}

static void test_nesting_depth(void **state)
{
    (void)state;
    bld b;
    lp_err err;
    build_nested(&b, LP_GGUF_MAX_ARRAY_DEPTH);
    if (!parse_copy(&b, &err))
        fail_msg("depth %d: %s", LP_GGUF_MAX_ARRAY_DEPTH, err.msg);
    free(b.p);
    build_nested(&b, LP_GGUF_MAX_ARRAY_DEPTH + 1);
    EXPECT_ERROR(&b, "depth", "'bomb'", "nested more than 8 deep");
    build_nested(&b, 100000);
    EXPECT_ERROR(&b, "depth bomb", "nested more than 8 deep");
}

/* Strings and arrays over 1 GiB are refused even when the file has the
 * bytes (a sparse anonymous mapping stands in for a huge file). */
static void test_huge_lengths(void **state)
{
    (void)state;
    const size_t size = ((size_t)1 << 30) + 4096;
    uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                      MAP_NORESERVE, -1, 0);
    assert_true(m != MAP_FAILED);
    bld b = {0};
    b_put(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u64(&b, 0);
    b_u64(&b, 1);
    b_str(&b, "big");
    b_u32(&b, LP_GGUF_STRING);
    size_t len_at = b_u64(&b, ((uint64_t)1 << 30) + 1);
    memcpy(m, b.p, b.n);
    lp_err err;
    assert_null(lp_gguf_open_mem(m, size, &err));
    assert_non_null(strstr(err.msg, "exceeds the limit 1073741824"));
    uint32_t t = LP_GGUF_UINT8;
    memcpy(m + len_at - 4, &(uint32_t){LP_GGUF_ARRAY}, 4);
    memcpy(m + len_at, &t, 4);
    memcpy(m + len_at + 4, &(uint64_t){((uint64_t)1 << 30) + 1}, 8);
    assert_null(lp_gguf_open_mem(m, size, &err));
    assert_non_null(strstr(err.msg, "length 1073741825 exceeds the limit"));
    free(b.p);
    munmap(m, size);
}

static void test_tensor_corruptions(void **state)
{
    (void)state;
    bld b;
    layout l;
    char off[80];
    build_base(&b, &l);
    set32(&b, l.t0_ndims, 5);
    EXPECT_ERROR(&b, "n_dims 5", fmt(off, sizeof off, "tensor 't0' (info at offset %zu)", l.t0),
                 "n_dims = 5");
    build_base(&b, &l);
    set64(&b, l.t0_ne1, (uint64_t)1 << 63);
    EXPECT_ERROR(&b, "ne negative", "ne[1] = 9223372036854775808 is negative");
    build_base(&b, &l);
    set64(&b, l.t0_ne0, (uint64_t)1 << 32);
    set64(&b, l.t0_ne1, (uint64_t)1 << 32);
    EXPECT_ERROR(&b, "ne product", "'t0'", "more than INT64_MAX elements");
    build_base(&b, &l);
    set64(&b, l.t0_ne0, (uint64_t)1 << 62);
    set64(&b, l.t0_ne1, 1);
    EXPECT_ERROR(&b, "byte size", "'t0'", "byte size that overflows");
    build_base(&b, &l);
    set64(&b, l.t1_ne0, 48);
    EXPECT_ERROR(&b, "partial block", "tensor 't1'", "ne[0] = 48 is not a multiple of the block size 32");
    build_base(&b, &l);
    set32(&b, l.t1_type, 4);
    EXPECT_ERROR(&b, "type 4", fmt(off, sizeof off, "tensor 't1' (info at offset %zu)", l.t1),
                 "unknown or removed ggml type id 4");
    build_base(&b, &l);
    set32(&b, l.t1_type, 1000);
    EXPECT_ERROR(&b, "type 1000", "tensor 't1'", "ggml type id 1000");
    build_base(&b, &l);
    set64(&b, l.t1_off, 260);
    EXPECT_ERROR(&b, "unaligned", "tensor 't1'", "data offset 260 is not a multiple of the alignment 32");
    build_base(&b, &l);
    set64(&b, l.t1_off, 1 << 20);
    size_t data = (b.n - 256 - 68 - 28), lo = data + (1 << 20);
    char range[80];
    snprintf(range, sizeof range, "data [%zu, %zu) extends past end of file (size %zu)", lo,
             lo + 68, b.n);
    EXPECT_ERROR(&b, "past EOF", fmt(off, sizeof off, "tensor 't1' (info at offset %zu)", l.t1),
                 range);
    build_base(&b, &l);
    set64(&b, l.t1_off, 256 + 32);
    EXPECT_ERROR(&b, "past EOF by a little", "tensor 't1'", "extends past end of file");
    build_base(&b, &l);
    set64(&b, l.t1_off, UINT64_MAX - 31);
    EXPECT_ERROR(&b, "offset overflow", "tensor 't1'", "extends past end of file");
    build_base(&b, &l);
    b.p[l.t1_name + 1] = '0';
    EXPECT_ERROR(&b, "duplicate tensor", "tensor 't0'", "duplicate tensor name");
    build_base(&b, &l);
    set64(&b, l.t0, 1000);
    EXPECT_ERROR(&b, "name past EOF", "tensor 0", "name at offset", "runs past the end");
}

/* llama.cpp's rules: a zero extent is a valid, empty tensor. */
static void test_zero_extent(void **state)
{
    (void)state;
    for (int dim = 0; dim < 2; dim++) {
        bld b;
        layout l;
        build_base(&b, &l);
        set64(&b, dim ? l.t0_ne1 : l.t0_ne0, 0);
        uint8_t *c = malloc(b.n);
        memcpy(c, b.p, b.n);
        lp_err err;
        lp_gguf *g = lp_gguf_open_mem(c, b.n, &err);
        if (!g)
            fail_msg("ne[%d] = 0: %s", dim, err.msg);
        assert_int_equal(g->tensors[0].nbytes, 0);
        assert_int_equal(g->tensors[0].ne[dim], 0);
        lp_gguf_close(g);
        free(c);
        free(b.p);
    }
}

/* ---- (c) mutations ------------------------------------------------------- */

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Mutates buf[0, span) a few times: bit flips, random bytes, and the
 * integers that hurt parsers most. */
static void mutate(uint8_t *buf, size_t span, uint64_t *s)
{
    static const uint64_t nasty[] = {
        0, 1, 2, 3, 5, 13, 31, 32, 33, 64, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff,
        (uint64_t)1 << 32, (uint64_t)1 << 40, (uint64_t)1 << 62, (uint64_t)1 << 63,
        UINT64_MAX, UINT64_MAX - 7,
    };
    int n = 1 + (int)(rng(s) % 4);
    for (int i = 0; i < n; i++) {
        size_t at = (size_t)(rng(s) % span);
        uint64_t v = nasty[rng(s) % (sizeof nasty / sizeof nasty[0])];
        switch (rng(s) % 4) {
        case 0: buf[at] ^= (uint8_t)(1u << (rng(s) % 8)); break;
        case 1: buf[at] = (uint8_t)rng(s); break;
        case 2: if (at + 4 <= span) memcpy(buf + at, &v, 4); break;
        default: if (at + 8 <= span) memcpy(buf + at, &v, 8); break;
        }
    }
}

static void mutation_loop(const uint8_t *orig, size_t n, size_t span, int iters, uint64_t seed,
                          int *ok, int *bad)
{
    uint8_t *buf = malloc(n);
    memcpy(buf, orig, n);
    for (int it = 0; it < iters; it++) {
        mutate(buf, span, &seed);
        lp_err err;
        err.msg[0] = 0;
        lp_gguf *g = lp_gguf_open_mem(buf, n, &err);
        if (g) {
            touch_all(g);
            lp_gguf_close(g);
            ++*ok;
        } else {
            if (err.msg[0] == 0)
                fail_msg("mutation %d: failed without a message", it);
            ++*bad;
        }
        memcpy(buf, orig, span);
    }
    free(buf);
}

static void test_mutations(void **state)
{
    (void)state;
    int ok = 0, bad = 0;
    size_t n;
    uint8_t *file = read_shared("models/stories260K-Q4_K_M.gguf", &n);
    lp_err err;
    lp_gguf *g = lp_gguf_open_mem(file, n, &err);
    assert_non_null(g);
    size_t span = (size_t)g->data_offset + 64;
    lp_gguf_close(g);
    mutation_loop(file, n, span, 3000, 0x9E3779B97F4A7C15u, &ok, &bad);
    free(file);

    bld b;
    layout l;
    build_base(&b, &l);
    mutation_loop(b.p, b.n, b.n, 3000, 12345, &ok, &bad);
    free(b.p);
    print_message("mutations: %d parsed, %d rejected\n", ok, bad);
    assert_true(ok > 100 && bad > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_model),
        cmocka_unit_test(test_truncated_vocab),
        cmocka_unit_test(test_base_file_parses),
        cmocka_unit_test(test_header_corruptions),
        cmocka_unit_test(test_kv_corruptions),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_tensor_corruptions),
        cmocka_unit_test(test_zero_extent),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
