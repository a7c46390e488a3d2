/* gguf_lookup.c — finding kvs and tensors by name, typed getters, and
 * array element access on a parsed lp_gguf. Lookups are binary searches in
 * the reader's sorted name indexes; indexing a string array is O(1) through
 * its offset table. */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_internal.h"

/* The indexes treat kvs and tensors alike through their leading name. */
static_assert(offsetof(lp_gguf_kv, key) == 0, "kv name first");
static_assert(offsetof(lp_gguf_tensor, name) == 0, "tensor name first");

/* Total order on names: bytes, then length. */
static int name_cmp(const char *a, uint64_t alen, const char *b, uint64_t blen)
{
    uint64_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, (size_t)m) : 0;
    return c ? c : (alen > blen) - (alen < blen);
}

/* Equal names sort in file order, so duplicates come out adjacent and
 * ordered. */
static int entry_cmp(const void *x, const void *y)
{
    const lp_gguf_name *a = x, *b = y;
    int c = name_cmp(a->ptr, a->len, b->ptr, b->len);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

int lp_gguf_index_build(lp_gguf_index *ix, const void *items, size_t stride, uint64_t n,
                        uint64_t *first, uint64_t *second)
{
    ix->n = 0;
    ix->names = n <= SIZE_MAX / sizeof *ix->names
                    ? malloc(n ? (size_t)n * sizeof *ix->names : 1) : NULL;
    if (!ix->names)
        return -1;
    ix->n = n;
    for (uint64_t i = 0; i < n; i++) {
        const lp_str *s = (const lp_str *)((const char *)items + i * stride);
        ix->names[i] = (lp_gguf_name){s->ptr, s->len, i};
    }
    qsort(ix->names, (size_t)n, sizeof *ix->names, entry_cmp);
    int dup = 0;
    for (uint64_t i = 1; i < n; i++) {
        const lp_gguf_name *a = &ix->names[i - 1], *b = &ix->names[i];
        if (name_cmp(a->ptr, a->len, b->ptr, b->len) == 0 && (!dup || b->idx < *second)) {
            *first = a->idx;
            *second = b->idx;
            dup = 1;
        }
    }
    return dup;
}

static int64_t index_find(const lp_gguf_index *ix, const char *s, uint64_t len)
{
    uint64_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const lp_gguf_name *e = &ix->names[mid];
        int c = name_cmp(s, len, e->ptr, e->len);
        if (c == 0)
            return (int64_t)e->idx;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int64_t lp_gguf_kv_index(const lp_gguf *g, const char *s, uint64_t len)
{
    const lp_gguf_priv *pv = g->arena_;
    return index_find(&pv->kv_index, s, len);
}

int64_t lp_gguf_tensor_index(const lp_gguf *g, const char *s, uint64_t len)
{
    const lp_gguf_priv *pv = g->arena_;
    return index_find(&pv->tensor_index, s, len);
}

const lp_gguf_kv *lp_gguf_find(const lp_gguf *g, const char *key)
{
    int64_t i = lp_gguf_kv_index(g, key, strlen(key));
    return i < 0 ? NULL : &g->kv[i];
}

const lp_gguf_tensor *lp_gguf_find_tensor(const lp_gguf *g, const char *name)
{
    int64_t i = lp_gguf_tensor_index(g, name, strlen(name));
    return i < 0 ? NULL : &g->tensors[i];
}

/* ---- typed getters ------------------------------------------------------ */

static bool is_unsigned(lp_gguf_type t)
{
    return t == LP_GGUF_UINT8 || t == LP_GGUF_UINT16 || t == LP_GGUF_UINT32 ||
           t == LP_GGUF_UINT64;
}

static bool is_signed(lp_gguf_type t)
{
    return t == LP_GGUF_INT8 || t == LP_GGUF_INT16 || t == LP_GGUF_INT32 ||
           t == LP_GGUF_INT64;
}

static const lp_gguf_value *value_of(const lp_gguf *g, const char *key)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, key);
    return kv ? &kv->val : NULL;
}

static int value_u64(const lp_gguf_value *v, uint64_t *out)
{
    if (v && is_unsigned(v->type)) {
        *out = v->v.u64;
        return 0;
    }
    if (v && is_signed(v->type) && v->v.i64 >= 0) {
        *out = (uint64_t)v->v.i64;
        return 0;
    }
    return -1;
}

static int value_i64(const lp_gguf_value *v, int64_t *out)
{
    if (v && is_signed(v->type)) {
        *out = v->v.i64;
        return 0;
    }
    if (v && is_unsigned(v->type) && v->v.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v->v.u64;
        return 0;
    }
    return -1;
}

/* A double that a float can hold (NaN and infinities pass through). */
static int narrow_f32(double d, float *out)
{
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return -1;
    *out = (float)d;
    return 0;
}

int lp_gguf_get_u64(const lp_gguf *g, const char *key, uint64_t *out)
{
    return value_u64(value_of(g, key), out);
}

