/* sessions.h — the live sessions of a loaded shard: each holds one KV slot
 * of the shard's lp_kv and, on the last shard once sampling starts, its
 * sampler. Entries are indexed by KV slot.
 *
 * Ownership: wk_sessions_new returns a table the compute thread owns
 * (wk_sessions_free, which frees every sampler; the KV slots belong to the
 * lp_kv and are closed by wk_sessions_close / _expire). */
#ifndef WK_SESSIONS_H
#define WK_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "kv.h"
#include "sampler.h"

typedef struct wk_session {
    bool open;
    uint64_t id;
    lp_sampler *sampler; /* owned; NULL until the first sampled step */
    int64_t last_used_ms;
} wk_session;

typedef struct wk_sessions {
    int n;          /* = the KV's n_slots */
    wk_session *s;  /* owned, [n] */
} wk_sessions;

wk_sessions *wk_sessions_new(int n_slots, lp_err *err);
void wk_sessions_free(wk_sessions *t);

/* Open id in a free KV slot; returns the slot or -1 (err: already open,
 * or every slot in use). */
int wk_sessions_open(wk_sessions *t, lp_kv *kv, uint64_t id, int64_t now_ms, lp_err *err);
/* Free the slot's KV and sampler. */
void wk_sessions_close(wk_sessions *t, lp_kv *kv, int slot);
/* Close every session idle for more than ttl_ms; returns how many. */
int wk_sessions_expire(wk_sessions *t, lp_kv *kv, int64_t now_ms, int64_t ttl_ms);

int wk_sessions_count(const wk_sessions *t);
/* Positions held by all open sessions. */
uint64_t wk_sessions_positions(const wk_sessions *t, const lp_kv *kv);

#endif
