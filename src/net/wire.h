/* wire.h — ZeroMQ sockets and the protobuf Envelope (proto/layerpool.proto)
 * that every message between coordinator and workers is.
 *
 * Every socket of the program is created here, with its options (message
 * size cap, linger, reconnect, and later CURVE keys), so securing the links
 * is a change to this file alone.
 *
 * Topology (DESIGN.md): a worker binds a ROUTER on its control endpoint
 * (--listen) and a PULL on its data endpoint (control port + 1 unless told
 * otherwise). The coordinator connects one DEALER per worker for control,
 * a PUSH to worker 0's data endpoint, and binds a PULL for results; worker
 * i connects a PUSH to worker i+1's data endpoint; the last worker a PUSH to
 * the coordinator's result endpoint.
 *
 * Received messages are hostile: lp_wire_recv refuses anything over the
 * size cap, anything that does not parse, a different protocol version, an
 * envelope without a body, and bodies whose own sizes are inconsistent
 * (lp_wire_check); what passes still needs checking against the receiver's
 * state (sessions, positions, shapes).
 *
 * Ownership: lp_wire_new returns the process's wire (ZeroMQ context) which
 * the caller owns (lp_wire_free, after closing every socket). Sockets are
 * owned by the caller until lp_wire_close; each is used by one thread only.
 * lp_wire_recv returns an Envelope the caller frees with lp_wire_env_free. */
#ifndef LP_WIRE_H
#define LP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "layerpool.pb-c.h"

#define LP_PROTOCOL_VERSION 3u /* 2: Forward.sample; 3: Forward.logprob */

/* Largest message accepted: a 512-token chunk of 16384-wide f32 hidden
 * states is 32 MiB; shard chunks are at most LP_WIRE_CHUNK. A message a
 * little over the cap is refused with an Error; one more than
 * LP_WIRE_MAX_FRAME is cut off by ZeroMQ itself (ZMQ_MAXMSGSIZE: the
 * connection is dropped, no byte of it is buffered). */
#define LP_WIRE_MAX_MSG (64u << 20)
#define LP_WIRE_MAX_FRAME (LP_WIRE_MAX_MSG + (1u << 20))
#define LP_WIRE_CHUNK (4u << 20)

/* Bounds lp_wire_check enforces on fields whose size a message sets. */
#define LP_WIRE_MAX_TOKENS 65536 /* Forward.n_tokens */
#define LP_WIRE_MAX_HOPS 256     /* compute_us entries: workers in a pipeline */
#define LP_WIRE_MAX_TOP 1024     /* top_logprobs */
#define LP_WIRE_MAX_STR 4096     /* bytes of any string field (paths, names) */
#define LP_WIRE_MAX_SLOTS 4096   /* LoadShard.n_slots */
#define LP_WIRE_MAX_CTX (1u << 24)

/* Error codes carried in lp.Error.code. */
enum {
    LP_WIRE_EBADMSG = 1,  /* malformed or inconsistent message */
    LP_WIRE_EVERSION = 2, /* protocol version mismatch */
    LP_WIRE_EMODEL = 3,   /* a shard of another model / wrong shard */
    LP_WIRE_ESESSION = 4, /* unknown session, or no free slot */
    LP_WIRE_EPOS = 5,     /* position outside the context / out of order */
    LP_WIRE_ELOAD = 6,    /* loading the shard failed */
    LP_WIRE_ESTATE = 7,   /* not loaded yet, or otherwise not now */
    LP_WIRE_EINTERNAL = 8,
};

typedef struct lp_wire lp_wire;

lp_wire *lp_wire_new(lp_err *err);
void lp_wire_free(lp_wire *w);

typedef enum lp_sock_kind {
    LP_SOCK_ROUTER, /* bind: a worker's control endpoint */
    LP_SOCK_DEALER, /* connect: the coordinator's line to one worker */
    LP_SOCK_PULL,   /* bind: data endpoints, the coordinator's results */
    LP_SOCK_PUSH,   /* connect: to the next stage */
    LP_SOCK_PAIR_BIND,    /* bind: inproc line between two threads */
    LP_SOCK_PAIR_CONNECT, /* connect: its other end */
} lp_sock_kind;

