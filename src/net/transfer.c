/* transfer.c — sending a shard file in checksummed chunks (transfer.h).
 *
 * A small window of chunks is in flight, acked in order (one worker thread
 * applies them in turn). Every ack is checked against what that chunk
 * should have made the worker hold; on any surprise we stop sending,
 * drain the window, and resume from what the worker says it holds. */
#include "transfer.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "sha256.h"
#include "wire.h"

/* wire.h keeps a name of its own for the id size. */

enum { MAX_STALLS = 8 }; /* resyncs in a row without progress before giving up */

typedef struct flight {
    uint64_t req, off;
    size_t len;
} flight;

typedef struct tx {
    void *sock;
    int fd;
    const uint8_t *id;
    uint64_t total;
    uint64_t *req_counter, req_local;
    int timeout_ms;
    flight q[LP_TRANSFER_WINDOW]; /* FIFO: q[head], q[head+1], ... */
    int head, n;
    uint8_t *buf;                  /* one chunk; lp_wire_send copies it out */
    uint64_t next;                 /* next offset to send */
    uint64_t have;                 /* what the worker last said it holds */
    bool complete, draining;
    int stalls;
    int64_t t0_ns;                 /* lp_now_ns() at the start */
    lp_transfer_progress progress;
    void *ctx;
    lp_transfer_stats st;
} tx;

static double since(int64_t t0_ns)
{
    return (double)(lp_now_ns() - t0_ns) * 1e-9;
}

/* Send bytes [off, off + len) (len may be 0) and queue it as in flight. */
static int send_chunk(tx *t, uint64_t off, size_t len, lp_err *err)
{
    ssize_t got = lp_pread_full(t->fd, t->buf, len, off);
    if (got != (ssize_t)len)
        return lp_err_set(err, "transfer: reading the shard at %llu: %s",
                          (unsigned long long)off, strerror(got < 0 ? errno : EIO));
    uint8_t hash[LP_SHA256_BYTES];
    lp_sha256(t->buf, len, hash);
    Lp__ShardChunk ch = LP__SHARD_CHUNK__INIT;
    ch.shard_id = (ProtobufCBinaryData){LP_SHA256_BYTES, (uint8_t *)t->id};
    ch.offset = off;
    ch.total_size = t->total;
    ch.data = (ProtobufCBinaryData){len, t->buf};
    ch.chunk_hash = (ProtobufCBinaryData){LP_SHA256_BYTES, hash};
    ch.last = off + len == t->total;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = t->req_counter ? ++*t->req_counter : ++t->req_local;
    env.body_case = LP__ENVELOPE__BODY_SHARD_CHUNK;
    env.shard_chunk = &ch;
    int rc = lp_wire_send(t->sock, NULL, &env, t->timeout_ms, err);
    if (rc == 1)
        return lp_err_set(err, "transfer: the worker took no chunk for %d ms", t->timeout_ms);
    if (rc != 0)
        return -1;
    t->q[(t->head + t->n) % LP_TRANSFER_WINDOW] = (flight){env.request_id, off, len};
    t->n++;
    t->st.bytes_sent += len;
    t->st.chunks_sent += len > 0;
    return 0;
}

/* Index in the window (0 = oldest) of request id r, or -1. */
static int find_flight(const tx *t, uint64_t r)
{
    for (int i = 0; i < t->n; i++)
        if (t->q[(t->head + i) % LP_TRANSFER_WINDOW].req == r)
            return i;
    return -1;
}

/* Take what an ack for window entry i says. Entries before it will never
 * be answered (the worker restarted): drop them and resynchronise. */
static int take_ack(tx *t, int i, const Lp__ChunkAck *ack, lp_err *err)
{
    flight f = t->q[(t->head + i) % LP_TRANSFER_WINDOW];
    t->head = (t->head + i + 1) % LP_TRANSFER_WINDOW;
    t->n -= i + 1;
    if (ack->shard_id.len != LP_SHA256_BYTES ||
        memcmp(ack->shard_id.data, t->id, LP_SHA256_BYTES) != 0)
        return lp_err_set(err, "transfer: the worker acknowledged another shard");
    if (ack->have > t->total)
        return lp_err_set(err, "transfer: the worker claims %llu bytes of a %llu-byte shard",
                          (unsigned long long)ack->have, (unsigned long long)t->total);
    if (ack->have > t->have)
        t->stalls = 0;
    t->have = ack->have;
    t->complete = ack->complete;
    if (i > 0 || ack->have != f.off + f.len)
        t->draining = true;
    if (!t->complete && f.len == 0 && f.off == t->total && t->have == t->total)
        return lp_err_set(err, "transfer: the worker holds every byte but did not verify them");
    if (t->progress && !t->progress(t->ctx, t->have, t->total,
                                    t->st.bytes_sent / 1e6 / (since(t->t0_ns) + 1e-9)))
        return lp_err_set(err, "transfer: stopped at %llu of %llu bytes",
                          (unsigned long long)t->have, (unsigned long long)t->total);
    return 0;
}

