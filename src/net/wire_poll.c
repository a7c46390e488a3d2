/* wire_poll.c — waiting on several sockets at once (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

enum { MAX_POLL = 2 * 64 + 8 };

int lp_wire_poll(void *const *socks, int n, bool *readable, int timeout_ms, lp_err *err)
{
    return lp_wire_poll_fd(socks, n, readable, -1, NULL, timeout_ms, err);
}

int lp_wire_poll_fd(void *const *socks, int n, bool *readable, int fd, bool *fd_readable,
                    int timeout_ms, lp_err *err)
{
    zmq_pollitem_t items[MAX_POLL + 1];
    if (n < 0 || n > MAX_POLL)
        return lp_err_set(err, "wire: cannot poll %d sockets", n);
    for (int i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){.socket = socks[i], .events = ZMQ_POLLIN};
    int total = n;
    if (fd >= 0)
        items[total++] = (zmq_pollitem_t){.socket = NULL, .fd = fd, .events = ZMQ_POLLIN};
    int rc = zmq_poll(items, total, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR) {
            rc = 0;
        } else {
            return lp_err_set(err, "wire: poll failed: %s", zmq_strerror(errno));
        }
    }
    for (int i = 0; i < n; i++)
        readable[i] = rc > 0 && (items[i].revents & ZMQ_POLLIN);
    if (fd_readable)
        *fd_readable = fd >= 0 && rc > 0 && (items[n].revents & ZMQ_POLLIN);
    return rc;
}
