/* gguf_write.c — the GGUF v3 writer and lp_gguf_copy.
 *
 * Each kv is kept serialized (the bytes after its type tag), so a value
 * copied from a parsed file is written back bit for bit. Tensor data is laid
 * out as llama.cpp's gguf writer does: in insertion order, each tensor at
 * the previous one's offset plus its size rounded up to the alignment, the
 * gaps zero-filled. The file appears under its name only once complete.
 * The header is serialized in one place, lp_gguf_writer_header, which
 * coord split uses too (it writes and hashes the data itself). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_internal.h"
#include "quant.h"
#include "vec.h"

typedef struct wkv {
    char *key;
    uint64_t key_len;
    uint32_t type;
    uint8_t *val; /* serialized value after the type tag */
    uint64_t val_len;
} wkv;

typedef struct wtensor {
    char *name;
    uint64_t name_len;
    uint32_t n_dims;
    uint64_t ne[LP_GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t nbytes;
    const void *data; /* the caller's, valid until write */
    lp_gguf_fill_fn fill; /* or, when data is NULL, made at write time */
    void *fill_ctx;
} wtensor;

struct lp_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    /* Pad after the tensor infos even when there are no tensors (llama.cpp
     * does; older writers did not, and lp_gguf_copy must reproduce both). */
    bool pad_empty;
};

typedef struct tsrc {
    const void *data; /* bytes, or */
    lp_gguf_fill_fn fill;
    void *ctx;
} tsrc;

lp_gguf_writer *lp_gguf_writer_new(lp_err *err)
{
    lp_gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        lp_err_set(err, "gguf writer: out of memory");
    else
        w->pad_empty = true;
    return w;
}

