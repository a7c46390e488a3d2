/* zap.h — who may connect: ZeroMQ's authentication handler (ZAP, RFC 27)
 * for the CURVE sockets of this process.
 *
 * Every CURVE server socket (lp_wire_socket_curve with a domain) asks the
 * handler, per connection, whether the client's public key may connect to
 * a socket of that domain ("control", "data", "result"); the handler
 * answers from allow-lists the program keeps up to date (the coordinator's
 * key for a worker's control socket, its pipeline neighbour's for its data
 * socket, ...). A key on no list is refused before a byte of a message
 * passes, and each refused peer (domain, address, key) is logged once
 * with its address and key (new peers a few lines a minute), its retries
 * and the rest counted (lp_zap_refused). An allowed connection's
 * messages carry the entry's user id as ZeroMQ's "User-Id" property
 * (lp_wire_info.user_id): who sent a message, vouched for by its key.
 *
 * One handler per process (ZeroMQ's inproc endpoint for it is fixed), on
 * its own thread. Ownership: lp_zap_start's caller owns the handler and
 * stops it (lp_zap_stop) before lp_wire_free; the lists are guarded by a
 * mutex, so any thread may change them. */
#ifndef LP_ZAP_H
#define LP_ZAP_H

#include <stdint.h>

#include "err.h"
#include "wire.h"

#define LP_ZAP_MAX 256 /* keys on all lists together */

typedef struct lp_zap lp_zap;

/* name: how refusal lines start ("worker w1"). NULL with err on failure
 * (a second handler in one process, no CURVE in this libzmq). */
lp_zap *lp_zap_start(lp_wire *w, const char *name, lp_err *err);
void lp_zap_stop(lp_zap *z);

/* Let the holder of pub (Z85) connect to domain's sockets, its messages
 * marked user_id (at most 63 bytes); replaces an entry for pub in domain.
 * 0, or -1 with err (a bad key, the lists full). */
int lp_zap_allow(lp_zap *z, const char *domain, const char *pub, const char *user_id,
                 lp_err *err);

/* Drop every key of domain (e.g. before a new LoadShard names others). */
void lp_zap_forget(lp_zap *z, const char *domain);

/* Connections refused so far. */
uint64_t lp_zap_refused(lp_zap *z);

#endif
