#include "kv.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct kv_slot {
    bool open;
    uint64_t session;
    int len;
} kv_slot;

struct lp_kv {
    lp_kv_shape shape;
    size_t slot_elems; /* f16 elements of K (or V) per layer per slot */
    lp_half *k;        /* owned */
    lp_half *v;        /* owned */
    kv_slot *slots;    /* owned, n_slots */
};

static bool shape_elems(const lp_kv_shape *s, size_t *slot_elems, size_t *total)
{
    if (s->n_layer <= 0 || s->n_ctx <= 0 || s->kv_dim <= 0 || s->n_slots <= 0)
        return false;
    size_t per_slot, per_layer;
    if (__builtin_mul_overflow((size_t)s->n_ctx, (size_t)s->kv_dim, &per_slot) ||
        __builtin_mul_overflow(per_slot, (size_t)s->n_slots, &per_layer) ||
        __builtin_mul_overflow(per_layer, (size_t)s->n_layer, total))
        return false;
    *slot_elems = per_slot;
    return true;
}

size_t lp_kv_bytes(const lp_kv_shape *s)
{
    size_t slot_elems, total, bytes;
    if (!shape_elems(s, &slot_elems, &total) ||
        __builtin_mul_overflow(total, 2 * sizeof(lp_half), &bytes))
        return 0;
    return bytes;
}

lp_kv *lp_kv_new(const lp_kv_shape *s, lp_err *err)
{
    size_t slot_elems, total;
    if (!shape_elems(s, &slot_elems, &total) || lp_kv_bytes(s) == 0) {
        lp_err_set(err, "kv: invalid cache shape (layers %d, ctx %d, kv_dim %d, slots %d)",
                   s->n_layer, s->n_ctx, s->kv_dim, s->n_slots);
        return NULL;
    }
    lp_kv *kv = calloc(1, sizeof *kv);
    if (kv) {
        kv->shape = *s;
        kv->slot_elems = slot_elems;
        kv->k = calloc(total, sizeof(lp_half));
        kv->v = calloc(total, sizeof(lp_half));
        kv->slots = calloc((size_t)s->n_slots, sizeof *kv->slots);
    }
    if (!kv || !kv->k || !kv->v || !kv->slots) {
        lp_kv_free(kv);
        lp_err_set(err, "kv: out of memory for a %zu MiB cache", lp_kv_bytes(s) >> 20);
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

static size_t slot_offset(const lp_kv *kv, int layer, int slot)
{
    return ((size_t)layer * (size_t)kv->shape.n_slots + (size_t)slot) * kv->slot_elems;
}

lp_half *lp_kv_k(lp_kv *kv, int layer, int slot)
{
    return kv->k + slot_offset(kv, layer, slot);
}

lp_half *lp_kv_v(lp_kv *kv, int layer, int slot)
{
    return kv->v + slot_offset(kv, layer, slot);
}
