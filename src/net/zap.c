/* zap.c — the ZAP handler: allow-lists of CURVE keys per domain (zap.h). */
#include "zap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "keys.h"
#include "ratelog.h"
#include "wire_internal.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* ZeroMQ asks here (RFC 27) */

enum { ZAP_SEEN = 64 };

typedef struct entry {
    char domain[32];
    uint8_t key[32];
    char user_id[64];
} entry;

struct lp_zap {
    void *rep;           /* owned by the handler thread once started */
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;  /* guards entries and n */
    entry entries[LP_ZAP_MAX];
    int n;
    _Atomic uint64_t refused;
    /* the handler thread's alone: */
    lp_ratelog log;      /* lines for peers not seen before, a few a minute */
    uint64_t seen[ZAP_SEEN]; /* refused peers (domain, address, key) already
                                logged, as hashes; the oldest is forgotten */
    int seen_next;
    char name[64];
};

/* The user id for key in domain into out; false if it may not connect. */
static bool lookup(lp_zap *z, const char *domain, const uint8_t *key, char *out, size_t cap)
{
    bool found = false;
    pthread_mutex_lock(&z->mu);
    for (int i = 0; i < z->n && !found; i++)
        if (!strcmp(z->entries[i].domain, domain) && !memcmp(z->entries[i].key, key, 32)) {
            snprintf(out, cap, "%s", z->entries[i].user_id);
            found = true;
        }
    pthread_mutex_unlock(&z->mu);
    return found;
}

/* Frame i of a request (at most cap - 1 bytes, NUL-terminated) */
static void frame_str(zmq_msg_t *f, char *out, size_t cap)
{
    size_t n = zmq_msg_size(f) < cap - 1 ? zmq_msg_size(f) : cap - 1;
    memcpy(out, zmq_msg_data(f), n);
    out[n] = 0;
}

/* FNV-1a over a peer's domain, address and key (NULL: none). */
static uint64_t peer_hash(const char *domain, const char *address, const uint8_t *key)
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[2] = {domain, address};
    for (int p = 0; p < 2; p++)
        for (const char *c = parts[p]; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
    for (int i = 0; key && i < 32; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return h;
}

/* Has this peer been logged already? If not, it is from now on. */
static bool seen_before(lp_zap *z, uint64_t h)
{
    for (int i = 0; i < ZAP_SEEN; i++)
        if (z->seen[i] == h)
            return true;
    z->seen[z->seen_next] = h;
    z->seen_next = (z->seen_next + 1) % ZAP_SEEN;
    return false;
}

/* A refusal is counted always, logged once per peer (ZeroMQ clients retry
 * every 100 ms), and peers never seen are logged a few a minute. */
static void refused(lp_zap *z, const char *domain, const char *address, const uint8_t *key,
                    bool has_key)
{
    atomic_fetch_add(&z->refused, 1);
    uint64_t held = 0;
    if (seen_before(z, peer_hash(domain, address, key)) ||
        !lp_ratelog_allow(&z->log, lp_now_ms(), &held))
        return;
    char z85[LP_KEY_Z85 + 1] = "(none)";
    if (has_key)
        zmq_z85_encode(z85, key, 32);
    if (held)
        fprintf(stderr, "%s: %llu more refused connections not logged\n", z->name,
                (unsigned long long)held);
    fprintf(stderr, "%s: refused a connection to its %s socket from %s, key %s: not allowed "
            "(its retries are counted, not logged)\n", z->name, domain, address, z85);
}

/* One request (7 frames, RFC 27) answered. */
static void answer(lp_zap *z)
{
    enum { N = 7 };
    zmq_msg_t f[N];
    int got = 0;
    bool more = true;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (got < N)
            f[got++] = m;
        else
            zmq_msg_close(&m);
    }
    if (got < 6) {
        for (int i = 0; i < got; i++)
            zmq_msg_close(&f[i]);
        return; /* not a ZAP request: ZeroMQ's own, so never */
    }
    char domain[32], address[64], mech[16], user[64] = "";
    frame_str(&f[2], domain, sizeof domain);
    frame_str(&f[3], address, sizeof address);
    frame_str(&f[5], mech, sizeof mech);
    const bool has_key = got == 7 && zmq_msg_size(&f[6]) == 32;
    const uint8_t *key = has_key ? zmq_msg_data(&f[6]) : NULL;
    const bool ok = !strcmp(mech, "CURVE") && has_key && lookup(z, domain, key, user, sizeof user);
    if (!ok)
        refused(z, domain, address, key, has_key);
    const char *status = ok ? "200" : "400", *text = ok ? "OK" : "not on the allow-list";
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    zmq_send(z->rep, status, 3, ZMQ_SNDMORE);
    zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->rep, user, ok ? strlen(user) : 0, ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, 0);
    for (int i = 0; i < got; i++)
        zmq_msg_close(&f[i]);
}