/* Create a socket of kind and bind (ROUTER, PULL) or connect (DEALER,
 * PUSH) it to endpoint ("tcp://host:port"; for a bind, port 0 or "*" picks
 * a free one: read it back with lp_wire_endpoint). A bound kind with a
 * NULL endpoint is bound later, by lp_wire_bind. NULL on error. */
void *lp_wire_socket(lp_wire *w, lp_sock_kind kind, const char *endpoint, lp_err *err);

/* A socket's CURVE side (keys.h, zap.h): our key pair, and either the
 * server's public key (we connect to it) or the ZAP domain our bound
 * socket asks about every client (we are the server). */
typedef struct lp_curve {
    const char *pub, *sec;    /* ours, Z85 */
    const char *server_pub;   /* a client: whom we connect to */
    const char *zap_domain;   /* a server: "control", "data", "result" */
} lp_curve;

/* lp_wire_socket with CURVE set up before it binds or connects (curve
 * NULL: plain, as lp_wire_socket). NULL with err on failure. */
void *lp_wire_socket_curve(lp_wire *w, lp_sock_kind kind, const char *endpoint,
                           const lp_curve *curve, lp_err *err);
void lp_wire_close(void *sock);

/* Bind a bound-kind socket (PULL, ROUTER) to one more endpoint, e.g. the
 * coordinator's result PULL on each of its addresses that faces workers;
 * lp_wire_endpoint then reads this one back. 0, or -1 with err. */
int lp_wire_bind(void *sock, const char *endpoint, lp_err *err);

/* PUSH links known to deliver (wire_link.c). ZeroMQ connects lazily and
 * queues for an address nobody answers at, so this connects a PUSH to
 * each of endpoints[0..n) (n <= 8; an empty string: none, its socket
 * NULL) and waits, for all at once and at most timeout_ms, until the
 * ZeroMQ handshake with a peer there is done. 0 with socks[] set (the
 * caller owns them), or -1 with no socket left open, *failed the index of
 * an endpoint that did not answer and err why: "cannot reach EP:
 * Connection refused" (the kernel's reason, from a plain TCP connect), or
 * that something answers there but is not a ZeroMQ peer (or, with CURVE,
 * refused our key or has another). curves: n entries (a CURVE client each,
 * keys.h), or NULL for plain links. */
int lp_wire_push_checked(lp_wire *w, int n, const char *const *endpoints,
                         const lp_curve *curves, int timeout_ms, void **socks, int *failed,
                         lp_err *err);

/* The endpoint a bound socket actually listens on (caller's buffer). */
int lp_wire_endpoint(void *sock, char *buf, size_t cap, lp_err *err);

/* Routing identity of a ROUTER peer (the first frame). PAIR sockets carry
 * one too, so a thread can pass a request on with the peer to answer
 * (an empty frame when there is none). */
typedef struct lp_wire_peer {
    uint8_t id[256];
    size_t len; /* 0 for DEALER, PULL and PUSH sockets */
} lp_wire_peer;

/* Send one Envelope (its version is set here). peer: the ROUTER peer to
 * answer, NULL otherwise. Blocks at most timeout_ms (-1 = forever); 1 on
 * timeout, 0 sent, -1 error. */
int lp_wire_send(void *sock, const lp_wire_peer *peer, Lp__Envelope *env, int timeout_ms,
                 lp_err *err);

/* Receive one Envelope within timeout_ms (-1 = forever, 0 = poll): 0 and
 * *env set, 1 on timeout, -1 on an invalid message (err says why; the
 * message is consumed, so the caller can answer with an Error and go on)
 * or a socket error. peer (may be NULL) gets the ROUTER identity. */
int lp_wire_recv(void *sock, lp_wire_peer *peer, Lp__Envelope **env, int timeout_ms,
                 lp_err *err);
void lp_wire_env_free(Lp__Envelope *env);

