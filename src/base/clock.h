/* clock.h — the one monotonic clock: timeouts, heartbeats, speed figures.
 * (Wall-clock time, where a thing must be dated or a condition variable
 * waited on, uses CLOCK_REALTIME directly.) */
#ifndef LP_CLOCK_H
#define LP_CLOCK_H

#include <stdint.h>

int64_t lp_now_ns(void);
int64_t lp_now_us(void);
int64_t lp_now_ms(void);
double lp_now_s(void);

#endif
