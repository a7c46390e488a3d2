/* support_rng.c — see support_rng.h. */
#include "support_rng.h"

uint64_t rng_next(rng *r)
{
    /* xorshift64*: plenty for test data, deterministic across runs. */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}

float rng_unit(rng *r)
{
    return (float)(rng_next(r) >> 40) * 0x1p-24f;
}

float rng_sym(rng *r)
{
    return 2.0f * rng_unit(r) - 1.0f;
}