void lp_gguf_writer_free(lp_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static void *dup_bytes(const void *p, uint64_t n)
{
    if (n >= SIZE_MAX)
        return NULL;
    char *d = malloc((size_t)n + 1);
    if (d) {
        if (n)
            memcpy(d, p, (size_t)n);
        d[n] = 0;
    }
    return d;
}

/* Adds or replaces a kv; takes ownership of val (freed on failure).
 * lp_gguf_writer_copy_kvs passes replace = false into an empty writer:
 * its keys are known distinct, and the linear search would make copying a
 * file of n kvs O(n^2). */
static int put_kv(lp_gguf_writer *w, const char *key, uint64_t klen, uint32_t type,
                  uint8_t *val, uint64_t vlen, bool replace, lp_err *err)
{
    if (klen == 0) {
        free(val);
        return lp_err_set(err, "gguf writer: empty key");
    }
    for (size_t i = 0; replace && i < w->n_kv; i++) {
        wkv *kv = &w->kv[i];
        if (kv->key_len == klen && memcmp(kv->key, key, (size_t)klen) == 0) {
            free(kv->val);
            kv->type = type;
            kv->val = val;
            kv->val_len = vlen;
            return 0;
        }
    }
    char *k = dup_bytes(key, klen);
    wkv *kvs = k ? lp_vec_reserve(w->kv, &w->cap_kv, w->n_kv, 1, sizeof *kvs) : NULL;
    if (!kvs) {
        free(k);
        free(val);
        return lp_err_set(err, "gguf writer: out of memory");
    }
    w->kv = kvs;
    w->kv[w->n_kv++] = (wkv){k, klen, type, val, vlen};
    return 0;
}

static int put_scalar(lp_gguf_writer *w, const char *key, uint32_t type, const void *v,
                      size_t n, lp_err *err)
{
    uint8_t *val = malloc(n);
    if (!val)
        return lp_err_set(err, "gguf writer: out of memory");
    memcpy(val, v, n);
    return put_kv(w, key, strlen(key), type, val, n, true, err);
}

int lp_gguf_writer_set_u32(lp_gguf_writer *w, const char *key, uint32_t v, lp_err *err)
{
    return put_scalar(w, key, LP_GGUF_UINT32, &v, 4, err);
}

int lp_gguf_writer_set_f32(lp_gguf_writer *w, const char *key, float v, lp_err *err)
{
    return put_scalar(w, key, LP_GGUF_FLOAT32, &v, 4, err);
}

int lp_gguf_writer_set_bool(lp_gguf_writer *w, const char *key, bool v, lp_err *err)
{
    uint8_t b = v;
    return put_scalar(w, key, LP_GGUF_BOOL, &b, 1, err);
}

static uint8_t *serialize_str(const char *s, uint64_t len, uint64_t *vlen)
{
    if (len > SIZE_MAX - 8)
        return NULL;
    uint8_t *val = malloc((size_t)len + 8);
    if (val) {
        memcpy(val, &len, 8);
        if (len)
            memcpy(val + 8, s, (size_t)len);
        *vlen = len + 8;
    }
    return val;
}

int lp_gguf_writer_set_str(lp_gguf_writer *w, const char *key, const char *v, lp_err *err)
{
    uint64_t vlen;
    uint8_t *val = serialize_str(v, strlen(v), &vlen);
    if (!val)
        return lp_err_set(err, "gguf writer: out of memory");
    return put_kv(w, key, strlen(key), LP_GGUF_STRING, val, vlen, true, err);
}

/* A widened scalar back to its file width (the low bytes: we only build
 * for little-endian hosts); -1 if it does not fit. */
static int narrow_scalar(const lp_gguf_value *v, uint8_t out[8])
{
    const uint64_t n = lp_gguf_type_size(v->type), bits = 8 * n;
    const uint64_t u = v->v.u64;
    const int64_t i = v->v.i64;
    switch (v->type) {
    case LP_GGUF_UINT8: case LP_GGUF_UINT16: case LP_GGUF_UINT32: case LP_GGUF_UINT64:
        if (bits < 64 && (u >> bits) != 0)
            return -1;
        memcpy(out, &u, n);
        return 0;
    case LP_GGUF_INT8: case LP_GGUF_INT16: case LP_GGUF_INT32: case LP_GGUF_INT64:
        if (bits < 64 && (i < -(INT64_C(1) << (bits - 1)) || i >= INT64_C(1) << (bits - 1)))
            return -1;
        memcpy(out, &i, n);
        return 0;
    case LP_GGUF_BOOL:
        out[0] = u != 0;
        return 0;
    case LP_GGUF_FLOAT32: {
        float f = (float)v->v.f64; /* exact for a value widened from f32 */
        memcpy(out, &f, 4);
        return 0;
    }
    case LP_GGUF_FLOAT64:
        memcpy(out, &v->v.f64, 8);
        return 0;
    default:
        return -1;
    }
}

/* The serialized form of a caller's value (arrays are checked as the reader
 * would check them, so a malformed one cannot produce a broken file). */
static uint8_t *serialize_value(const lp_gguf_value *v, uint64_t *vlen, lp_err *err)
{
    uint8_t *val = NULL;
    if (v->type == LP_GGUF_STRING) {
        val = serialize_str(v->v.str.ptr, v->v.str.len, vlen);
    } else if (v->type == LP_GGUF_ARRAY) {
        const lp_gguf_arr *a = &v->v.arr;
        uint32_t et = a->elem_type;
        if (a->nbytes > SIZE_MAX - 12 || !(val = malloc((size_t)a->nbytes + 12)))
            goto oom;
        memcpy(val, &et, 4);
        memcpy(val + 4, &a->n, 8);
        if (a->nbytes)
            memcpy(val + 12, a->data, (size_t)a->nbytes);
        *vlen = a->nbytes + 12;
        if (lp_gguf_check_value(val, *vlen, LP_GGUF_ARRAY, err)) {
            free(val);
            return NULL;
        }
        return val;
    } else {
        uint8_t buf[8];
        uint64_t n = lp_gguf_type_size(v->type);
        if (n == 0 || narrow_scalar(v, buf)) {
            lp_err_set(err, "gguf writer: value of type %s (%d) is invalid or out of range",
                       lp_gguf_type_name(v->type), (int)v->type);
            return NULL;
        }
        if ((val = malloc(n))) {
            memcpy(val, buf, n);
            *vlen = n;
        }
    }
    if (val)
        return val;
oom:
    lp_err_set(err, "gguf writer: out of memory");
    return NULL;
}

int lp_gguf_writer_add_kv(lp_gguf_writer *w, const lp_gguf_kv *kv, lp_err *err)
{
    uint64_t vlen = 0;
    uint8_t *val = serialize_value(&kv->val, &vlen, err);
    if (!val)
        return -1;
    return put_kv(w, kv->key.ptr, kv->key.len, kv->val.type, val, vlen, true, err);
}

/* ---- tensors ------------------------------------------------------------ */

static int tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne, uint64_t *nbytes)
{
    const lp_type_traits *tt = lp_type_traits_get(type);
    if (!tt || tt->blck_size <= 0 || n_dims > LP_GGUF_MAX_DIMS)
        return -1;
    uint64_t blck = (uint64_t)tt->blck_size, rows = 1, n0 = n_dims ? ne[0] : 1;
    int64_t nel = 1;
    bool ovf = false, zero = false;
    for (uint32_t j = 0; j < n_dims; j++) {
        zero |= ne[j] == 0;
        ovf |= ne[j] > (uint64_t)INT64_MAX ||
               __builtin_mul_overflow(nel, (int64_t)ne[j], &nel);
        if (j > 0)
            ovf |= __builtin_mul_overflow(rows, ne[j], &rows);
    }
    if (n0 % blck != 0 || (ovf && !zero))
        return -1;
    if (zero) {
        *nbytes = 0;
        return 0;
    }
    if (__builtin_mul_overflow(n0 / blck, (uint64_t)tt->type_size, nbytes) ||
        __builtin_mul_overflow(*nbytes, rows, nbytes))
        return -1;
    return 0;
}