/* Wait for the next reply that is ours and apply it. */
static int await_ack(tx *t, lp_err *err)
{
    for (;;) {
        Lp__Envelope *env = NULL;
        int rc = lp_wire_recv(t->sock, NULL, &env, t->timeout_ms, err);
        if (rc == 1)
            return lp_err_set(err, "transfer: no answer from the worker for %d ms (chunk at "
                              "%llu)", t->timeout_ms,
                              (unsigned long long)t->q[t->head].off);
        if (rc != 0)
            return -1;
        int i = find_flight(t, env->request_id);
        if (i < 0) { /* a reply to something else, or stale */
            lp_wire_env_free(env);
            continue;
        }
        if (env->body_case == LP__ENVELOPE__BODY_ERROR) {
            lp_err_set(err, "transfer: the worker refused the chunk at %llu: %s",
                       (unsigned long long)t->q[(t->head + i) % LP_TRANSFER_WINDOW].off,
                       env->error->message);
            rc = -1;
        } else if (env->body_case != LP__ENVELOPE__BODY_CHUNK_ACK) {
            rc = lp_err_set(err, "transfer: the worker answered a chunk with message %d",
                            (int)env->body_case);
        } else {
            rc = take_ack(t, i, env->chunk_ack, err);
        }
        lp_wire_env_free(env);
        return rc;
    }
}

/* Fill the window; after a drain, start again from what the worker holds. */
static int pump(tx *t, lp_err *err)
{
    if (t->n == 0 && t->draining) {
        t->draining = false;
        t->next = t->have;
        if (++t->stalls > MAX_STALLS)
            return lp_err_set(err, "transfer: the worker's offset keeps moving (at %llu of "
                              "%llu bytes)", (unsigned long long)t->have,
                              (unsigned long long)t->total);
        if (t->next == t->total) /* all there, never verified: ask for it */
            return send_chunk(t, t->total, 0, err);
    }
    while (!t->draining && t->n < LP_TRANSFER_WINDOW && t->next < t->total) {
        uint64_t left = t->total - t->next;
        size_t len = left < LP_WIRE_CHUNK ? (size_t)left : LP_WIRE_CHUNK;
        if (send_chunk(t, t->next, len, err))
            return -1;
        t->next += len;
    }
    return 0;
}

static int run(tx *t, lp_err *err)
{
    /* Where does the worker stand? An empty chunk at 0 asks. */
    if (send_chunk(t, 0, 0, err))
        return -1;
    t->draining = true;
    if (await_ack(t, err))
        return -1;
    t->st.resumed_from = t->have;
    t->stalls = 0;
    while (!t->complete) {
        if (pump(t, err))
            return -1;
        if (t->n == 0)
            return lp_err_set(err, "transfer: sent all %llu bytes but the worker did not "
                              "confirm them", (unsigned long long)t->total);
        if (await_ack(t, err))
            return -1;
    }
    return 0;
}

static int open_file(const char *path, int *fd, uint64_t *size, lp_err *err)
{
    struct stat st;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return lp_err_set(err, "transfer: cannot open '%s': %s", path, strerror(errno));
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return lp_err_set(err, "transfer: '%s' is not a non-empty regular file", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

int lp_transfer_shard(void *sock, const char *path, const uint8_t shard_id[LP_SHA256_BYTES],
                      lp_transfer_progress progress, void *ctx, int timeout_ms,
                      uint64_t *request_id, lp_transfer_stats *stats, lp_err *err)
{
    if (timeout_ms <= 0)
        return lp_err_set(err, "transfer: timeout must be positive");
    tx t = {.sock = sock, .fd = -1, .id = shard_id, .req_counter = request_id,
            .timeout_ms = timeout_ms, .progress = progress, .ctx = ctx};
    t.t0_ns = lp_now_ns();
    /* Without the caller's counter, ids from the clock: late acks of an
     * earlier call on this socket then never match this call's ids. */
    t.req_local = (uint64_t)1 << 62 |
                  (uint64_t)t.t0_ns << 4;
    int rc = open_file(path, &t.fd, &t.total, err);
    if (rc == 0 && !(t.buf = malloc(LP_WIRE_CHUNK)))
        rc = lp_err_set(err, "transfer: out of memory");
    if (rc == 0)
        rc = run(&t, err);
    t.st.size = t.total;
    t.st.seconds = since(t.t0_ns);
    if (stats)
        *stats = t.st;
    free(t.buf);
    if (t.fd >= 0)
        close(t.fd);
    return rc;
}
