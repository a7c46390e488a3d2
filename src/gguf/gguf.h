/* gguf.h — read (mmap) and write GGUF v2/v3 files.
 *
 * Reading validates the whole header before returning: every count, string
 * length, type id, dimension and tensor extent is checked against the file
 * size with overflow-safe arithmetic. On failure the lp_err names the field
 * and its byte offset. A returned lp_gguf never points outside its mapping.
 *
 * Ownership: lp_gguf_open* returns an lp_gguf the caller owns and frees with
 * lp_gguf_close. Every pointer obtained from it (strings, arrays, tensor
 * data) points into the mapping and is valid until lp_gguf_close. Strings
 * in the file are NOT NUL-terminated: use lp_str's len. */
#ifndef LP_GGUF_H
#define LP_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LP_GGUF_MAX_DIMS 4
#define LP_GGUF_DEFAULT_ALIGNMENT 32

/* Limits the reader enforces (llama.cpp's, where it has one). */
#define LP_GGUF_MAX_NAME 64                    /* tensor names: len < this */
#define LP_GGUF_MAX_STRING ((uint64_t)1 << 30) /* bytes in one string */
#define LP_GGUF_MAX_ARRAY ((uint64_t)1 << 30)  /* elements in one array */
#define LP_GGUF_MAX_ARRAY_DEPTH 8              /* arrays nested in arrays */

typedef enum lp_gguf_type {
    LP_GGUF_UINT8 = 0,
    LP_GGUF_INT8 = 1,
    LP_GGUF_UINT16 = 2,
    LP_GGUF_INT16 = 3,
    LP_GGUF_UINT32 = 4,
    LP_GGUF_INT32 = 5,
    LP_GGUF_FLOAT32 = 6,
    LP_GGUF_BOOL = 7,
    LP_GGUF_STRING = 8,
    LP_GGUF_ARRAY = 9,
    LP_GGUF_UINT64 = 10,
    LP_GGUF_INT64 = 11,
    LP_GGUF_FLOAT64 = 12,
    LP_GGUF_TYPE_COUNT
} lp_gguf_type;

typedef struct lp_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} lp_str;

/* An array value. Elements of fixed-size types are stored packed at `data`
 * (little-endian, possibly unaligned: read with memcpy or the getters).
 * For STRING and ARRAY elements, use lp_gguf_arr_str / lp_gguf_arr_arr. */
typedef struct lp_gguf_arr {
    lp_gguf_type elem_type;
    uint64_t n;
    const uint8_t *data;    /* first element's bytes in the mapping */
    uint64_t nbytes;        /* bytes spanned by all elements */
    const uint64_t *offsets; /* STRING/ARRAY elems: byte offset of element i
                               from data (owned by the lp_gguf); else NULL */
} lp_gguf_arr;

typedef struct lp_gguf_value {
    lp_gguf_type type;
    union {
        uint64_t u64;  /* UINT8..UINT64 and BOOL (0/1), widened */
        int64_t i64;   /* INT8..INT64, widened */
        double f64;    /* FLOAT32, FLOAT64, widened */
        lp_str str;
        lp_gguf_arr arr;
    } v;
} lp_gguf_value;

typedef struct lp_gguf_kv {
    lp_str key;
    lp_gguf_value val;
} lp_gguf_kv;

typedef struct lp_gguf_tensor {
    lp_str name;
    uint32_t n_dims;
    uint64_t ne[LP_GGUF_MAX_DIMS]; /* ne[0] = row length; unused dims are 1 */
    uint32_t type;                 /* ggml type id (see quant.h) */
    uint64_t offset;               /* relative to the data section */
    uint64_t nbytes;
    const void *data;              /* inside the mapping */
} lp_gguf_tensor;

typedef struct lp_gguf {
    uint32_t version;
    uint64_t n_kv;
    lp_gguf_kv *kv;           /* n_kv entries, file order */
    uint64_t n_tensors;
    lp_gguf_tensor *tensors;  /* n_tensors entries, file order */
    uint64_t alignment;
    uint64_t data_offset;     /* file offset of the tensor data section:
                                 the tensor infos' end rounded up to
                                 alignment. With no tensors and no padding
                                 in the file (older writers), the end of
                                 the infos, i.e. the file size. */
    const uint8_t *base;      /* the whole file */
    uint64_t size;
    /* private */
    void *map_;               /* non-NULL when we own an mmap */
    void *arena_;             /* offset tables, owned */
} lp_gguf;

/* Map and validate a file. NULL on error (err says why). */
lp_gguf *lp_gguf_open(const char *path, lp_err *err);

/* Validate a buffer the caller keeps alive (and owns) for the lifetime of
 * the result. Used by tests and the fuzzer. */
lp_gguf *lp_gguf_open_mem(const void *buf, size_t size, lp_err *err);

void lp_gguf_close(lp_gguf *g);

/* Lookup by exact key. NULL if absent. */
const lp_gguf_kv *lp_gguf_find(const lp_gguf *g, const char *key);
const lp_gguf_tensor *lp_gguf_find_tensor(const lp_gguf *g, const char *name);

/* Typed getters: 0 on success; -1 if absent or of an incompatible type
 * (any integer type converts to an integer if the value fits; floats
 * accept FLOAT32/FLOAT64). They never fail silently on a wrong type. */
int lp_gguf_get_u32(const lp_gguf *g, const char *key, uint32_t *out);
int lp_gguf_get_u64(const lp_gguf *g, const char *key, uint64_t *out);
int lp_gguf_get_i64(const lp_gguf *g, const char *key, int64_t *out);
int lp_gguf_get_f32(const lp_gguf *g, const char *key, float *out);
int lp_gguf_get_bool(const lp_gguf *g, const char *key, bool *out);
int lp_gguf_get_str(const lp_gguf *g, const char *key, lp_str *out);
int lp_gguf_get_arr(const lp_gguf *g, const char *key, lp_gguf_arr *out);

