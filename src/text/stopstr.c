#include "stopstr.h"

#include <stdlib.h>
#include <string.h>

#include "vec.h"

int lp_stopstr_init(lp_stopstr *f, const char *const *stops, size_t n)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++) {
        if (!stops[i] || !stops[i][0])
            continue;
        if (f->n_stops == LP_STOPSTR_MAX)
            return -1;
        f->stops[f->n_stops++] = stops[i];
    }
    return 0;
}

void lp_stopstr_free(lp_stopstr *f)
{
    free(f->buf);
    memset(f, 0, sizeof *f);
}

/* Length of the longest suffix of buf that is a proper prefix of a stop. */
static size_t held_suffix(const lp_stopstr *f)
{
    size_t best = 0;
    for (size_t i = 0; i < f->n_stops; i++) {
        size_t sl = strlen(f->stops[i]);
        for (size_t k = sl - 1 < f->len ? sl - 1 : f->len; k > best; k--)
            if (!memcmp(f->buf + f->len - k, f->stops[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* Earliest occurrence of any stop in buf, or len. */
static size_t first_stop(const lp_stopstr *f)
{
    size_t at = f->len;
    for (size_t i = 0; i < f->n_stops; i++) {
        const char *p = memmem(f->buf, f->len, f->stops[i], strlen(f->stops[i]));
        if (p && (size_t)(p - f->buf) < at)
            at = (size_t)(p - f->buf);
    }
    return at;
}

/* Drop the bytes released last time so buf holds only what is pending. */
static void consume_released(lp_stopstr *f)
{
    if (f->out_len == 0)
        return;
    memmove(f->buf, f->buf + f->out_len, f->len - f->out_len);
    f->len -= f->out_len;
    f->out_len = 0;
}

const char *lp_stopstr_feed(lp_stopstr *f, const char *text, size_t len, size_t *out_len)
{
    consume_released(f);
    *out_len = 0;
    if (f->hit)
        return f->buf ? f->buf : "";
    char *b = lp_vec_reserve(f->buf, &f->cap, f->len, len + 1, 1);
    if (!b)
        return NULL;
    f->buf = b;
    memcpy(f->buf + f->len, text, len);
    f->len += len;
    size_t stop = first_stop(f);
    if (stop < f->len) {
        f->hit = true;
        f->len = stop;
        f->out_len = stop;
    } else {
        f->out_len = f->len - held_suffix(f);
    }
    *out_len = f->out_len;
    return f->buf;
}

const char *lp_stopstr_flush(lp_stopstr *f, size_t *out_len)
{
    consume_released(f);
    f->out_len = f->hit ? 0 : f->len;
    *out_len = f->out_len;
    return f->buf ? f->buf : "";
}