/* check_dup = false for lp_gguf_copy, whose names are known distinct. */
static int add_tensor(lp_gguf_writer *w, const char *name, uint64_t len, uint32_t type,
                      uint32_t n_dims, const uint64_t *ne, tsrc src, bool check_dup,
                      lp_err *err)
{
    uint64_t nbytes;
    if (len >= LP_GGUF_MAX_NAME)
        return lp_err_set(err, "gguf writer: tensor name of %" PRIu64 " bytes (at most %d)",
                          len, LP_GGUF_MAX_NAME - 1);
    if (tensor_nbytes(type, n_dims, ne, &nbytes))
        return lp_err_set(err, "gguf writer: tensor '%.*s': invalid type %" PRIu32 ", n_dims %"
                          PRIu32 " or shape", (int)len, name, type, n_dims);
    if (nbytes && !src.data && !src.fill)
        return lp_err_set(err, "gguf writer: tensor '%.*s' has no data", (int)len, name);
    for (size_t i = 0; check_dup && i < w->n_t; i++)
        if (w->t[i].name_len == len && memcmp(w->t[i].name, name, (size_t)len) == 0)
            return lp_err_set(err, "gguf writer: duplicate tensor name '%.*s'", (int)len, name);
    char *nm = dup_bytes(name, len);
    wtensor *ts = nm ? lp_vec_reserve(w->t, &w->cap_t, w->n_t, 1, sizeof *ts) : NULL;
    if (!ts) {
        free(nm);
        return lp_err_set(err, "gguf writer: out of memory");
    }
    w->t = ts;
    wtensor *t = &w->t[w->n_t++];
    *t = (wtensor){.name = nm, .name_len = len, .n_dims = n_dims, .type = type,
                   .nbytes = nbytes, .data = src.data, .fill = src.fill,
                   .fill_ctx = src.ctx};
    for (uint32_t j = 0; j < LP_GGUF_MAX_DIMS; j++)
        t->ne[j] = j < n_dims ? ne[j] : 1;
    return 0;
}

int lp_gguf_writer_add_tensor(lp_gguf_writer *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne, const void *data,
                              lp_err *err)
{
    return add_tensor(w, name, strlen(name), type, n_dims, ne, (tsrc){.data = data}, true, err);
}

int lp_gguf_writer_add_tensor_fill(lp_gguf_writer *w, const char *name, uint32_t type,
                                   uint32_t n_dims, const uint64_t *ne, lp_gguf_fill_fn fill,
                                   void *ctx, lp_err *err)
{
    return add_tensor(w, name, strlen(name), type, n_dims, ne,
                      (tsrc){.fill = fill, .ctx = ctx}, true, err);
}

/* ---- from a parsed file -------------------------------------------------- */

int lp_gguf_writer_copy_kvs(lp_gguf_writer *w, const lp_gguf *g, lp_err *err)
{
    const bool fresh = w->n_kv == 0; /* then g's keys cannot meet one of ours */
    for (uint64_t i = 0; i < g->n_kv; i++) {
        /* The value's own bytes follow the key and its type tag. */
        const lp_gguf_kv *kv = &g->kv[i];
        const uint8_t *raw = (const uint8_t *)kv->key.ptr + kv->key.len + 4;
        uint64_t n = lp_gguf_value_size(&kv->val);
        uint8_t *val = dup_bytes(raw, n);
        if (!val)
            return lp_err_set(err, "gguf writer: out of memory");
        if (put_kv(w, kv->key.ptr, kv->key.len, kv->val.type, val, n, !fresh, err))
            return -1;
    }
    return 0;
}

