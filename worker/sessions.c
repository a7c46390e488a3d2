/* sessions.c — open, close and expire sessions of a shard (sessions.h). */
#include "sessions.h"

#include <stdlib.h>

wk_sessions *wk_sessions_new(int n_slots, lp_err *err)
{
    wk_sessions *t = calloc(1, sizeof *t);
    if (t)
        t->s = calloc((size_t)(n_slots > 0 ? n_slots : 1), sizeof *t->s);
    if (!t || !t->s) {
        free(t);
        lp_err_set(err, "sessions: out of memory");
        return NULL;
    }
    t->n = n_slots;
    return t;
}

void wk_sessions_free(wk_sessions *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        lp_sampler_free(t->s[i].sampler);
    free(t->s);
    free(t);
}

int wk_sessions_open(wk_sessions *t, lp_kv *kv, uint64_t id, int64_t now_ms, lp_err *err)
{
    int slot = lp_kv_open(kv, id, err);
    if (slot < 0)
        return -1;
    if (slot >= t->n) { /* cannot happen: the table is sized by the KV */
        lp_kv_close(kv, slot);
        return lp_err_set(err, "sessions: slot %d outside the table", slot);
    }
    t->s[slot] = (wk_session){.open = true, .id = id, .last_used_ms = now_ms};
    return slot;
}

void wk_sessions_close(wk_sessions *t, lp_kv *kv, int slot)
{
    if (slot < 0 || slot >= t->n || !t->s[slot].open)
        return;
    lp_sampler_free(t->s[slot].sampler);
    t->s[slot] = (wk_session){0};
    lp_kv_close(kv, slot);
}

int wk_sessions_expire(wk_sessions *t, lp_kv *kv, int64_t now_ms, int64_t ttl_ms)
{
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        if (t->s[i].open && now_ms - t->s[i].last_used_ms > ttl_ms) {
            wk_sessions_close(t, kv, i);
            n++;
        }
    }
    return n;
}

int wk_sessions_count(const wk_sessions *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        n += t->s[i].open;
    return n;
}

uint64_t wk_sessions_positions(const wk_sessions *t, const lp_kv *kv)
{
    uint64_t n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->s[i].open)
            n += (uint64_t)lp_kv_len(kv, i);
    return n;
}
