/* wire_poll.c — waiting on several sockets at once (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

enum { MAX_POLL = 2 * 64 + 8 };

int lp_wire_poll(void *const *socks, int n, bool *readable, int timeout_ms, lp_err *err)
{
    zmq_pollitem_t items[MAX_POLL];
    if (n < 0 || n > MAX_POLL)
        return lp_err_set(err, "wire: cannot poll %d sockets", n);
    for (int i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){.socket = socks[i], .events = ZMQ_POLLIN};
    int rc = zmq_poll(items, n, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR) {
            rc = 0;
        } else {
            return lp_err_set(err, "wire: poll failed: %s", zmq_strerror(errno));
        }
    }
    for (int i = 0; i < n; i++)
        readable[i] = rc > 0 && (items[i].revents & ZMQ_POLLIN);
    return rc;
}