int lp_gguf_writer_copy_tensors(lp_gguf_writer *w, const lp_gguf *g, lp_gguf_keep_fn keep,
                                const void *ctx, lp_err *err)
{
    const bool fresh = w->n_t == 0; /* then g's names cannot meet one of ours */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        if (keep && !keep(t, ctx))
            continue;
        if (add_tensor(w, t->name.ptr, t->name.len, t->type, t->n_dims, t->ne,
                       (tsrc){.data = t->data}, !fresh, err))
            return -1;
    }
    return 0;
}

/* ---- the header ----------------------------------------------------------- */

static uint64_t pad_len(uint64_t off, uint64_t align) { return (align - off % align) % align; }

static int writer_alignment(const lp_gguf_writer *w, uint64_t *align, lp_err *err)
{
    *align = LP_GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        if (kv->key_len != 17 || memcmp(kv->key, "general.alignment", 17) != 0)
            continue;
        uint32_t a = 0;
        if (kv->type == LP_GGUF_UINT32)
            memcpy(&a, kv->val, 4);
        if (a == 0 || (a & (a - 1)) != 0)
            return lp_err_set(err, "gguf writer: general.alignment must be a u32 power of two");
        *align = a;
    }
    return 0;
}

/* Data offsets as llama.cpp assigns them, and the data section's size;
 * -1 if they overflow. */
static int tensor_offsets(const lp_gguf_writer *w, uint64_t align, uint64_t *offs,
                          uint64_t *total)
{
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        offs[i] = off;
        uint64_t padded, n = w->t[i].nbytes;
        if (__builtin_add_overflow(n, pad_len(n, align), &padded) ||
            __builtin_add_overflow(off, padded, &off))
            return -1;
    }
    *total = off;
    return 0;
}

/* Bytes the header takes, padding included; -1 if that overflows size_t. */
static int header_len(const lp_gguf_writer *w, uint64_t align, size_t *len)
{
    uint64_t n = sizeof(lp_gguf_preamble);
    bool ovf = false;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        ovf |= __builtin_add_overflow(n, 8 + kv->key_len + 4, &n) ||
               __builtin_add_overflow(n, kv->val_len, &n);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        ovf |= __builtin_add_overflow(n, 8 + t->name_len + 4 + 8 * t->n_dims + 4 + 8, &n);
    }
    if (w->n_t || w->pad_empty)
        ovf |= __builtin_add_overflow(n, pad_len(n, align), &n);
    if (ovf || n > SIZE_MAX)
        return -1;
    *len = (size_t)n;
    return 0;
}

static uint8_t *put(uint8_t *p, const void *src, uint64_t n)
{
    if (n)
        memcpy(p, src, (size_t)n);
    return p + n;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) { return put(p, &v, sizeof v); }
static uint8_t *put_u64(uint8_t *p, uint64_t v) { return put(p, &v, sizeof v); }

/* The header into buf, exactly len bytes (header_len's). */
static void serialize_header(const lp_gguf_writer *w, const uint64_t *offs, uint8_t *buf,
                             size_t len)
{
    lp_gguf_preamble pre = {.version = 3, .n_tensors = w->n_t, .n_kv = w->n_kv};
    memcpy(pre.magic, LP_GGUF_MAGIC, sizeof pre.magic);
    uint8_t *p = put(buf, &pre, sizeof pre);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        p = put_u64(p, kv->key_len);
        p = put(p, kv->key, kv->key_len);
        p = put_u32(p, kv->type);
        p = put(p, kv->val, kv->val_len);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        p = put_u64(p, t->name_len);
        p = put(p, t->name, t->name_len);
        p = put_u32(p, t->n_dims);
        for (uint32_t j = 0; j < t->n_dims; j++)
            p = put_u64(p, t->ne[j]);
        p = put_u32(p, t->type);
        p = put_u64(p, offs[i]);
    }
    memset(p, 0, (size_t)(buf + len - p)); /* the padding */
}

