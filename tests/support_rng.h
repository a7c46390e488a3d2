/* support_rng.h — deterministic random test data (xorshift64*), the same
 * stream on every run and machine. */
#ifndef LP_TEST_SUPPORT_RNG_H
#define LP_TEST_SUPPORT_RNG_H

#include <stdint.h>

typedef struct { uint64_t s; } rng; /* seed s must not be 0 */

uint64_t rng_next(rng *r);
float rng_unit(rng *r); /* [0, 1), 24 random bits */
float rng_sym(rng *r);  /* [-1, 1), as 2 * rng_unit - 1 */

#endif
