/* kv.h — the KV cache of one shard: K and V of its own layers, in f16, for
 * a fixed number of session slots of n_ctx positions each.
 *
 * K is stored [layer][slot][pos][kv_dim]; V transposed, [layer][slot]
 * [kv_dim][n_ctx], so that attention's weighted sum over positions is one
 * contiguous dot product per output dimension (as llama.cpp's non-flash
 * path lays out V).
 *
 * Ownership: lp_kv_new returns a cache the caller owns (lp_kv_free). Slot
 * pointers stay valid until lp_kv_free. Memory is reserved up front but
 * zero pages are only touched as positions fill. */
#ifndef LP_KV_H
#define LP_KV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "quant.h"

typedef struct lp_kv lp_kv;

typedef struct lp_kv_shape {
    int n_layer;  /* layers of this shard */
    int n_ctx;    /* positions per session */
    int kv_dim;   /* n_head_kv * head_dim */
    int n_slots;  /* sessions held at once */
} lp_kv_shape;

/* Bytes the cache of this shape occupies (0 on overflow). */
size_t lp_kv_bytes(const lp_kv_shape *s);

lp_kv *lp_kv_new(const lp_kv_shape *s, lp_err *err);
void lp_kv_free(lp_kv *kv);
const lp_kv_shape *lp_kv_get_shape(const lp_kv *kv);

/* Sessions. Open returns the slot for a new session id (error if the id is
 * already open or no slot is free); find returns its slot or -1. */
int lp_kv_open(lp_kv *kv, uint64_t session, lp_err *err);
int lp_kv_find(const lp_kv *kv, uint64_t session);
void lp_kv_close(lp_kv *kv, int slot);

/* Positions filled in a slot; set_len truncates (to replay or rewind). */
int lp_kv_len(const lp_kv *kv, int slot);
int lp_kv_set_len(lp_kv *kv, int slot, int n, lp_err *err);

/* Layer index is relative to the shard (0 = its first layer). */
lp_half *lp_kv_k(lp_kv *kv, int layer, int slot); /* [n_ctx][kv_dim] */
lp_half *lp_kv_v(lp_kv *kv, int layer, int slot); /* [kv_dim][n_ctx] */

#endif