int lp_gguf_writer_header(const lp_gguf_writer *w, lp_gguf_header *h, lp_err *err)
{
    *h = (lp_gguf_header){0};
    if (writer_alignment(w, &h->alignment, err))
        return -1;
    uint64_t *offs = calloc(w->n_t ? w->n_t : 1, sizeof *offs);
    if (!offs)
        return lp_err_set(err, "gguf writer: out of memory");
    int rc = -1;
    if (tensor_offsets(w, h->alignment, offs, &h->data_bytes) ||
        header_len(w, h->alignment, &h->len)) {
        lp_err_set(err, "gguf writer: the header or tensor data size overflows");
    } else if (!(h->bytes = malloc(h->len))) {
        lp_err_set(err, "gguf writer: out of memory");
    } else {
        serialize_header(w, offs, h->bytes, h->len);
        rc = 0;
    }
    free(offs);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct out {
    FILE *f;
    uint64_t written;
    int err; /* errno of the first failure, 0 if none */
    bool fill_failed; /* a fill function failed: its message is in fill_err */
    uint8_t *chunk;   /* LP_GGUF_FILL_CHUNK bytes for fill functions, or NULL */
    lp_err *fill_err; /* where a failing fill reports */
} out;

static void out_put(out *o, const void *p, uint64_t n)
{
    if (o->err || n == 0)
        return;
    if (fwrite(p, 1, (size_t)n, o->f) != n)
        o->err = errno ? errno : EIO;
    o->written += n;
}

static void out_pad(out *o, uint64_t align)
{
    static const uint8_t zeros[64];
    while (o->written % align) {
        uint64_t n = align - o->written % align;
        out_put(o, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
}

/* A generated tensor goes out chunk by chunk, so a model far larger than
 * memory (coord quantize, coord synth) streams to disk. */
static void put_filled(const wtensor *t, out *o)
{
    for (uint64_t off = 0; off < t->nbytes && !o->err; off += LP_GGUF_FILL_CHUNK) {
        uint64_t left = t->nbytes - off;
        size_t n = left < LP_GGUF_FILL_CHUNK ? (size_t)left : LP_GGUF_FILL_CHUNK;
        if (t->fill(t->fill_ctx, o->chunk, off, n, o->fill_err)) {
            o->err = ECANCELED;
            o->fill_failed = true;
            return;
        }
        out_put(o, o->chunk, n);
    }
}

static bool needs_chunk(const lp_gguf_writer *w)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (!w->t[i].data && w->t[i].nbytes)
            return true;
    return false;
}

static void emit(const lp_gguf_writer *w, const lp_gguf_header *h, out *o)
{
    out_put(o, h->bytes, h->len);
    for (size_t i = 0; i < w->n_t; i++) {
        if (w->t[i].data || !w->t[i].nbytes)
            out_put(o, w->t[i].data, w->t[i].nbytes);
        else
            put_filled(&w->t[i], o);
        out_pad(o, h->alignment);
    }
}

/* Writes everything to the open temp file and closes it; errno or 0. */
static int write_and_close(const lp_gguf_writer *w, const lp_gguf_header *h, FILE *f,
                           lp_err *err, bool *fill_failed)
{
    out o = {.f = f, .fill_err = err};
    if (needs_chunk(w) && !(o.chunk = malloc(LP_GGUF_FILL_CHUNK)))
        o.err = ENOMEM;
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    emit(w, h, &o);
    free(o.chunk);
    *fill_failed = o.fill_failed;
    if (!o.err && fflush(f) != 0)
        o.err = errno;
    if (!o.err && fsync(fileno(f)) != 0)
        o.err = errno;
    if (fclose(f) != 0 && !o.err)
        o.err = errno;
    return o.err;
}

int lp_gguf_writer_write(lp_gguf_writer *w, const char *path, lp_err *err)
{
    lp_gguf_header h;
    if (lp_gguf_writer_header(w, &h, err))
        return -1;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    int rc = -1;
    if (!tmp) {
        lp_err_set(err, "gguf writer: out of memory");
        goto done;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lp_err_set(err, "gguf writer: cannot create a temporary file for '%s': %s", path,
                   strerror(errno));
        goto done;
    }
    FILE *f = fchmod(fd, 0644) == 0 ? fdopen(fd, "wb") : NULL;
    bool fill_failed = false;
    int e = f ? write_and_close(w, &h, f, err, &fill_failed) : errno;
    if (!f)
        close(fd);
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        if (!fill_failed)
            lp_err_set(err, "gguf writer: writing '%s' failed: %s", path, strerror(e));
        goto done;
    }
    rc = 0;
done:
    free(h.bytes);
    free(tmp);
    return rc;
}

/* ---- copy --------------------------------------------------------------- */

int lp_gguf_copy(const lp_gguf *g, const char *path, lp_err *err)
{
    lp_gguf_writer *w = lp_gguf_writer_new(err);
    if (!w)
        return -1;
    /* Only a tensor-less file whose infos were not padded ends unaligned. */
    w->pad_empty = g->n_tensors > 0 || g->data_offset % g->alignment == 0;
    int rc = lp_gguf_writer_copy_kvs(w, g, err);
    if (rc == 0)
        rc = lp_gguf_writer_copy_tensors(w, g, NULL, NULL, err);
    if (rc == 0)
        rc = lp_gguf_writer_write(w, path, err);
    lp_gguf_writer_free(w);
    return rc;
}
