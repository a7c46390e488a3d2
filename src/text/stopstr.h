/* stopstr.h — end generation at a stop string without ever showing it.
 *
 * Generated text is fed in pieces as it streams. Text that might be the
 * start of a stop string is held back until it is known not to be; when a
 * stop string completes, everything before it is released and the rest is
 * dropped. Used by `coord run --stop` and, later, the HTTP API's "stop".
 *
 * Ownership: the caller owns the lp_stopstr (init/free) and the stop
 * strings, which must outlive it. Released text points into the filter's
 * buffer and is valid until the next call. */
#ifndef LP_STOPSTR_H
#define LP_STOPSTR_H

#include <stdbool.h>
#include <stddef.h>

#define LP_STOPSTR_MAX 16

typedef struct lp_stopstr {
    const char *stops[LP_STOPSTR_MAX];
    size_t n_stops;
    char *buf;     /* held-back text, owned */
    size_t len, cap;
    size_t out_len; /* bytes of buf released by the last call */
    bool hit;
} lp_stopstr;

/* Empty strings are ignored; more than LP_STOPSTR_MAX is an error (-1). */
int lp_stopstr_init(lp_stopstr *f, const char *const *stops, size_t n);
void lp_stopstr_free(lp_stopstr *f);

/* Feed a piece; returns the text that may now be shown (*out_len bytes),
 * or NULL on out-of-memory. After a stop string completes, f->hit is true
 * and further feeds release nothing. */
const char *lp_stopstr_feed(lp_stopstr *f, const char *text, size_t len, size_t *out_len);

/* End of generation: release whatever is still held back (unless hit). */
const char *lp_stopstr_flush(lp_stopstr *f, size_t *out_len);

#endif
