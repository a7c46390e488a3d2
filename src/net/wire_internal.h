/* wire_internal.h — what wire.c shares with the other wire_*.c files:
 * the context behind lp_wire and the options every socket gets. */
#ifndef LP_WIRE_INTERNAL_H
#define LP_WIRE_INTERNAL_H

#include "wire.h"

struct lp_wire {
    void *ctx; /* the ZeroMQ context, owned */
};

/* The options of a socket of this kind (size cap, linger, reconnect,
 * heartbeats, high-water marks): 0, or -1 with errno. */
int lp_wire_set_options(void *sock, lp_sock_kind kind);

/* CURVE options of c (before bind / connect): 0, or -1 with errno. */
int lp_wire_set_curve(void *sock, const lp_curve *c);

/* ZMQ_IPV6 as endpoint needs it (an [IPv6] host): 0, or -1 with errno. */
int lp_wire_set_family(void *sock, const char *endpoint);

#endif