/* Array element access; i must be < arr->n (checked: returns -1/zero).
 * arr_str / arr_arr are O(1): the reader builds an offset table for every
 * STRING or ARRAY array, nested ones included. arr_f32 accepts FLOAT32 and
 * FLOAT64 elements; arr_i64 any integer type whose value fits. */
int lp_gguf_arr_str(const lp_gguf_arr *a, uint64_t i, lp_str *out);
int lp_gguf_arr_arr(const lp_gguf_arr *a, uint64_t i, lp_gguf_arr *out);
int lp_gguf_arr_f32(const lp_gguf_arr *a, uint64_t i, float *out);
int lp_gguf_arr_i64(const lp_gguf_arr *a, uint64_t i, int64_t *out);

/* True if s equals the NUL-terminated c string. */
bool lp_str_eq(lp_str s, const char *c);

const char *lp_gguf_type_name(lp_gguf_type t);

/* ---- writing (always GGUF v3) ------------------------------------------
 * A writer collects key/values and tensor descriptions, then writes the
 * file in one pass: header, kvs, tensor infos, padding, data. Tensor data
 * is placed in insertion order, each at the next multiple of alignment,
 * padding with zeros, as llama.cpp's gguf writer does. The writer copies
 * keys and strings; tensor data pointers must stay valid until write. */
typedef struct lp_gguf_writer lp_gguf_writer;

lp_gguf_writer *lp_gguf_writer_new(lp_err *err);
void lp_gguf_writer_free(lp_gguf_writer *w);

/* Copy one kv (any type, arrays included) from a parsed file. */
int lp_gguf_writer_add_kv(lp_gguf_writer *w, const lp_gguf_kv *kv, lp_err *err);
int lp_gguf_writer_set_u32(lp_gguf_writer *w, const char *key, uint32_t v, lp_err *err);
int lp_gguf_writer_set_f32(lp_gguf_writer *w, const char *key, float v, lp_err *err);
int lp_gguf_writer_set_str(lp_gguf_writer *w, const char *key, const char *v, lp_err *err);
int lp_gguf_writer_set_bool(lp_gguf_writer *w, const char *key, bool v, lp_err *err);
/* Adding a kv whose key exists replaces its value in place. */

/* Every kv of a parsed file, in file order, each value's bytes copied as
 * they are in the file (so whatever wrote it, it comes out bit for bit). */
int lp_gguf_writer_copy_kvs(lp_gguf_writer *w, const lp_gguf *g, lp_err *err);

int lp_gguf_writer_add_tensor(lp_gguf_writer *w, const char *name,
                              uint32_t type, uint32_t n_dims,
                              const uint64_t *ne, const void *data,
                              lp_err *err);

/* A tensor whose bytes are made while the file is written, in chunks of at
 * most LP_GGUF_FILL_CHUNK bytes in order (offset = bytes of this tensor
 * before buf), so models larger than memory stream to disk. fill returns 0,
 * or -1 with *err set, which abandons the write (no file is left). */
#define LP_GGUF_FILL_CHUNK ((size_t)8 << 20)
typedef int (*lp_gguf_fill_fn)(void *ctx, void *buf, uint64_t offset, size_t len,
                               lp_err *err);
int lp_gguf_writer_add_tensor_fill(lp_gguf_writer *w, const char *name, uint32_t type,
                                   uint32_t n_dims, const uint64_t *ne, lp_gguf_fill_fn fill,
                                   void *ctx, lp_err *err);

/* The tensors of a parsed file for which keep (NULL: every one) says
 * true, in file order, with their names, types, shapes and data; the data
 * stays g's, so g must stay open until the write. */
typedef bool (*lp_gguf_keep_fn)(const lp_gguf_tensor *t, const void *ctx);
int lp_gguf_writer_copy_tensors(lp_gguf_writer *w, const lp_gguf *g, lp_gguf_keep_fn keep,
                                const void *ctx, lp_err *err);

int lp_gguf_writer_write(lp_gguf_writer *w, const char *path, lp_err *err);

/* The header lp_gguf_writer_write would write (preamble, kvs, tensor
 * infos, padding to the alignment), for a caller that writes the data
 * section itself: each tensor's bytes in insertion order, each followed
 * by zeros up to the next multiple of alignment, data_bytes in all. */
typedef struct lp_gguf_header {
    uint8_t *bytes;      /* malloc'd, the caller's: free() it */
    size_t len;
    uint64_t alignment;
    uint64_t data_bytes;
} lp_gguf_header;
int lp_gguf_writer_header(const lp_gguf_writer *w, lp_gguf_header *h, lp_err *err);

/* lp_gguf_writer_write writes to a temporary file next to `path` and
 * renames it over `path` only when every byte (and fsync) succeeded, so a
 * failed write (disk full, ...) leaves no partial file under `path`. The
 * alignment is the `general.alignment` kv's (must be a UINT32 power of two)
 * or LP_GGUF_DEFAULT_ALIGNMENT. Tensor infos keep the n_dims given. */

/* Write a parsed file back out (all kvs, all tensors, same order). Values
 * are copied byte for byte, so a file written by llama.cpp or gguf-py
 * comes out identical (tensor data at llama.cpp's offsets; a tensor-less
 * file is padded after its infos only if the original was). */
int lp_gguf_copy(const lp_gguf *g, const char *path, lp_err *err);

#endif