int lp_gguf_get_u32(const lp_gguf *g, const char *key, uint32_t *out)
{
    uint64_t v;
    if (lp_gguf_get_u64(g, key, &v) || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int lp_gguf_get_i64(const lp_gguf *g, const char *key, int64_t *out)
{
    return value_i64(value_of(g, key), out);
}

int lp_gguf_get_f32(const lp_gguf *g, const char *key, float *out)
{
    const lp_gguf_value *v = value_of(g, key);
    if (!v || (v->type != LP_GGUF_FLOAT32 && v->type != LP_GGUF_FLOAT64))
        return -1;
    return narrow_f32(v->v.f64, out);
}

int lp_gguf_get_bool(const lp_gguf *g, const char *key, bool *out)
{
    const lp_gguf_value *v = value_of(g, key);
    if (!v || v->type != LP_GGUF_BOOL)
        return -1;
    *out = v->v.u64 != 0;
    return 0;
}

int lp_gguf_get_str(const lp_gguf *g, const char *key, lp_str *out)
{
    const lp_gguf_value *v = value_of(g, key);
    if (!v || v->type != LP_GGUF_STRING)
        return -1;
    *out = v->v.str;
    return 0;
}

int lp_gguf_get_arr(const lp_gguf *g, const char *key, lp_gguf_arr *out)
{
    const lp_gguf_value *v = value_of(g, key);
    if (!v || v->type != LP_GGUF_ARRAY)
        return -1;
    *out = v->v.arr;
    return 0;
}

/* ---- array elements ----------------------------------------------------- */

int lp_gguf_arr_str(const lp_gguf_arr *a, uint64_t i, lp_str *out)
{
    memset(out, 0, sizeof *out);
    if (a->elem_type != LP_GGUF_STRING || i >= a->n || !a->offsets)
        return -1;
    const uint8_t *e = a->data + a->offsets[i];
    out->len = lp_gguf_rd_u64(e);
    out->ptr = (const char *)(e + 8);
    return 0;
}

int lp_gguf_arr_arr(const lp_gguf_arr *a, uint64_t i, lp_gguf_arr *out)
{
    memset(out, 0, sizeof *out);
    if (a->elem_type != LP_GGUF_ARRAY || i >= a->n || !a->offsets)
        return -1;
    uint64_t off = a->offsets[i];
    uint64_t end = i + 1 < a->n ? a->offsets[i + 1] : a->nbytes;
    const uint8_t *e = a->data + off;
    out->elem_type = (lp_gguf_type)lp_gguf_rd_u32(e);
    out->n = lp_gguf_rd_u64(e + 4);
    out->data = e + 12;
    out->nbytes = end - off - 12;
    out->offsets = lp_gguf_inner_table(a, i);
    return 0;
}

int lp_gguf_arr_f32(const lp_gguf_arr *a, uint64_t i, float *out)
{
    *out = 0;
    if (i >= a->n)
        return -1;
    if (a->elem_type == LP_GGUF_FLOAT32) {
        memcpy(out, a->data + 4 * i, 4);
        return 0;
    }
    if (a->elem_type == LP_GGUF_FLOAT64) {
        double d;
        memcpy(&d, a->data + 8 * i, 8);
        return narrow_f32(d, out);
    }
    return -1;
}

int lp_gguf_arr_i64(const lp_gguf_arr *a, uint64_t i, int64_t *out)
{
    *out = 0;
    if (i >= a->n)
        return -1;
    const uint8_t *e = a->data + i * lp_gguf_type_size(a->elem_type);
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (a->elem_type) {
    case LP_GGUF_UINT8: *out = e[0]; return 0;
    case LP_GGUF_INT8: *out = (int8_t)e[0]; return 0;
    case LP_GGUF_UINT16: memcpy(&u16, e, 2); *out = u16; return 0;
    case LP_GGUF_INT16: memcpy(&u16, e, 2); *out = (int16_t)u16; return 0;
    case LP_GGUF_UINT32: memcpy(&u32, e, 4); *out = u32; return 0;
    case LP_GGUF_INT32: memcpy(&u32, e, 4); *out = (int32_t)u32; return 0;
    case LP_GGUF_INT64: memcpy(&u64, e, 8); *out = (int64_t)u64; return 0;
    case LP_GGUF_UINT64:
        memcpy(&u64, e, 8);
        if (u64 > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)u64;
        return 0;
    default:
        return -1;
    }
}

/* ---- misc --------------------------------------------------------------- */

bool lp_str_eq(lp_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

const char *lp_gguf_type_name(lp_gguf_type t)
{
    static const char *const names[LP_GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return (unsigned)t < LP_GGUF_TYPE_COUNT ? names[t] : "invalid";
}

uint64_t lp_gguf_value_size(const lp_gguf_value *v)
{
    if (v->type == LP_GGUF_STRING)
        return 8 + v->v.str.len;
    if (v->type == LP_GGUF_ARRAY)
        return 12 + v->v.arr.nbytes;
    return lp_gguf_type_size(v->type);
}
