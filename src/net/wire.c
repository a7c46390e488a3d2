/* wire.c — every ZeroMQ socket of the program: creation, options, framing,
 * and the size-capped, budget-limited parse of what arrives. */
#include "keys.h"
#include "wire_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* libzmq passes a message from the sending thread to the receiving one
 * through lock-free pipes that TSan cannot see (libzmq is not built with
 * it), and an inproc PAIR passes the very buffer the sender packed: under
 * TSan the sender releases the message's bytes and the receiver acquires
 * them, the order libzmq really gives them, so that the receiver's reads
 * are not taken for a race with the sender's writes. */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
static void handed_over(zmq_msg_t *m)
{
    if (zmq_msg_size(m) > 0)
        __tsan_release(zmq_msg_data(m));
}
static void taken_over(zmq_msg_t *m)
{
    if (zmq_msg_size(m) > 0)
        __tsan_acquire(zmq_msg_data(m));
}
#else
static void handed_over(zmq_msg_t *m) { (void)m; }
static void taken_over(zmq_msg_t *m) { (void)m; }
#endif

/* Socket options every TCP link gets. Linger: a reply sent just before
 * close still goes out, but a dead peer delays exit by at most this. */
enum {
    LINGER_MS = 500,
    RECONNECT_MS = 100,
    RECONNECT_MAX_MS = 2000,
    HEARTBEAT_MS = 1000,    /* ZMTP pings: a silent peer's link is dropped */
    HEARTBEAT_TTL_MS = 4000,
    DATA_HWM = 64,          /* messages queued per data link (backpressure) */
};

lp_wire *lp_wire_new(lp_err *err)
{
    lp_wire *w = calloc(1, sizeof *w);
    if (!w || !(w->ctx = zmq_ctx_new())) {
        free(w);
        lp_err_set(err, "wire: cannot create a ZeroMQ context: %s", zmq_strerror(errno));
        return NULL;
    }
    return w;
}

void lp_wire_free(lp_wire *w)
{
    if (!w)
        return;
    while (zmq_ctx_term(w->ctx) != 0 && errno == EINTR) {
    }
    free(w);
}

static int set_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

/* IPv6 only for a bracketed address: a socket with ZMQ_IPV6 set would
 * also report IPv4 addresses in their v6-mapped form ([::ffff:10.0.0.2]). */
int lp_wire_set_family(void *s, const char *endpoint)
{
    return set_int(s, ZMQ_IPV6, strchr(endpoint, '[') != NULL);
}

int lp_wire_set_options(void *s, lp_sock_kind kind)
{
    int64_t max = LP_WIRE_MAX_FRAME;
    int rc = set_int(s, ZMQ_LINGER, LINGER_MS);
    if (kind == LP_SOCK_PAIR_BIND || kind == LP_SOCK_PAIR_CONNECT)
        return rc;
    rc |= zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    rc |= set_int(s, ZMQ_RECONNECT_IVL, RECONNECT_MS);
    rc |= set_int(s, ZMQ_RECONNECT_IVL_MAX, RECONNECT_MAX_MS);
    rc |= set_int(s, ZMQ_HEARTBEAT_IVL, HEARTBEAT_MS);
    rc |= set_int(s, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TTL_MS);
    rc |= set_int(s, ZMQ_HEARTBEAT_TTL, HEARTBEAT_TTL_MS);
    rc |= set_int(s, ZMQ_TCP_KEEPALIVE, 1);
    if (kind == LP_SOCK_PUSH || kind == LP_SOCK_PULL) {
        rc |= set_int(s, ZMQ_SNDHWM, DATA_HWM);
        rc |= set_int(s, ZMQ_RCVHWM, DATA_HWM);
    }
    return rc;
}

static const struct {
    int type;
    int bind;
    const char *name;
} KINDS[] = {
    [LP_SOCK_ROUTER] = {ZMQ_ROUTER, 1, "ROUTER"},
    [LP_SOCK_DEALER] = {ZMQ_DEALER, 0, "DEALER"},
    [LP_SOCK_PULL] = {ZMQ_PULL, 1, "PULL"},
    [LP_SOCK_PUSH] = {ZMQ_PUSH, 0, "PUSH"},
    [LP_SOCK_PAIR_BIND] = {ZMQ_PAIR, 1, "PAIR"},
    [LP_SOCK_PAIR_CONNECT] = {ZMQ_PAIR, 0, "PAIR"},
};

/* CURVE options (must come before bind / connect). 0, or -1 with errno. */
int lp_wire_set_curve(void *s, const lp_curve *c)
{
    int rc = 0;
    if (c->zap_domain) {
        rc |= set_int(s, ZMQ_CURVE_SERVER, 1);
        rc |= zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, c->zap_domain, strlen(c->zap_domain));
    } else {
        rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->server_pub, LP_KEY_Z85);
        rc |= zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->pub, LP_KEY_Z85);
    }
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->sec, LP_KEY_Z85);
    return rc;
}

void *lp_wire_socket(lp_wire *w, lp_sock_kind kind, const char *endpoint, lp_err *err)
{
    return lp_wire_socket_curve(w, kind, endpoint, NULL, err);
}

