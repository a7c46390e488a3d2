/* ratelog.c — a log line budget per time window (ratelog.h). */
#include "ratelog.h"

void lp_ratelog_init(lp_ratelog *r, int per_window, int window_ms)
{
    *r = (lp_ratelog){.per_window = per_window, .window_ms = window_ms,
                      .window_start_ms = INT64_MIN};
}

bool lp_ratelog_allow(lp_ratelog *r, int64_t now_ms, uint64_t *held_back)
{
    *held_back = 0;
    if (r->window_start_ms == INT64_MIN || now_ms - r->window_start_ms >= r->window_ms ||
        now_ms < r->window_start_ms) {
        r->window_start_ms = now_ms;
        r->in_window = 0;
    }
    if (r->in_window >= r->per_window) {
        r->suppressed++;
        return false;
    }
    r->in_window++;
    *held_back = r->suppressed;
    r->suppressed = 0;
    return true;
}
