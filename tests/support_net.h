/* support_net.h — a plain TCP listener on 127.0.0.1 for tests that need a
 * port that accepts but is no ZeroMQ peer (or, closed, a port nobody
 * listens on). */
#ifndef LP_TEST_SUPPORT_NET_H
#define LP_TEST_SUPPORT_NET_H

#include <stddef.h>

/* Listen on a free port of 127.0.0.1: the socket's fd (the caller closes
 * it), its endpoint "tcp://127.0.0.1:PORT" in ep. Fails the test on error. */
int lp_test_listener(char *ep, size_t cap);

#endif
