/* clock.c — CLOCK_MONOTONIC in the units callers count in (clock.h). */
#include "clock.h"

#include <time.h>

int64_t lp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t lp_now_us(void)
{
    return lp_now_ns() / 1000;
}

int64_t lp_now_ms(void)
{
    return lp_now_ns() / 1000000;
}

double lp_now_s(void)
{
    return (double)lp_now_ns() * 1e-9;
}