void *lp_wire_socket_curve(lp_wire *w, lp_sock_kind kind, const char *endpoint,
                           const lp_curve *curve, lp_err *err)
{
    bool unbound = !endpoint && (unsigned)kind < sizeof KINDS / sizeof KINDS[0] &&
                   KINDS[kind].bind;
    if ((unsigned)kind >= sizeof KINDS / sizeof KINDS[0] ||
        (!unbound && (!endpoint || !*endpoint || strlen(endpoint) >= LP_WIRE_MAX_STR))) {
        lp_err_set(err, "wire: invalid socket kind or endpoint");
        return NULL;
    }
    void *s = zmq_socket(w->ctx, KINDS[kind].type);
    if (!s) {
        lp_err_set(err, "wire: cannot create a %s socket: %s", KINDS[kind].name,
                   zmq_strerror(errno));
        return NULL;
    }
    if (lp_wire_set_options(s, kind) != 0 || (curve && lp_wire_set_curve(s, curve) != 0)) {
        lp_err_set(err, "wire: socket options%s: %s", curve ? " (CURVE keys)" : "",
                   zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    if (unbound)
        return s;
    int rc = lp_wire_set_family(s, endpoint);
    if (rc == 0)
        rc = KINDS[kind].bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    if (rc != 0) {
        lp_err_set(err, "wire: cannot %s %s socket to '%s': %s",
                   KINDS[kind].bind ? "bind" : "connect", KINDS[kind].name, endpoint,
                   zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int lp_wire_bind(void *sock, const char *endpoint, lp_err *err)
{
    if (lp_wire_set_family(sock, endpoint) != 0 || zmq_bind(sock, endpoint) != 0)
        return lp_err_set(err, "wire: cannot bind to '%s': %s", endpoint, zmq_strerror(errno));
    return 0;
}

void lp_wire_close(void *sock)
{
    if (sock)
        zmq_close(sock);
}

int lp_wire_endpoint(void *sock, char *buf, size_t cap, lp_err *err)
{
    size_t len = cap;
    if (cap == 0 || zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, buf, &len) != 0)
        return lp_err_set(err, "wire: cannot read the bound endpoint: %s", zmq_strerror(errno));
    buf[cap - 1] = 0;
    return 0;
}

/* ---- framing ----------------------------------------------------------- */

static int sock_type(void *sock)
{
    int type = -1;
    size_t len = sizeof type;
    zmq_getsockopt(sock, ZMQ_TYPE, &type, &len);
    return type;
}

static int has_peer_frame(void *sock)
{
    int t = sock_type(sock);
    return t == ZMQ_ROUTER || t == ZMQ_PAIR;
}

/* Wait until sock can do `events` (ZMQ_POLLIN/OUT): 0 ready, 1 timeout,
 * -1 error. A signal counts as a timeout. */
static int wait_for(void *sock, short events, int timeout_ms, lp_err *err)
{
    zmq_pollitem_t it = {.socket = sock, .events = events};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR)
            return 1;
        return lp_err_set(err, "wire: poll: %s", zmq_strerror(errno));
    }
    return rc == 0 ? 1 : 0;
}

static int send_frames(void *sock, const lp_wire_peer *peer, zmq_msg_t *body, int timeout_ms,
                       lp_err *err)
{
    int rc = wait_for(sock, ZMQ_POLLOUT, timeout_ms, err);
    if (rc != 0) {
        zmq_msg_close(body);
        return rc;
    }
    if (has_peer_frame(sock)) {
        const void *id = peer ? (const void *)peer->id : (const void *)"";
        size_t len = peer ? peer->len : 0;
        if (sock_type(sock) == ZMQ_ROUTER && len == 0) {
            zmq_msg_close(body);
            return lp_err_set(err, "wire: a ROUTER reply needs the peer's identity");
        }
        if (zmq_send(sock, id, len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            goto fail;
    }
    handed_over(body);
    if (zmq_msg_send(body, sock, ZMQ_DONTWAIT) < 0)
        goto fail;
    return 0;
fail:
    zmq_msg_close(body);
    if (errno == EAGAIN)
        return 1;
    return lp_err_set(err, "wire: send: %s", zmq_strerror(errno));
}

int lp_wire_send(void *sock, const lp_wire_peer *peer, Lp__Envelope *env, int timeout_ms,
                 lp_err *err)
{
    env->version = LP_PROTOCOL_VERSION;
    size_t size = lp__envelope__get_packed_size(env);
    if (size > LP_WIRE_MAX_MSG)
        return lp_err_set(err, "wire: message of %zu bytes is over the %u MiB cap", size,
                          LP_WIRE_MAX_MSG >> 20);
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, size) != 0)
        return lp_err_set(err, "wire: out of memory for a %zu-byte message", size);
    lp__envelope__pack(env, zmq_msg_data(&body));
    return send_frames(sock, peer, &body, timeout_ms, err);
}

int lp_wire_send_raw(void *sock, const lp_wire_peer *peer, const void *data, size_t len,
                     int timeout_ms, lp_err *err)
{
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, len) != 0)
        return lp_err_set(err, "wire: out of memory for a %zu-byte message", len);
    if (len)
        memcpy(zmq_msg_data(&body), data, len);
    return send_frames(sock, peer, &body, timeout_ms, err);
}

