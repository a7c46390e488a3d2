/* tokenizer_hash.c — the two lookups tokenizing leans on: token text -> id
 * and BPE merge pair -> rank. Open addressing over index arrays keeps a
 * 150k vocabulary plus 280k merges at a few MB, built in one pass. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* FNV-1a, then a final mix so that linear probing sees spread low bits. */
uint64_t lp_hash_bytes(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int strmap_alloc(lp_strmap *m, uint64_t n, lp_err *err)
{
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots)
        return lp_err_set(err, "tokenizer: out of memory for a %llu-slot table",
                          (unsigned long long)cap);
    m->mask = cap - 1;
    return 0;
}

void lp_strmap_free(lp_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
}

static uint64_t text_hash(const char *s, size_t n)
{
    return mix(lp_hash_bytes(LP_HASH_SEED, s, n));
}

lp_token lp_tok_lookup(const lp_tokenizer *t, const char *s, size_t n)
{
    const lp_strmap *m = &t->tokmap;
    for (uint64_t i = text_hash(s, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slots[i];
        if (v == 0)
            return LP_TOKEN_NULL;
        uint32_t id = v - 1;
        if (t->text_len[id] == n && memcmp(t->text[id], s, n) == 0)
            return (lp_token)id;
    }
}

int lp_tokmap_build(lp_tokenizer *t, lp_err *err)
{
    if (strmap_alloc(&t->tokmap, t->n_vocab, err))
        return -1;
    lp_strmap *m = &t->tokmap;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->text[id];
        size_t n = t->text_len[id];
        uint64_t i = text_hash(s, n) & m->mask;
        for (; m->slots[i]; i = (i + 1) & m->mask) {
            uint32_t o = m->slots[i] - 1;
            if (t->text_len[o] == n && memcmp(t->text[o], s, n) == 0)
                return lp_err_set(err, "tokenizer.ggml.tokens: token %u repeats "
                                  "the text of token %u", id, o);
        }
        m->slots[i] = id + 1;
    }
    return 0;
}

/* The pair hashes as l, a separator no UTF-8 text contains, then r, so
 * "ab"+"c" and "a"+"bc" differ. */
static uint64_t pair_hash(const char *l, size_t ll, const char *r, size_t rl)
{
    uint64_t h = lp_hash_bytes(LP_HASH_SEED, l, ll);
    h = lp_hash_bytes(h, "\xff", 1);
    return mix(lp_hash_bytes(h, r, rl));
}

static bool merge_is(const lp_merge *m, const char *l, size_t ll, const char *r, size_t rl)
{
    return m->ll == ll && m->rl == rl && memcmp(m->l, l, ll) == 0 &&
           memcmp(m->r, r, rl) == 0;
}

int32_t lp_merge_rank(const lp_tokenizer *t, const char *l, size_t ll,
                      const char *r, size_t rl)
{
    const lp_strmap *m = &t->mergemap;
    if (!m->slots)
        return -1;
    for (uint64_t i = pair_hash(l, ll, r, rl) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->slots[i];
        if (v == 0)
            return -1;
        if (merge_is(&t->merges[v - 1], l, ll, r, rl))
            return (int32_t)(v - 1);
    }
}

int lp_mergemap_build(lp_tokenizer *t, lp_err *err)
{
    if (strmap_alloc(&t->mergemap, t->n_merges, err))
        return -1;
    lp_strmap *m = &t->mergemap;
    for (uint32_t k = 0; k < t->n_merges; k++) {
        const lp_merge *g = &t->merges[k];
        uint64_t i = pair_hash(g->l, g->ll, g->r, g->rl) & m->mask;
        bool dup = false;
        for (; m->slots[i]; i = (i + 1) & m->mask)
            if (merge_is(&t->merges[m->slots[i] - 1], g->l, g->ll, g->r, g->rl)) {
                dup = true; /* llama.cpp's emplace keeps the first rank */
                break;
            }
        if (!dup)
            m->slots[i] = k + 1;
    }
    return 0;
}
