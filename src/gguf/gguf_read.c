/* gguf_read.c — parse and validate a GGUF v2/v3 file (mmap or buffer).
 *
 * The file is hostile until proven otherwise: every count and length is
 * checked against the bytes that are left before it is used, arithmetic on
 * file values is overflow-checked, and nothing is allocated that the file
 * size does not bound. Only the header region is read; tensor data pages
 * are never touched. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_internal.h"
#include "quant.h"

/* Smallest possible kv: key length, a 1-byte key, type tag, 1-byte value.
 * Smallest tensor info: name length, n_dims, type, offset. */
#define MIN_KV_BYTES 14
#define MIN_TENSOR_INFO_BYTES 24

typedef struct parser {
    const uint8_t *b;
    uint64_t size;
    uint64_t pos;
    lp_err *err;
    lp_gguf_priv *priv; /* NULL: validate only, build no tables */
    char where[200];    /* what is being parsed, prefixed to messages */
} parser;

/* ---- messages ---------------------------------------------------------- */

/* A file's name for a message: at most 48 bytes, non-printables as '?'. */
static void printable(char *dst, size_t cap, const char *s, uint64_t len)
{
    size_t n = 0;
    for (uint64_t i = 0; i < len && n + 4 < cap && i < 48; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (len > 48 && n + 4 <= cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = 0;
}

__attribute__((format(printf, 2, 3)))
static int fail(parser *p, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lp_err_set(p->err, "gguf: %s%s%s", p->where, p->where[0] ? ": " : "", msg);
}

/* ---- reading primitives ------------------------------------------------ */

static uint64_t left(const parser *p) { return p->size - p->pos; }

__attribute__((format(printf, 3, 0)))
static int vneed(parser *p, uint64_t n, const char *fmt, va_list ap)
{
    if (n <= left(p))
        return 0;
    char what[160];
    vsnprintf(what, sizeof what, fmt, ap);
    return fail(p, "%s at offset %" PRIu64 " needs %" PRIu64 " bytes, only %" PRIu64
                " left (file size %" PRIu64 ")", what, p->pos, n, left(p), p->size);
}

__attribute__((format(printf, 3, 4)))
static int need(parser *p, uint64_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vneed(p, n, fmt, ap);
    va_end(ap);
    return r;
}

__attribute__((format(printf, 3, 4)))
static int rd_u32(parser *p, uint32_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vneed(p, 4, fmt, ap);
    va_end(ap);
    if (r)
        return -1;
    *v = lp_gguf_rd_u32(p->b + p->pos);
    p->pos += 4;
    return 0;
}

__attribute__((format(printf, 3, 4)))
static int rd_u64(parser *p, uint64_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vneed(p, 8, fmt, ap);
    va_end(ap);
    if (r)
        return -1;
    *v = lp_gguf_rd_u64(p->b + p->pos);
    p->pos += 8;
    return 0;
}

/* A length-prefixed string; `fmt` names it, formatted only on failure. */
__attribute__((format(printf, 3, 4)))
static int rd_str(parser *p, lp_str *out, const char *fmt, ...)
{
    uint64_t at = p->pos;
    char what[160] = "";
    va_list ap;
    va_start(ap, fmt);
    int r = vneed(p, 8, fmt, ap);
    va_end(ap);
    if (r)
        return -1;
    uint64_t len = lp_gguf_rd_u64(p->b + p->pos);
    p->pos += 8;
    if (len <= left(p) && len <= LP_GGUF_MAX_STRING) {
        out->ptr = (const char *)(p->b + p->pos);
        out->len = len;
        p->pos += len;
        return 0;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (len > left(p))
        return fail(p, "%s at offset %" PRIu64 ": length %" PRIu64 " runs past the end of "
                    "the file (%" PRIu64 " bytes left, file size %" PRIu64 ")",
                    what, at, len, left(p), p->size);
    return fail(p, "%s at offset %" PRIu64 ": length %" PRIu64 " exceeds the limit %" PRIu64,
                what, at, len, LP_GGUF_MAX_STRING);
}

/* ---- the arena --------------------------------------------------------- */

static uint64_t *arena_alloc(lp_gguf_priv *pv, uint64_t n)
{
    if (n > (SIZE_MAX - sizeof(lp_gguf_chunk)) / sizeof(uint64_t))
        return NULL;
    lp_gguf_chunk *c = calloc(1, sizeof *c + (size_t)n * sizeof(uint64_t));
    if (!c)
        return NULL;
    c->next = pv->chunks;
    pv->chunks = c;
    return c->mem;
}

/* Indexes the names of n items; on a duplicate, fails naming the later
 * one (`what` is "kv" or "tensor"). */
static int build_index(parser *p, lp_gguf_index *ix, const void *items, size_t stride,
                       uint64_t n, const char *what)
{
    uint64_t first = 0, second = 0;
    int r = lp_gguf_index_build(ix, items, stride, n, &first, &second);
    if (r < 0)
        return fail(p, "out of memory for an index of %" PRIu64 " names", n);
    if (r == 0)
        return 0;
    const lp_str *s = (const lp_str *)((const char *)items + second * stride);
    char name[64];
    printable(name, sizeof name, s->ptr, s->len);
    uint64_t at = (uint64_t)((const uint8_t *)s->ptr - p->b) - 8;
    if (strcmp(what, "kv") == 0)
        return fail(p, "kv %" PRIu64 " '%s' (at offset %" PRIu64 "): duplicate key (kv %"
                    PRIu64 " has it too)", second, name, at, first);
    return fail(p, "tensor '%s' (info at offset %" PRIu64 "): duplicate tensor name (tensor %"
                PRIu64 " has it too)", name, at, first);
}

/* ---- values ------------------------------------------------------------ */

static int parse_array(parser *p, int depth, lp_gguf_arr *a);

/* Builds the offset table of a STRING or ARRAY array (see gguf_internal.h). */
static int parse_var_elems(parser *p, int depth, uint64_t at, lp_gguf_arr *a)
{
    uint64_t *tab = NULL;
    if (p->priv && a->n) {
        tab = arena_alloc(p->priv, a->elem_type == LP_GGUF_ARRAY ? 2 * a->n : a->n);
        if (!tab)
            return fail(p, "out of memory for the offsets of the %" PRIu64
                        "-element array at offset %" PRIu64, a->n, at);
    }
    const uint64_t start = p->pos;
    for (uint64_t i = 0; i < a->n; i++) {
        if (tab)
            tab[i] = p->pos - start;
        if (a->elem_type == LP_GGUF_STRING) {
            lp_str s;
            if (rd_str(p, &s, "string %" PRIu64 " of the array at offset %" PRIu64, i, at))
                return -1;
        } else {
            lp_gguf_arr inner;
            if (parse_array(p, depth + 1, &inner))
                return -1;
            if (tab)
                tab[a->n + i] = (uint64_t)(uintptr_t)inner.offsets;
        }
    }
    a->offsets = tab;
    a->nbytes = p->pos - start;
    return 0;
}

/* An array value after its ARRAY tag: element type, count, elements.
 * depth counts the arrays this one is nested in plus itself. */
static int parse_array(parser *p, int depth, lp_gguf_arr *a)
{
    const uint64_t at = p->pos;
    uint32_t et;
    uint64_t n;
    if (rd_u32(p, &et, "element type of the array") ||
        rd_u64(p, &n, "length of the array at offset %" PRIu64, at))
        return -1;
    if (et >= LP_GGUF_TYPE_COUNT)
        return fail(p, "array at offset %" PRIu64 ": invalid element type %" PRIu32, at, et);
    if (et == LP_GGUF_ARRAY && depth >= LP_GGUF_MAX_ARRAY_DEPTH)
        return fail(p, "array at offset %" PRIu64 ": arrays nested more than %d deep",
                    at, LP_GGUF_MAX_ARRAY_DEPTH);
    if (n > LP_GGUF_MAX_ARRAY)
        return fail(p, "array at offset %" PRIu64 ": length %" PRIu64 " exceeds the limit %"
                    PRIu64, at, n, LP_GGUF_MAX_ARRAY);
    uint64_t esize = lp_gguf_type_size(et);
    uint64_t min = esize ? esize : et == LP_GGUF_STRING ? 8 : 12;
    if (n > left(p) / min)
        return fail(p, "array at offset %" PRIu64 ": %" PRIu64 " elements of type %s need at "
                    "least %" PRIu64 " bytes each, only %" PRIu64 " left (file size %" PRIu64 ")",
                    at, n, lp_gguf_type_name((lp_gguf_type)et), min, left(p), p->size);
    a->elem_type = (lp_gguf_type)et;
    a->n = n;
    a->data = p->b + p->pos;
    a->offsets = NULL;
    if (esize) {
        a->nbytes = n * esize;
        p->pos += a->nbytes;
        return 0;
    }
    return parse_var_elems(p, depth, at, a);
}

static void widen_scalar(const uint8_t *s, lp_gguf_type t, lp_gguf_value *v)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f;
    switch (t) {
    case LP_GGUF_UINT8: v->v.u64 = s[0]; break;
    case LP_GGUF_INT8: v->v.i64 = (int8_t)s[0]; break;
    case LP_GGUF_BOOL: v->v.u64 = s[0] != 0; break;
    case LP_GGUF_UINT16: memcpy(&u16, s, 2); v->v.u64 = u16; break;
    case LP_GGUF_INT16: memcpy(&u16, s, 2); v->v.i64 = (int16_t)u16; break;
    case LP_GGUF_UINT32: memcpy(&u32, s, 4); v->v.u64 = u32; break;
    case LP_GGUF_INT32: memcpy(&u32, s, 4); v->v.i64 = (int32_t)u32; break;
    case LP_GGUF_FLOAT32: memcpy(&f, s, 4); v->v.f64 = f; break;
    case LP_GGUF_UINT64: memcpy(&u64, s, 8); v->v.u64 = u64; break;
    case LP_GGUF_INT64: memcpy(&u64, s, 8); v->v.i64 = (int64_t)u64; break;
    case LP_GGUF_FLOAT64: memcpy(&v->v.f64, s, 8); break;
    default: break;
    }
}

static int parse_value(parser *p, uint32_t t, lp_gguf_value *v)
{
    v->type = (lp_gguf_type)t;
    if (t == LP_GGUF_STRING)
        return rd_str(p, &v->v.str, "string value");
    if (t == LP_GGUF_ARRAY)
        return parse_array(p, 1, &v->v.arr);
    uint64_t size = lp_gguf_type_size(t);
    if (size == 0)
        return fail(p, "invalid value type %" PRIu32 " at offset %" PRIu64, t, p->pos - 4);
    if (left(p) < size)
        return fail(p, "%s value at offset %" PRIu64 " needs %" PRIu64 " bytes, only %" PRIu64
                    " left (file size %" PRIu64 ")", lp_gguf_type_name((lp_gguf_type)t),
                    p->pos, size, left(p), p->size);
    widen_scalar(p->b + p->pos, v->type, v);
    p->pos += size;
    return 0;
}

int lp_gguf_check_value(const uint8_t *buf, uint64_t size, uint32_t t, lp_err *err)
{
    parser p = {.b = buf, .size = size, .err = err};
    lp_gguf_value v;
    if (parse_value(&p, t, &v))
        return -1;
    if (p.pos != size)
        return fail(&p, "value of type %s is %" PRIu64 " bytes but %" PRIu64 " were given",
                    lp_gguf_type_name((lp_gguf_type)t), p.pos, size);
    return 0;
}

/* ---- header, kvs, tensor infos ------------------------------------------ */

static int parse_header(parser *p, lp_gguf *g)
{
    lp_gguf_preamble pre = {0};
    if (p->size < sizeof pre.magic)
        return fail(p, "file is %" PRIu64 " bytes, too short for the magic", p->size);
    /* As much of the preamble as the file holds; each field is used only
     * once need() has found all of it there. */
    memcpy(&pre, p->b, p->size < sizeof pre ? (size_t)p->size : sizeof pre);
    if (memcmp(pre.magic, LP_GGUF_MAGIC, sizeof pre.magic) != 0) {
        char m[8];
        printable(m, sizeof m, pre.magic, sizeof pre.magic);
        return fail(p, "bad magic '%s' at offset 0 (expected 'GGUF'): not a GGUF file", m);
    }
    p->pos = offsetof(lp_gguf_preamble, version);
    if (need(p, sizeof pre.version, "version"))
        return -1;
    p->pos += sizeof pre.version;
    uint32_t v = g->version = pre.version;
    if (v == 1)
        return fail(p, "version 1 at offset 4: GGUF v1 is no longer supported "
                    "(convert the file with a current llama.cpp)");
    if (v != 0 && (v & 0xFFFF) == 0)
        return fail(p, "version %" PRIu32 " (0x%08" PRIx32 ") at offset 4: a big-endian "
                    "file? Only little-endian GGUF is supported", v, v);
    if (v != 2 && v != 3)
        return fail(p, "version %" PRIu32 " at offset 4 is not supported (only 2 and 3)", v);
    if (need(p, sizeof pre.n_tensors, "n_tensors"))
        return -1;
    p->pos += sizeof pre.n_tensors;
    if (need(p, sizeof pre.n_kv, "n_kv"))
        return -1;
    p->pos += sizeof pre.n_kv;
    g->n_tensors = pre.n_tensors;
    g->n_kv = pre.n_kv;
    /* Every entry takes some bytes: a count the rest of the file cannot
     * hold fails here, before anything is allocated for it. */
    if (g->n_tensors > left(p) / MIN_TENSOR_INFO_BYTES)
        return fail(p, "n_tensors = %" PRIu64 " at offset 8: the %" PRIu64 " bytes left in "
                    "the file cannot hold that many tensor infos", g->n_tensors, left(p));
    if (g->n_kv > left(p) / MIN_KV_BYTES)
        return fail(p, "n_kv = %" PRIu64 " at offset 16: the %" PRIu64 " bytes left in the "
                    "file cannot hold that many key/values", g->n_kv, left(p));
    return 0;
}

static int parse_kvs(parser *p, lp_gguf *g)
{
    g->kv = calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    if (!g->kv)
        return fail(p, "out of memory for %" PRIu64 " key/values", g->n_kv);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        lp_gguf_kv *kv = &g->kv[i];
        const uint64_t at = p->pos;
        snprintf(p->where, sizeof p->where, "kv %" PRIu64 " (at offset %" PRIu64 ")", i, at);
        if (rd_str(p, &kv->key, "key"))
            return -1;
        if (kv->key.len == 0)
            return fail(p, "empty key");
        char name[64];
        printable(name, sizeof name, kv->key.ptr, kv->key.len);
        snprintf(p->where, sizeof p->where, "kv %" PRIu64 " '%s' (at offset %" PRIu64 ")",
                 i, name, at);
        uint32_t t;
        if (rd_u32(p, &t, "value type") || parse_value(p, t, &kv->val))
            return -1;
    }
    p->where[0] = 0;
    return build_index(p, &p->priv->kv_index, g->kv, sizeof *g->kv, g->n_kv, "kv");
}

static int parse_alignment(parser *p, lp_gguf *g)
{
    g->alignment = LP_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = lp_gguf_kv_index(g, "general.alignment", 17);
    if (i < 0)
        return 0;
    const lp_gguf_kv *kv = &g->kv[i];
    uint64_t at = (uint64_t)((const uint8_t *)kv->key.ptr - p->b) - 8;
    if (kv->val.type != LP_GGUF_UINT32)
        return fail(p, "general.alignment (kv at offset %" PRIu64 ") must be of type u32, "
                    "not %s", at, lp_gguf_type_name(kv->val.type));
    uint64_t a = kv->val.v.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(p, "general.alignment (kv at offset %" PRIu64 ") = %" PRIu64 " is not a "
                    "power of two", at, a);
    g->alignment = a;
    return 0;
}

/* Shape, type and byte size of one tensor, checked as llama.cpp does. */
static int tensor_shape(parser *p, lp_gguf_tensor *t)
{
    if (rd_u32(p, &t->n_dims, "n_dims"))
        return -1;
    if (t->n_dims > LP_GGUF_MAX_DIMS)
        return fail(p, "n_dims = %" PRIu32 " at offset %" PRIu64 " (at most %d)",
                    t->n_dims, p->pos - 4, LP_GGUF_MAX_DIMS);
    for (uint32_t j = 0; j < LP_GGUF_MAX_DIMS; j++) {
        t->ne[j] = 1;
        if (j < t->n_dims && rd_u64(p, &t->ne[j], "ne[%" PRIu32 "]", j))
            return -1;
        if (t->ne[j] > (uint64_t)INT64_MAX)
            return fail(p, "ne[%" PRIu32 "] = %" PRIu64 " is negative as int64", j, t->ne[j]);
    }
    if (rd_u32(p, &t->type, "type"))
        return -1;
    const lp_type_traits *tt = lp_type_traits_get(t->type);
    if (!tt || tt->blck_size <= 0)
        return fail(p, "unknown or removed ggml type id %" PRIu32 " at offset %" PRIu64,
                    t->type, p->pos - 4);
    uint64_t blck = (uint64_t)tt->blck_size;
    if (t->ne[0] % blck != 0)
        return fail(p, "ne[0] = %" PRIu64 " is not a multiple of the block size %" PRIu64
                    " of type %s", t->ne[0], blck, tt->name);
    /* Element count must fit int64 (zero-element tensors are fine), and so
     * must the byte size. */
    int64_t nel = 1;
    uint64_t rows = 1, nbytes;
    bool zero = false, ovf = false;
    for (int j = 0; j < LP_GGUF_MAX_DIMS; j++) {
        zero |= t->ne[j] == 0;
        ovf |= __builtin_mul_overflow(nel, (int64_t)t->ne[j], &nel);
        if (j > 0)
            ovf |= __builtin_mul_overflow(rows, t->ne[j], &rows);
    }
    if (ovf && !zero)
        return fail(p, "shape (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ") has more "
                    "than INT64_MAX elements", t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    if (zero) {
        t->nbytes = 0;
        return 0;
    }
    if (__builtin_mul_overflow(t->ne[0] / blck, (uint64_t)tt->type_size, &nbytes) ||
        __builtin_mul_overflow(nbytes, rows, &nbytes))
        return fail(p, "shape (%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ") of type %s "
                    "has a byte size that overflows", t->ne[0], t->ne[1], t->ne[2], t->ne[3],
                    tt->name);
    t->nbytes = nbytes;
    return 0;
}