/* Discard the rest of a multipart message. */
static void drain(void *sock)
{
    int more = 1;
    size_t len = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
        len = sizeof more;
    }
}

static int more_frames(void *sock)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
    return more;
}

/* protobuf-c allocates through this: a parse may not take more than a
 * fixed multiple of the message's size, so a hostile message of packed
 * zero-length submessages cannot make us allocate gigabytes. */
typedef struct parse_budget {
    size_t left;
    int refused;
} parse_budget;

static void *budget_alloc(void *data, size_t size)
{
    parse_budget *b = data;
    if (size > b->left) {
        b->refused = 1;
        return NULL;
    }
    b->left -= size;
    return malloc(size ? size : 1);
}

static void budget_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

static int parse(const zmq_msg_t *m, size_t max, Lp__Envelope **env, lp_wire_info *info,
                 lp_err *err)
{
    return lp_wire_parse(zmq_msg_data((zmq_msg_t *)m), zmq_msg_size(m), max, env, info, err);
}

int lp_wire_parse(const void *data, size_t size, size_t max, Lp__Envelope **env,
                  lp_wire_info *info, lp_err *err)
{
    if (size > LP_WIRE_MAX_MSG)
        return lp_err_set(err, "message of %zu bytes is over the %u MiB cap", size,
                          LP_WIRE_MAX_MSG >> 20);
    if (size > max)
        return lp_err_set(err, "message of %zu bytes is over the %zu this endpoint takes",
                          size, max);
    parse_budget b = {.left = 8 * size + (1u << 20)};
    ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = &b};
    Lp__Envelope *e = lp__envelope__unpack(&alloc, size, data);
    if (!e)
        return lp_err_set(err, "message of %zu bytes is not a valid Envelope%s", size,
                          b.refused ? " (its parse would take too much memory)" : "");
    info->request_id = e->request_id;
    if (lp_wire_check(e, err) != 0) {
        if (e->version != LP_PROTOCOL_VERSION && e->version != 0)
            info->code = LP_WIRE_EVERSION;
        lp__envelope__free_unpacked(e, NULL);
        return -1;
    }
    *env = e;
    return 0;
}

static int recv_peer(void *sock, lp_wire_peer *peer, lp_err *err)
{
    zmq_msg_t id;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return lp_err_set(err, "wire: recv: %s", zmq_strerror(errno));
    }
    size_t n = zmq_msg_size(&id);
    if (peer) {
        peer->len = n <= sizeof peer->id ? n : 0;
        if (peer->len)
            memcpy(peer->id, zmq_msg_data(&id), peer->len);
    }
    zmq_msg_close(&id);
    return 0;
}

int lp_wire_recv_info(void *sock, lp_wire_peer *peer, Lp__Envelope **env, int timeout_ms,
                      lp_wire_info *info, lp_err *err)
{
    return lp_wire_recv_capped(sock, peer, env, timeout_ms, LP_WIRE_MAX_MSG, info, err);
}

int lp_wire_recv_capped(void *sock, lp_wire_peer *peer, Lp__Envelope **env, int timeout_ms,
                        size_t max_bytes, lp_wire_info *info, lp_err *err)
{
    lp_wire_info local;
    info = info ? info : &local;
    *info = (lp_wire_info){.code = LP_WIRE_EBADMSG};
    *env = NULL;
    if (peer)
        peer->len = 0;
    int rc = wait_for(sock, ZMQ_POLLIN, timeout_ms, err);
    if (rc != 0)
        return rc < 0 ? -2 : 1;
    if (has_peer_frame(sock)) {
        if (recv_peer(sock, peer, err) != 0)
            return -2;
        if (!more_frames(sock))
            return lp_err_set(err, "message without a body frame");
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return errno == EAGAIN ? 1 : (lp_err_set(err, "wire: recv: %s", zmq_strerror(errno)), -2);
    }
    taken_over(&m);
    info->bytes = zmq_msg_size(&m);
    const char *uid = zmq_msg_gets(&m, "User-Id");
    snprintf(info->user_id, sizeof info->user_id, "%s", uid ? uid : "");
    if (more_frames(sock)) {
        drain(sock);
        zmq_msg_close(&m);
        return lp_err_set(err, "message of several frames (one Envelope expected)");
    }
    rc = parse(&m, max_bytes, env, info, err);
    zmq_msg_close(&m);
    return rc;
}

int lp_wire_recv(void *sock, lp_wire_peer *peer, Lp__Envelope **env, int timeout_ms,
                 lp_err *err)
{
    int rc = lp_wire_recv_info(sock, peer, env, timeout_ms, NULL, err);
    return rc < 0 ? -1 : rc;
}

void lp_wire_env_free(Lp__Envelope *env)
{
    if (env)
        lp__envelope__free_unpacked(env, NULL);
}