static void *run(void *arg)
{
    lp_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t it = {.socket = z->rep, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) > 0 && (it.revents & ZMQ_POLLIN))
            answer(z);
    }
    zmq_close(z->rep);
    return NULL;
}

lp_zap *lp_zap_start(lp_wire *w, const char *name, lp_err *err)
{
    if (!zmq_has("curve")) {
        lp_err_set(err, "zap: this libzmq has no CURVE");
        return NULL;
    }
    lp_zap *z = calloc(1, sizeof *z);
    if (!z) {
        lp_err_set(err, "zap: out of memory");
        return NULL;
    }
    snprintf(z->name, sizeof z->name, "%s", name ? name : "zap");
    lp_ratelog_init(&z->log, 10, 60 * 1000);
    pthread_mutex_init(&z->mu, NULL);
    int linger = 0;
    if (!(z->rep = zmq_socket(w->ctx, ZMQ_REP)) ||
        zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
        lp_err_set(err, "zap: cannot serve %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
        if (z->rep)
            zmq_close(z->rep);
    } else if (pthread_create(&z->thread, NULL, run, z) != 0) {
        lp_err_set(err, "zap: cannot start its thread");
        zmq_close(z->rep);
    } else {
        return z;
    }
    pthread_mutex_destroy(&z->mu);
    free(z);
    return NULL;
}

void lp_zap_stop(lp_zap *z)
{
    if (!z)
        return;
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    pthread_mutex_destroy(&z->mu);
    free(z);
}

int lp_zap_allow(lp_zap *z, const char *domain, const char *pub, const char *user_id,
                 lp_err *err)
{
    uint8_t key[32];
    if (!lp_key_valid(pub) || !zmq_z85_decode(key, pub))
        return lp_err_set(err, "zap: '%s' is not a public key (40 Z85 characters)", pub);
    if (strlen(domain) >= sizeof z->entries[0].domain ||
        strlen(user_id) >= sizeof z->entries[0].user_id)
        return lp_err_set(err, "zap: domain or user id too long");
    pthread_mutex_lock(&z->mu);
    int i = 0;
    while (i < z->n && (strcmp(z->entries[i].domain, domain) || memcmp(z->entries[i].key, key, 32)))
        i++;
    int rc = 0;
    if (i == LP_ZAP_MAX) {
        rc = lp_err_set(err, "zap: more than %d allowed keys", LP_ZAP_MAX);
    } else {
        entry *e = &z->entries[i];
        snprintf(e->domain, sizeof e->domain, "%s", domain);
        memcpy(e->key, key, 32);
        snprintf(e->user_id, sizeof e->user_id, "%s", user_id);
        z->n += i == z->n;
    }
    pthread_mutex_unlock(&z->mu);
    return rc;
}

void lp_zap_forget(lp_zap *z, const char *domain)
{
    pthread_mutex_lock(&z->mu);
    int k = 0;
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->entries[i].domain, domain))
            z->entries[k++] = z->entries[i];
    z->n = k;
    pthread_mutex_unlock(&z->mu);
}

uint64_t lp_zap_refused(lp_zap *z)
{
    return atomic_load(&z->refused);
}
