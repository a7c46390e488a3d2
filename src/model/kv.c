#include "kv.h"

#include <stdlib.h>
#include <string.h>

typedef struct kv_slot {
    bool open;
    uint64_t session;
    int len;
} kv_slot;

struct lp_kv {
    lp_kv_shape shape;
    size_t k_row, v_row;   /* bytes of one position's K (V) row, all kv heads */
    size_t k_slot, v_slot; /* bytes of K (V) per layer per slot */
    uint8_t *k;            /* owned */
    uint8_t *v;            /* owned */
    kv_slot *slots;        /* owned, n_slots */
};

/* ---- options ------------------------------------------------------------- */

static const char *const k_type_names[] = {[LP_KV_F16] = "f16", [LP_KV_Q8_0] = "q8_0"};

int lp_kv_type_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof k_type_names / sizeof k_type_names[0]); i++)
        if (!strcmp(s, k_type_names[i]))
            return i;
    return -1;
}

const char *lp_kv_type_name(lp_kv_type t)
{
    return (unsigned)t < sizeof k_type_names / sizeof k_type_names[0] ? k_type_names[t] : "?";
}

lp_type lp_kv_type_ggml(lp_kv_type t)
{
    return t == LP_KV_Q8_0 ? LP_TYPE_Q8_0 : LP_TYPE_F16;
}

int lp_attn_opts_check(const lp_attn_opts *a, int head_dim, lp_err *err)
{
    if ((unsigned)a->type_k > LP_KV_Q8_0 || (unsigned)a->type_v > LP_KV_Q8_0)
        return lp_err_set(err, "kv: unknown cache type");
    if (a->type_v != LP_KV_F16 && !a->flash)
        return lp_err_set(err, "--cache-type-v %s needs --flash-attn (-fa): without it V is "
                               "stored transposed, one value per position, which cannot be "
                               "quantized in blocks (llama.cpp has the same rule)",
                          lp_kv_type_name(a->type_v));
    if ((a->type_k == LP_KV_Q8_0 || a->type_v == LP_KV_Q8_0) && head_dim % LP_QK8_0 != 0)
        return lp_err_set(err, "cache type q8_0 needs heads whose size is a multiple of %d; "
                               "this model's heads have %d dimensions",
                          LP_QK8_0, head_dim);
    return 0;
}

static int type_value(const char *flag, const char *v, lp_kv_type *out, lp_err *err)
{
    int t = lp_kv_type_parse(v);
    if (!v)
        return lp_err_set(err, "%s wants a cache type (f16 or q8_0)", flag);
    if (t < 0)
        return lp_err_set(err, "%s: unsupported cache type '%s' (layerpool has f16 and q8_0)",
                          flag, v);
    *out = (lp_kv_type)t;
    return 0;
}

int lp_attn_opts_arg(lp_attn_opts *a, int argc, char **argv, int *i, lp_err *err)
{
    const char *f = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(f, "-fa") || !strcmp(f, "--flash-attn")) {
        a->flash = true;
        return 1;
    }
    lp_kv_type *dst = !strcmp(f, "-ctk") || !strcmp(f, "--cache-type-k")   ? &a->type_k
                      : !strcmp(f, "-ctv") || !strcmp(f, "--cache-type-v") ? &a->type_v
                                                                           : NULL;
    if (!dst)
        return 0;
    if (type_value(f, v, dst, err) != 0)
        return -1;
    *i += 1;
    return 1;
}

/* ---- the cache ----------------------------------------------------------- */

static bool mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Row and per-slot bytes of K and V, and the total; false if the shape
 * is invalid or too large. */
