/* shard_info.c — reading and checking a shard file's layerpool.shard.*
 * keys (shard_info.h). */
#include "shard_info.h"

#include <stdio.h>
#include <string.h>

#include "model_id.h"

static bool has_any_key(const lp_gguf *g)
{
    const size_t pl = strlen(LP_SHARD_KEY_PREFIX);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len > pl && memcmp(g->kv[i].key.ptr, LP_SHARD_KEY_PREFIX, pl) == 0)
            return true;
    return false;
}

static int get_u32(const lp_gguf *g, const char *suffix, uint32_t *out, lp_err *err)
{
    char key[96];
    snprintf(key, sizeof key, "%s%s", LP_SHARD_KEY_PREFIX, suffix);
    if (lp_gguf_get_u32(g, key, out) != 0)
        return lp_err_set(err, "shard: '%s' is %s", key,
                          lp_gguf_find(g, key) ? "not an unsigned 32-bit integer" : "missing");
    return 0;
}

static int get_bool(const lp_gguf *g, const char *suffix, bool *out, lp_err *err)
{
    char key[96];
    snprintf(key, sizeof key, "%s%s", LP_SHARD_KEY_PREFIX, suffix);
    const lp_gguf_kv *kv = lp_gguf_find(g, key);
    if (!kv || kv->val.type != LP_GGUF_BOOL)
        return lp_err_set(err, "shard: '%s' is %s", key, kv ? "not a bool" : "missing");
    *out = kv->val.v.u64 != 0;
    return 0;
}

static int check(const lp_shard_info *s, lp_err *err)
{
    if (s->first >= s->last || s->last > s->n_layer)
        return lp_err_set(err, "shard: layers [%u, %u) are not a range of its %u layers",
                          s->first, s->last, s->n_layer);
    if (s->index >= s->count || s->n_vocab == 0)
        return lp_err_set(err, "shard: index %u of %u, or vocabulary %u, is invalid", s->index,
                          s->count, s->n_vocab);
    if (s->has_embed != (s->first == 0) || s->has_head != (s->last == s->n_layer))
        return lp_err_set(err, "shard: layers [%u, %u) of %u disagree with has_embed %d / "
                          "has_head %d", s->first, s->last, s->n_layer, s->has_embed,
                          s->has_head);
    return 0;
}

int lp_shard_info_read(const lp_gguf *g, lp_shard_info *out, lp_err *err)
{
    memset(out, 0, sizeof *out);
    if (!has_any_key(g))
        return 0;
    lp_shard_info s = {.is_shard = true};
    if (!lp_gguf_find(g, LP_MODEL_ID_KEY))
        return lp_err_set(err, "shard: '%s' is missing", LP_MODEL_ID_KEY);
    if (lp_model_id(g, s.model_id, err) || get_u32(g, "first", &s.first, err) ||
        get_u32(g, "last", &s.last, err) || get_u32(g, "n_layer", &s.n_layer, err) ||
        get_u32(g, "n_vocab", &s.n_vocab, err) || get_u32(g, "index", &s.index, err) ||
        get_u32(g, "count", &s.count, err) || get_bool(g, "has_embed", &s.has_embed, err) ||
        get_bool(g, "has_head", &s.has_head, err) || check(&s, err))
        return -1;
    *out = s;
    return 0;
}
