/* gguf_internal.h — what gguf_read.c, gguf_lookup.c and gguf_write.c share
 * and nobody else may use: the private part of an lp_gguf, the layout of
 * array offset tables, and the serialized sizes of values. */
#ifndef LP_GGUF_INTERNAL_H
#define LP_GGUF_INTERNAL_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "gguf.h"

/* Values are read and written with memcpy in host order. */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF I/O assumes little-endian");

#define LP_GGUF_MAGIC "GGUF"

/* The start of every GGUF file, as it lies in the file (little-endian,
 * like this host). The fields fall on their natural alignment, so the
 * struct has no padding and is read and written whole with memcpy. */
typedef struct lp_gguf_preamble {
    char magic[4];      /* LP_GGUF_MAGIC, no NUL */
    uint32_t version;
    uint64_t n_tensors;
    uint64_t n_kv;
} lp_gguf_preamble;
static_assert(sizeof(lp_gguf_preamble) == 4 + sizeof(uint32_t) + 2 * sizeof(uint64_t),
              "the GGUF preamble is its fields, nothing between them");

/* The offset tables the reader builds, in one list freed by lp_gguf_close. */
typedef struct lp_gguf_chunk {
    struct lp_gguf_chunk *next;
    uint64_t mem[]; /* 8-byte aligned; all we store is uint64_t */
} lp_gguf_chunk;

/* A name index: (name, item index) pairs sorted by name. Lookup and
 * duplicate detection cost O(log n) compares whatever the names are; a
 * hash table would let a crafted file make them O(n). */
typedef struct lp_gguf_name {
    const char *ptr;
    uint64_t len;
    uint64_t idx;
} lp_gguf_name;

typedef struct lp_gguf_index {
    lp_gguf_name *names; /* malloc'd, owned */
    uint64_t n;
} lp_gguf_index;

typedef struct lp_gguf_priv {
    lp_gguf_chunk *chunks;
    lp_gguf_index kv_index;
    lp_gguf_index tensor_index;
} lp_gguf_priv;

/* Offset tables (lp_gguf_arr.offsets). For an array of n STRINGs: n
 * entries, element i's byte offset from data. For an array of n ARRAYs: 2n
 * entries, n offsets and then, in entry n+i, element i's own offset table
 * stored as (uint64_t)(uintptr_t)pointer (0 if its elements are fixed-size
 * or it is empty). */
static inline const uint64_t *lp_gguf_inner_table(const lp_gguf_arr *a, uint64_t i)
{
    return (const uint64_t *)(uintptr_t)a->offsets[a->n + i];
}

/* Bytes of one value of a fixed-size type; 0 for STRING, ARRAY, invalid. */
static inline uint64_t lp_gguf_type_size(uint32_t t)
{
    switch (t) {
    case LP_GGUF_UINT8: case LP_GGUF_INT8: case LP_GGUF_BOOL: return 1;
    case LP_GGUF_UINT16: case LP_GGUF_INT16: return 2;
    case LP_GGUF_UINT32: case LP_GGUF_INT32: case LP_GGUF_FLOAT32: return 4;
    case LP_GGUF_UINT64: case LP_GGUF_INT64: case LP_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static inline uint64_t lp_gguf_rd_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t lp_gguf_rd_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Builds an index over n items (g->kv or g->tensors: both start with their
 * name, an lp_str; stride is the element size). Returns 0; 1 if two items
 * share a name, with *first < *second the pair whose later item comes
 * first in file order (where a sequential reader would notice); -1 if out
 * of memory. */
int lp_gguf_index_build(lp_gguf_index *ix, const void *items, size_t stride, uint64_t n,
                        uint64_t *first, uint64_t *second);

/* Index of the kv / tensor with this name, or -1. */
int64_t lp_gguf_kv_index(const lp_gguf *g, const char *s, uint64_t len);
int64_t lp_gguf_tensor_index(const lp_gguf *g, const char *s, uint64_t len);

/* Check that buf[0, size) holds exactly one serialized value of type t
 * (for ARRAY: element type, count, elements), as the reader would accept
 * it. The writer uses it on caller-built arrays. 0 or -1 with err set. */
int lp_gguf_check_value(const uint8_t *buf, uint64_t size, uint32_t t, lp_err *err);

/* Bytes a parsed value occupies in the file after its type tag. */
uint64_t lp_gguf_value_size(const lp_gguf_value *v);

#endif