static bool shape_bytes(const lp_kv_shape *s, size_t row[2], size_t slot[2], size_t *total)
{
    if (s->n_layer <= 0 || s->n_ctx <= 0 || s->kv_dim <= 0 || s->n_slots <= 0 ||
        (unsigned)s->attn.type_k > LP_KV_Q8_0 || (unsigned)s->attn.type_v > LP_KV_Q8_0 ||
        (s->attn.type_v != LP_KV_F16 && !s->attn.flash))
        return false;
    const lp_kv_type types[2] = {s->attn.type_k, s->attn.type_v};
    size_t sum = 0, per_layer;
    for (int i = 0; i < 2; i++) {
        row[i] = lp_type_row_bytes(lp_kv_type_ggml(types[i]), s->kv_dim);
        if (row[i] == 0 || !mul_ok(row[i], (size_t)s->n_ctx, &slot[i]) ||
            !mul_ok(slot[i], (size_t)s->n_slots, &per_layer) ||
            !mul_ok(per_layer, (size_t)s->n_layer, &per_layer) ||
            __builtin_add_overflow(sum, per_layer, &sum))
            return false;
    }
    *total = sum;
    return true;
}

size_t lp_kv_bytes(const lp_kv_shape *s)
{
    size_t row[2], slot[2], total;
    return shape_bytes(s, row, slot, &total) ? total : 0;
}

lp_kv *lp_kv_new(const lp_kv_shape *s, lp_err *err)
{
    size_t row[2], slot[2], total;
    if (!shape_bytes(s, row, slot, &total)) {
        lp_err_set(err, "kv: invalid cache shape (layers %d, ctx %d, kv_dim %d, slots %d, "
                        "K %s, V %s%s)",
                   s->n_layer, s->n_ctx, s->kv_dim, s->n_slots, lp_kv_type_name(s->attn.type_k),
                   lp_kv_type_name(s->attn.type_v), s->attn.flash ? ", flash" : "");
        return NULL;
    }
    lp_kv *kv = calloc(1, sizeof *kv);
    if (kv) {
        *kv = (lp_kv){.shape = *s, .k_row = row[0], .v_row = row[1], .k_slot = slot[0],
                      .v_slot = slot[1]};
        kv->k = calloc(slot[0] * (size_t)s->n_slots, (size_t)s->n_layer);
        kv->v = calloc(slot[1] * (size_t)s->n_slots, (size_t)s->n_layer);
        kv->slots = calloc((size_t)s->n_slots, sizeof *kv->slots);
    }
    if (!kv || !kv->k || !kv->v || !kv->slots) {
        lp_kv_free(kv);
        lp_err_set(err, "kv: out of memory for a %zu MiB cache", total >> 20);
        return NULL;
    }
    return kv;
}

void lp_kv_free(lp_kv *kv)
{
    if (!kv)
        return;
    free(kv->k);
    free(kv->v);
    free(kv->slots);
    free(kv);
}

const lp_kv_shape *lp_kv_get_shape(const lp_kv *kv)
{
    return &kv->shape;
}

int lp_kv_find(const lp_kv *kv, uint64_t session)
{
    for (int i = 0; i < kv->shape.n_slots; i++)
        if (kv->slots[i].open && kv->slots[i].session == session)
            return i;
    return -1;
}

int lp_kv_open(lp_kv *kv, uint64_t session, lp_err *err)
{
    if (lp_kv_find(kv, session) >= 0)
        return lp_err_set(err, "kv: session %llu is already open",
                          (unsigned long long)session);
    for (int i = 0; i < kv->shape.n_slots; i++) {
        if (!kv->slots[i].open) {
            kv->slots[i] = (kv_slot){.open = true, .session = session, .len = 0};
            return i;
        }
    }
    return lp_err_set(err, "kv: all %d session slots are in use", kv->shape.n_slots);
}

void lp_kv_close(lp_kv *kv, int slot)
{
    if (slot >= 0 && slot < kv->shape.n_slots)
        kv->slots[slot] = (kv_slot){0};
}

int lp_kv_len(const lp_kv *kv, int slot)
{
    return kv->slots[slot].len;
}

int lp_kv_set_len(lp_kv *kv, int slot, int n, lp_err *err)
{
    if (slot < 0 || slot >= kv->shape.n_slots || !kv->slots[slot].open)
        return lp_err_set(err, "kv: slot %d is not open", slot);
    if (n < 0 || n > kv->shape.n_ctx)
        return lp_err_set(err, "kv: length %d outside the context of %d", n, kv->shape.n_ctx);
    kv->slots[slot].len = n;
    return 0;
}

