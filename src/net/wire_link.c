/* wire_link.c — PUSH links known to deliver (lp_wire_push_checked).
 *
 * ZeroMQ connects lazily: a PUSH to an address nobody answers at accepts
 * messages and queues them for ever, which is how a wrong address used to
 * become a silent hang. So a link is watched (zmq_socket_monitor) until
 * the ZMTP handshake with its peer completes, and one that does not
 * within the time given is an error that says why. A CURVE peer that
 * refuses our key is asked again every RETRY_MS until then (ZeroMQ itself
 * does not reconnect after a refusal): in a pool loading at once, the next
 * worker may not yet have heard from the coordinator that we are its
 * neighbour. */
#include "wire_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "clock.h"
#include "route.h"

enum { WATCH_EVENTS = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                      ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
       PROBE_MS = 1500,
       RETRY_MS = 100,
       MAX_LINKS = 8 };

typedef struct link {
    void *push, *monitor;
    const char *endpoint;
    const lp_curve *curve;
    bool up;          /* handshake done */
    bool not_zmtp;    /* a handshake failed: something else listens there */
    bool refused;     /* the peer's ZAP refused our key (so far) */
    int64_t retry_at; /* refused and closed: when to connect again */
} link;

/* Its sockets closed; what it is to reach and what happened stay. */
static void link_close(link *l)
{
    if (l->push)
        zmq_socket_monitor(l->push, NULL, 0);
    if (l->monitor)
        zmq_close(l->monitor);
    if (l->push)
        zmq_close(l->push);
    l->push = l->monitor = NULL;
}

/* The monitor is connected before the PUSH connects, so no event is lost. */
static int link_open(lp_wire *w, link *l, lp_err *err)
{
    const char *endpoint = l->endpoint;
    const lp_curve *curve = l->curve;
    char mon_ep[64];
    if (!(l->push = zmq_socket(w->ctx, ZMQ_PUSH)) || lp_wire_set_options(l->push, LP_SOCK_PUSH) ||
        (curve && lp_wire_set_curve(l->push, curve) != 0))
        return lp_err_set(err, "wire: cannot create a PUSH socket: %s", zmq_strerror(errno));
    snprintf(mon_ep, sizeof mon_ep, "inproc://lp-link-%p", l->push);
    if (zmq_socket_monitor(l->push, mon_ep, WATCH_EVENTS) != 0 ||
        !(l->monitor = zmq_socket(w->ctx, ZMQ_PAIR)) || zmq_connect(l->monitor, mon_ep) != 0)
        return lp_err_set(err, "wire: cannot watch a link: %s", zmq_strerror(errno));
    if (lp_wire_set_family(l->push, endpoint) != 0 || zmq_connect(l->push, endpoint) != 0)
        return lp_err_set(err, "wire: cannot connect to '%s': %s", endpoint,
                          zmq_strerror(errno));
    return 0;
}

/* One monitor event: two frames, (u16 event, u32 value) and the address. */
static void link_event(link *l)
{
    uint8_t ev[6];
    int more = 0;
    size_t len = sizeof more;
    int n = zmq_recv(l->monitor, ev, sizeof ev, ZMQ_DONTWAIT);
    while (zmq_getsockopt(l->monitor, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        char skip[1];
        zmq_recv(l->monitor, skip, sizeof skip, ZMQ_DONTWAIT);
    }
    if (n < 2)
        return;
    uint16_t e;
    memcpy(&e, ev, 2);
    if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        l->up = true;
    else if (e == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        l->refused = true;
    else
        l->not_zmtp = true;
}

/* A refused link is closed, then opened again RETRY_MS later. The time
 * until the next reopening, or INT32_MAX. */
static int retry_refused(lp_wire *w, link *l, int n)
{
    const int64_t now = lp_now_ms();
    int64_t next = INT32_MAX;
    for (int i = 0; i < n; i++) {
        if (l[i].push && l[i].refused && !l[i].up && !l[i].retry_at) {
            link_close(&l[i]);
            l[i].retry_at = now + RETRY_MS;
        }
        lp_err ignored = {0};
        if (l[i].retry_at && now >= l[i].retry_at) {
            l[i].retry_at = 0;
            if (link_open(w, &l[i], &ignored) != 0)
                link_close(&l[i]); /* stays refused: reported so */
        }
        if (l[i].retry_at && l[i].retry_at - now < next)
            next = l[i].retry_at - now;
    }
    return (int)next;
}

/* Wait until every link is up or the deadline passes. */
static void await_links(lp_wire *w, link *l, int n, int timeout_ms)
{
    int64_t deadline = lp_now_ms() + timeout_ms;
    for (;;) {
        int wait = retry_refused(w, l, n);
        zmq_pollitem_t it[MAX_LINKS];
        int k = 0, idx[MAX_LINKS];
        bool pending = false;
        for (int i = 0; i < n; i++) {
            pending = pending || (!l[i].up && (l[i].push || l[i].retry_at));
            if (l[i].push && !l[i].up) {
                it[k] = (zmq_pollitem_t){.socket = l[i].monitor, .events = ZMQ_POLLIN};
                idx[k++] = i;
            }
        }
        int left = (int)(deadline - lp_now_ms());
        if (!pending || left <= 0)
            return;
        if (zmq_poll(it, k, left < wait ? left : wait) < 0 && errno != EINTR)
            return;
        for (int j = 0; j < k; j++)
            if (it[j].revents & ZMQ_POLLIN)
                link_event(&l[idx[j]]);
    }
}

static int why_down(const link *l, const char *endpoint, int timeout_ms, lp_err *err)
{
    char why[256];
    if (lp_route_probe(endpoint, PROBE_MS, why, sizeof why) != 0)
        return lp_err_set(err, "cannot reach %s: %s", endpoint, why);
    if (l->refused)
        return lp_err_set(err, "%s refused our CURVE key for %.1f s (it does not allow us: "
                          "a key missing from its list, or another pool's)", endpoint,
                          timeout_ms / 1000.0);
    if (l->not_zmtp)
        return lp_err_set(err, "%s answers, but the ZeroMQ handshake failed: not a layerpool "
                          "endpoint, or its CURVE key is not the one we were given (or it "
                          "does not allow ours)", endpoint);
    return lp_err_set(err, "%s accepts connections but no ZeroMQ handshake completed within "
                      "%.1f s", endpoint, timeout_ms / 1000.0);
}

int lp_wire_push_checked(lp_wire *w, int n, const char *const *endpoints,
                         const lp_curve *curves, int timeout_ms, void **socks, int *failed,
                         lp_err *err)
{
    link l[MAX_LINKS] = {0};
    int rc = 0;
    *failed = -1;
    if (n < 0 || n > MAX_LINKS)
        return lp_err_set(err, "wire: at most %d links at once", MAX_LINKS);
    for (int i = 0; i < n && rc == 0; i++) {
        l[i].endpoint = endpoints[i];
        l[i].curve = curves ? &curves[i] : NULL;
        if (endpoints[i][0] && (rc = link_open(w, &l[i], err)) != 0)
            *failed = i;
    }
    if (rc == 0)
        await_links(w, l, n, timeout_ms);
    for (int i = 0; i < n && rc == 0; i++)
        if (l[i].endpoint[0] && !l[i].up) {
            *failed = i;
            rc = why_down(&l[i], endpoints[i], timeout_ms, err);
        }
    for (int i = 0; i < n; i++) {
        socks[i] = rc == 0 ? l[i].push : NULL;
        if (rc == 0) {
            zmq_socket_monitor(l[i].push, NULL, 0);
            l[i].push = NULL;
        }
        link_close(&l[i]);
    }
    return rc;
}
