/* support_wire.h — crafted envelopes for the tests of lp_wire_check
 * (test_wire, test_wire_score). Include after cmocka.h. */
#ifndef LP_TEST_SUPPORT_WIRE_H
#define LP_TEST_SUPPORT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Resets env and f and makes env carry f, a Forward of n tokens given as
 * the ids at toks, at this side's protocol version. The caller owns all
 * three (usually one struct it zeroed). Returns env. */
Lp__Envelope *wire_forward(Lp__Envelope *env, Lp__Forward *f, int32_t *toks, size_t n);

/* Assert that lp_wire_check accepts e, or refuses it with an error that
 * mentions needle. */
void wire_accepted(const Lp__Envelope *e);
void wire_refused(const Lp__Envelope *e, const char *needle);

#endif
