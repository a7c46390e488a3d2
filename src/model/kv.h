/* kv.h — the KV cache of one shard: K and V of its own layers for a fixed
 * number of session slots of n_ctx positions each.
 *
 * Two layouts, as llama.cpp has them:
 *   default (no flash attention): K in f16 (or q8_0) [layer][slot][pos]
 *     [kv_dim]; V in f16 and transposed, [layer][slot][kv_dim][n_ctx], so
 *     that attention's weighted sum over positions is one contiguous dot
 *     product per output dimension (llama.cpp's non-flash path).
 *   flash (-fa): V stored by position like K, [layer][slot][pos][kv_dim],
 *     in f16 or q8_0, because flash attention streams over positions and
 *     reads one V row per position (llama.cpp's v_trans = false).
 * A q8_0 row holds kv_dim / 32 blocks (each kv head's head_dim / 32 of
 * them in turn), written by the Q8_0 quantizer ggml's CPU backend uses.
 *
 * Ownership: lp_kv_new returns a cache the caller owns (lp_kv_free). Slot
 * pointers stay valid until lp_kv_free. Memory is reserved up front but
 * zero pages are only touched as positions fill. */
#ifndef LP_KV_H
#define LP_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "quant.h"

/* Element types a cache may hold; 0 is the default so that a shape or
 * options struct zeroed by its caller means llama.cpp's defaults. */
typedef enum lp_kv_type { LP_KV_F16 = 0, LP_KV_Q8_0 = 1 } lp_kv_type;

/* The attention options llama.cpp users know: -fa, -ctk, -ctv. */
typedef struct lp_attn_opts {
    bool flash;        /* --flash-attn / -fa: streaming softmax over KV blocks */
    lp_kv_type type_k; /* --cache-type-k / -ctk */
    lp_kv_type type_v; /* --cache-type-v / -ctv: q8_0 needs flash */
} lp_attn_opts;

/* "f16", "q8_0" (llama.cpp's names); -1 for anything else. */
int lp_kv_type_parse(const char *s);
const char *lp_kv_type_name(lp_kv_type t);
/* The ggml type of a cache element type. */
lp_type lp_kv_type_ggml(lp_kv_type t);

/* Checks the combination for a model whose heads are head_dim wide: V q8_0
 * only with flash (llama.cpp's rule), q8_0 only when head_dim is a
 * multiple of 32 (a head must be whole blocks). 0, or -1 with err. */
int lp_attn_opts_check(const lp_attn_opts *a, int head_dim, lp_err *err);

/* Command-line flags of every program that runs a model: argv[*i] is the
 * flag, argv[*i + 1] its value if it takes one. Returns 1 and advances *i
 * past what it used if the flag is one of ours (-fa, --flash-attn, -ctk,
 * --cache-type-k, -ctv, --cache-type-v), 0 if not ours, -1 with err for a
 * missing or unknown value. */
int lp_attn_opts_arg(lp_attn_opts *a, int argc, char **argv, int *i, lp_err *err);

typedef struct lp_kv lp_kv;

typedef struct lp_kv_shape {
    int n_layer;  /* layers of this shard */
    int n_ctx;    /* positions per session */
    int kv_dim;   /* n_head_kv * head_dim */
    int n_slots;  /* sessions held at once */
    lp_attn_opts attn; /* zero: f16, V transposed */
} lp_kv_shape;

/* Bytes the cache of this shape occupies (0 on overflow or a shape it
 * cannot hold, such as q8_0 rows that are not whole blocks). */
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

/* Store n rows of f32 keys and values [n][kv_dim] at positions pos0.. in
 * the cache's element types (f16 rounding, or ggml's Q8_0 quantizer) and
 * its layout (V transposed, the padding up to the window zeroed, unless
 * flash). */
void lp_kv_store(lp_kv *kv, int layer, int slot, int pos0, int n, const float *k,
                 const float *v);

/* llama.cpp's attention window for n_used positions: rounded up to 32 (its
 * KV padding without flash attention), at most n_ctx. Products run over
 * all of it; the padding is masked (Q·K) or zero (V). */
int lp_kv_window(const lp_kv *kv, int n_used);

/* Position rows of K (and of V when flash), row_bytes apart. */
uint8_t *lp_kv_k_rows(lp_kv *kv, int layer, int slot);
uint8_t *lp_kv_v_rows(lp_kv *kv, int layer, int slot);
size_t lp_kv_k_row_bytes(const lp_kv *kv);
size_t lp_kv_v_row_bytes(const lp_kv *kv); /* flash only */

/* K from dimension dim0 of position 0's row on (a head's keys: dim0 =
 * head x head_dim, a multiple of 32 for q8_0); later positions are
 * lp_kv_k_row_bytes further each. */
uint8_t *lp_kv_k_at(lp_kv *kv, int layer, int slot, int dim0);

/* Transposed V (not flash): dimension dim0's row of positions; dimension
 * d's is lp_kv_vt_stride(kv) x (d - dim0) elements further. */
const lp_half *lp_kv_vt_at(lp_kv *kv, int layer, int slot, int dim0);
int lp_kv_vt_stride(const lp_kv *kv);

#endif