/* What lp_wire_recv_info reports besides the envelope. */
typedef struct lp_wire_info {
    size_t bytes;        /* size of the envelope frame (also when refused) */
    uint32_t code;       /* on -1: LP_WIRE_EVERSION or LP_WIRE_EBADMSG */
    uint64_t request_id; /* on -1: the refused envelope's id if it parsed, else 0 */
    char user_id[64];    /* who sent it, as the ZAP handler vouched (zap.h); "" */
} lp_wire_info;

/* lp_wire_recv that also says what it received and tells the two
 * failures apart: 0 and *env set, 1 timeout (or a signal), -1 an invalid
 * message (consumed; info->code and info->request_id are what to answer
 * with, err the text), -2 a socket error. info may be NULL. */
int lp_wire_recv_info(void *sock, lp_wire_peer *peer, Lp__Envelope **env, int timeout_ms,
                      lp_wire_info *info, lp_err *err);

/* The same, refusing (-1, before decoding it) a message over max_bytes
 * (at most LP_WIRE_MAX_MSG): an endpoint that knows what a valid message
 * can be keeps a peer from making it decode more (decoding packed ids
 * takes up to 4 bytes per byte). */
int lp_wire_recv_capped(void *sock, lp_wire_peer *peer, Lp__Envelope **env, int timeout_ms,
                        size_t max_bytes, lp_wire_info *info, lp_err *err);

/* The envelope in data[0..size), as the receive calls decode and check
 * it (also for the fuzzer): 0 and *env (lp_wire_env_free), or -1 with
 * info->code, info->request_id and err as lp_wire_recv_info reports. */
int lp_wire_parse(const void *data, size_t size, size_t max_bytes, Lp__Envelope **env,
                  lp_wire_info *info, lp_err *err);

/* Send bytes as they are, as the envelope frame (after the peer frame for
 * ROUTER and PAIR sockets): hostile-input tests, and nothing else. The
 * size cap is not applied, so a test can exceed it. Returns as lp_wire_send. */
int lp_wire_send_raw(void *sock, const lp_wire_peer *peer, const void *data, size_t len,
                     int timeout_ms, lp_err *err);

/* Wait until at least one of socks[0..n) has a message to read, or
 * timeout_ms (-1 = forever). readable[i] says which. Returns how many are
 * readable (0 on timeout), -1 on error (EINTR counts as a timeout).
 * Defined in wire_poll.c. */
int lp_wire_poll(void *const *socks, int n, bool *readable, int timeout_ms, lp_err *err);

/* The same, with one plain file descriptor too (fd < 0: none), e.g. the
 * eventfd other threads use to wake a socket-owning thread;
 * *fd_readable says whether it woke. */
int lp_wire_poll_fd(void *const *socks, int n, bool *readable, int fd, bool *fd_readable,
                    int timeout_ms, lp_err *err);

/* Structural checks of a parsed envelope: version, a body, and each
 * body's internal consistency (e.g. Forward: 1 <= n_tokens <= 65536,
 * tokens or hidden but not both, hidden size = n_tokens x a whole row of
 * dtype, ShardChunk: data within the size cap and offset + len within
 * total_size, 32-byte ids). 0 or -1 with err. lp_wire_recv calls it. */
int lp_wire_check(const Lp__Envelope *env, lp_err *err);

/* Helpers to build replies: an Error envelope (static storage inside
 * `out`, valid while `out` lives). */
typedef struct lp_wire_error_msg {
    Lp__Envelope env;
    Lp__Error error;
    char text[512];
} lp_wire_error_msg;

Lp__Envelope *lp_wire_error(lp_wire_error_msg *out, uint64_t request_id, uint32_t code,
                            const char *message);

/* The ggml type a hidden-state dtype's rows are (quant.h: LP_TYPE_F32,
 * F16, BF16, Q8_0), LP_TYPE_COUNT for a dtype that is none of them; and the
 * bytes of an n-token x n_embd payload (0 if the dtype is unknown or n_embd
 * does not fit its block size). */
uint32_t lp_wire_dtype_type(Lp__HiddenDtype dtype);
size_t lp_wire_hidden_bytes(Lp__HiddenDtype dtype, uint32_t n_tokens, uint32_t n_embd);

#endif
