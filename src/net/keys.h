/* keys.h — CURVE key pairs (ZeroMQ's Curve25519, as Z85 text) and the
 * files that hold them.
 *
 * A key file (`NAME.key`) holds both halves and must be readable by its
 * owner alone: one that group or others may read is refused, as ssh does.
 * A public key file (`NAME.pub`) holds the public half only, to copy into
 * cluster files and onto other machines. Both are text:
 *   public = <40 Z85 characters>
 *   secret = <40 Z85 characters>      (the .key only)
 * Nothing here keeps state; a key pair is a plain value. */
#ifndef LP_KEYS_H
#define LP_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define LP_KEY_Z85 40 /* characters of a key in Z85 */

typedef struct lp_keypair {
    char pub[LP_KEY_Z85 + 1];
    char sec[LP_KEY_Z85 + 1];
} lp_keypair;

/* A fresh pair from the system's randomness. 0, or -1 with err (no CURVE
 * in this libzmq). */
int lp_keypair_generate(lp_keypair *kp, lp_err *err);

/* The key file's text for kp (both halves), into text[cap] (256 is enough). */
void lp_keypair_format(const lp_keypair *kp, char *text, size_t cap);

/* Write base.key (mode 0600, never over an existing file) and base.pub.
 * 0, or -1 with err (nothing is left half written). */
int lp_keypair_write(const lp_keypair *kp, const char *base, lp_err *err);

/* `coord keygen` and `worker keygen`: a fresh pair written to base.key and
 * base.pub, and a line saying so with the public key on stdout. 0, or 1
 * after printing "prog keygen: why" on stderr. */
int lp_keygen_run(const char *prog, const char *base);

/* Read a key file: both halves present, well-formed, the public one the
 * secret one's, and the file private to its owner. It is read once, so it
 * may be a pipe (/dev/fd/N: how the coordinator hands a worker it starts
 * a fresh pair, never on disk). 0, or -1 with err. */
int lp_keypair_read(const char *path, lp_keypair *kp, lp_err *err);

/* A public key given as its 40 Z85 characters, or as the path of a file
 * with a "public = ..." line (a .pub or a .key). 0, or -1 with err. */
int lp_key_public(const char *text_or_path, char out[LP_KEY_Z85 + 1], lp_err *err);

/* 40 characters of the Z85 alphabet that decode to 32 bytes. */
bool lp_key_valid(const char *z85);

#endif