static size_t slot_index(const lp_kv *kv, int layer, int slot)
{
    return (size_t)layer * (size_t)kv->shape.n_slots + (size_t)slot;
}

uint8_t *lp_kv_k_rows(lp_kv *kv, int layer, int slot)
{
    return kv->k + slot_index(kv, layer, slot) * kv->k_slot;
}

uint8_t *lp_kv_v_rows(lp_kv *kv, int layer, int slot)
{
    return kv->v + slot_index(kv, layer, slot) * kv->v_slot;
}

size_t lp_kv_k_row_bytes(const lp_kv *kv)
{
    return kv->k_row;
}

size_t lp_kv_v_row_bytes(const lp_kv *kv)
{
    return kv->v_row;
}

static void put_rows(lp_kv_type t, uint8_t *dst, size_t row_bytes, int dim, int n,
                     const float *src)
{
    for (int r = 0; r < n; r++)
        lp_quantize_row(lp_kv_type_ggml(t), src + (size_t)r * dim, dst + (size_t)r * row_bytes,
                        dim);
}

int lp_kv_window(const lp_kv *kv, int n_used)
{
    const int padded = (n_used + 31) / 32 * 32;
    return padded < kv->shape.n_ctx ? padded : kv->shape.n_ctx;
}

/* V^T of a slot: kv_dim rows of n_ctx f16 positions. The cache's buffers
 * come from calloc, aligned for any type, and every offset is even. */
static lp_half *vt(lp_kv *kv, int layer, int slot)
{
    return (lp_half *)(void *)lp_kv_v_rows(kv, layer, slot);
}

/* Transposed V beyond the new length, up to the window, is zeroed:
 * llama.cpp's cache holds zeros there, and P·V multiplies them (by zero
 * weights). */
static void put_vt(lp_kv *kv, int layer, int slot, int pos0, int n, const float *v)
{
    const int kvd = kv->shape.kv_dim, n_ctx = kv->shape.n_ctx, end = pos0 + n;
    const int pad = lp_kv_window(kv, end) - end;
    lp_half *Vt = vt(kv, layer, slot);
    for (int t = 0; t < n; t++)
        for (int d = 0; d < kvd; d++)
            Vt[(size_t)d * n_ctx + pos0 + t] = lp_f32_to_f16(v[(size_t)t * kvd + d]);
    for (int d = 0; d < kvd && pad > 0; d++)
        memset(Vt + (size_t)d * n_ctx + end, 0, (size_t)pad * sizeof(lp_half));
}

void lp_kv_store(lp_kv *kv, int layer, int slot, int pos0, int n, const float *k,
                 const float *v)
{
    put_rows(kv->shape.attn.type_k, lp_kv_k_rows(kv, layer, slot) + (size_t)pos0 * kv->k_row,
             kv->k_row, kv->shape.kv_dim, n, k);
    if (kv->shape.attn.flash)
        put_rows(kv->shape.attn.type_v,
                 lp_kv_v_rows(kv, layer, slot) + (size_t)pos0 * kv->v_row, kv->v_row,
                 kv->shape.kv_dim, n, v);
    else
        put_vt(kv, layer, slot, pos0, n, v);
}

uint8_t *lp_kv_k_at(lp_kv *kv, int layer, int slot, int dim0)
{
    const lp_type t = lp_kv_type_ggml(kv->shape.attn.type_k);
    return lp_kv_k_rows(kv, layer, slot) + lp_type_row_bytes(t, dim0);
}

const lp_half *lp_kv_vt_at(lp_kv *kv, int layer, int slot, int dim0)
{
    return vt(kv, layer, slot) + (size_t)dim0 * kv->shape.n_ctx;
}

int lp_kv_vt_stride(const lp_kv *kv)
{
    return kv->shape.n_ctx;
}
