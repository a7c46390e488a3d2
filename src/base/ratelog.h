/* ratelog.h — a log line budget: at most per_window lines per window_ms,
 * the rest counted and said in one line when the next window opens, so a
 * peer sending garbage cannot fill the disk with our complaints about it.
 * One per kind of line, owned by whoever logs it (no locking: one thread). */
#ifndef LP_RATELOG_H
#define LP_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lp_ratelog {
    int per_window, window_ms;
    int64_t window_start_ms;
    int in_window;
    uint64_t suppressed; /* lines not logged since the last one that was */
} lp_ratelog;

void lp_ratelog_init(lp_ratelog *r, int per_window, int window_ms);

/* May a line be logged at now_ms? When true and lines were held back
 * before it, *held_back says how many (else 0): log that first. */
bool lp_ratelog_allow(lp_ratelog *r, int64_t now_ms, uint64_t *held_back);

#endif