static int parse_tensor_infos(parser *p, lp_gguf *g)
{
    g->tensors = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors)
        return fail(p, "out of memory for %" PRIu64 " tensor infos", g->n_tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        lp_gguf_tensor *t = &g->tensors[i];
        const uint64_t at = p->pos;
        snprintf(p->where, sizeof p->where, "tensor %" PRIu64 " (info at offset %" PRIu64 ")",
                 i, at);
        if (rd_str(p, &t->name, "name"))
            return -1;
        if (t->name.len >= LP_GGUF_MAX_NAME)
            return fail(p, "name is %" PRIu64 " bytes long (at most %d)", t->name.len,
                        LP_GGUF_MAX_NAME - 1);
        char name[64];
        printable(name, sizeof name, t->name.ptr, t->name.len);
        snprintf(p->where, sizeof p->where, "tensor '%s' (info at offset %" PRIu64 ")",
                 name, at);
        if (tensor_shape(p, t) || rd_u64(p, &t->offset, "data offset"))
            return -1;
    }
    p->where[0] = 0;
    return build_index(p, &p->priv->tensor_index, g->tensors, sizeof *g->tensors,
                       g->n_tensors, "tensor");
}

/* Where the data section starts, and every tensor's extent inside it. */
static int place_tensors(parser *p, lp_gguf *g)
{
    const uint64_t end = p->pos, a = g->alignment;
    uint64_t start = end;
    if (end % a && __builtin_add_overflow(end, a - end % a, &start))
        start = UINT64_MAX;
    if (g->n_tensors == 0) {
        g->data_offset = start <= p->size ? start : end;
        return 0;
    }
    if (start > p->size)
        return fail(p, "tensor infos end at offset %" PRIu64 "; the data section (aligned to %"
                    PRIu64 ") would start past the end of the file (size %" PRIu64 ")",
                    end, a, p->size);
    g->data_offset = start;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        lp_gguf_tensor *t = &g->tensors[i];
        char name[64];
        printable(name, sizeof name, t->name.ptr, t->name.len);
        uint64_t info = (uint64_t)((const uint8_t *)t->name.ptr - p->b) - 8;
        uint64_t lo, hi;
        if (t->offset % a)
            return fail(p, "tensor '%s' (info at offset %" PRIu64 "): data offset %" PRIu64
                        " is not a multiple of the alignment %" PRIu64, name, info, t->offset, a);
        if (__builtin_add_overflow(start, t->offset, &lo) ||
            __builtin_add_overflow(lo, t->nbytes, &hi))
            return fail(p, "tensor '%s' (info at offset %" PRIu64 "): data offset %" PRIu64
                        " (%" PRIu64 " bytes) extends past end of file (size %" PRIu64 ")",
                        name, info, t->offset, t->nbytes, p->size);
        if (hi > p->size)
            return fail(p, "tensor '%s' (info at offset %" PRIu64 "): data [%" PRIu64 ", %"
                        PRIu64 ") extends past end of file (size %" PRIu64 ")",
                        name, info, lo, hi, p->size);
        t->data = p->b + lo;
    }
    return 0;
}

