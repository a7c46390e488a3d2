/* route.h — addresses across hosts: which of this machine's addresses
 * reaches a given peer, and whether a TCP endpoint answers at all.
 *
 * The pool hands every worker addresses to send to (the next worker's
 * data endpoint, the coordinator's result endpoint). Each must be one
 * that worker can reach: 127.0.0.1 means the worker's own machine, and
 * the coordinator's address on a LAN depends on which interface faces the
 * worker. lp_route_source asks the kernel's routing table (a UDP socket
 * connected to the peer sends nothing, but is given the source address
 * the kernel would use), so several interfaces and VPNs come out right.
 *
 * Endpoints are ZeroMQ TCP endpoints: "tcp://HOST:PORT", HOST a name, an
 * IPv4 address, "[IPv6]", or a wildcard ("*", "0.0.0.0", "[::]") in bound
 * endpoints. These are plain OS sockets, never ZeroMQ ones (wire.h makes
 * those); nothing here allocates beyond the call. */
#ifndef LP_ROUTE_H
#define LP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define LP_ROUTE_HOST_MAX 256

/* Split "tcp://HOST:PORT" into host (brackets removed from an IPv6
 * literal) and port (0-65535; "*" is 0). 0, or -1 with err. */
int lp_route_split(const char *endpoint, char *host, size_t cap, int *port, lp_err *err);

/* "HOST", "HOST:PORT", "[IPv6]:PORT" or a bare IPv6 address (a config's
 * advertise = ...): host without brackets, port 0 when absent. HOST is a
 * name or address: letters, digits, '.', '-', '_', ':' (v6). 0, or -1 with
 * err. */
int lp_route_split_host(const char *s, char *host, size_t cap, int *port, lp_err *err);

/* "tcp://HOST:PORT", with brackets around an IPv6 host. */
void lp_route_join(const char *host, int port, char *out, size_t cap);

/* True for a bound-to-everything host: "*", "0.0.0.0", "::". */
bool lp_route_is_wildcard(const char *host);

/* True if host is a loopback address (127.0.0.0/8, ::1) or "localhost". */
bool lp_route_is_loopback(const char *host);

/* This machine's address (numeric, no brackets) from which the kernel
 * would reach host (a name or address, resolved here). 0, or -1 with err
 * (name unknown, no route). */
int lp_route_source(const char *host, char *out, size_t cap, lp_err *err);

/* Whether this machine has host (numeric) on one of its interfaces. */
bool lp_route_is_local(const char *host);

/* Try a TCP connection to endpoint for at most timeout_ms: 0 if something
 * accepted it, else -1 with why (the kernel's reason, e.g. "connection
 * refused", "no route to host", or "no answer within 2.0 s"). */
int lp_route_probe(const char *endpoint, int timeout_ms, char *why, size_t cap);

#endif