/* ---- open / close ------------------------------------------------------ */

static lp_gguf *parse(const uint8_t *buf, uint64_t size, void *map, lp_err *err)
{
    lp_gguf *g = calloc(1, sizeof *g);
    lp_gguf_priv *pv = calloc(1, sizeof *pv);
    if (!g || !pv) {
        free(g);
        free(pv);
        lp_err_set(err, "gguf: out of memory");
        return NULL;
    }
    g->arena_ = pv;
    g->base = buf;
    g->size = size;
    parser p = {.b = buf, .size = size, .err = err, .priv = pv};
    if (parse_header(&p, g) || parse_kvs(&p, g) || parse_alignment(&p, g) ||
        parse_tensor_infos(&p, g) || place_tensors(&p, g)) {
        lp_gguf_close(g);
        return NULL;
    }
    g->map_ = map;
    return g;
}

lp_gguf *lp_gguf_open_mem(const void *buf, size_t size, lp_err *err)
{
    if (!buf && size) {
        lp_err_set(err, "gguf: NULL buffer");
        return NULL;
    }
    return parse(buf, size, NULL, err);
}

lp_gguf *lp_gguf_open(const char *path, lp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lp_err_set(err, "gguf: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lp_err_set(err, "gguf: '%s' is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size == 0 || (uint64_t)st.st_size > SIZE_MAX) {
        lp_err_set(err, "gguf: '%s' is %s", path, st.st_size ? "too large to map" : "empty");
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED) {
        lp_err_set(err, "gguf: cannot mmap '%s': %s", path, strerror(e));
        return NULL;
    }
    lp_err tmp;
    lp_gguf *g = parse(map, size, map, &tmp);
    if (!g) {
        munmap(map, size);
        lp_err_set(err, "gguf: %s: %s", path, tmp.msg + strlen("gguf: "));
    }
    return g;
}

void lp_gguf_close(lp_gguf *g)
{
    if (!g)
        return;
    lp_gguf_priv *pv = g->arena_;
    if (pv) {
        while (pv->chunks) {
            lp_gguf_chunk *c = pv->chunks;
            pv->chunks = c->next;
            free(c);
        }
        free(pv->kv_index.names);
        free(pv->tensor_index.names);
        free(pv);
    }
    if (g->map_)
        munmap(g->map_, (size_t)g->size);
    free(g->kv);
    free(g->tensors);
    free(g);
}
