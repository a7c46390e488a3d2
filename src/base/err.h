/* err.h — error reporting for library code.
 *
 * Library functions never print; on failure they return a negative value
 * (or NULL) and, when given a non-NULL lp_err, write one human-readable
 * sentence into it. The caller owns the lp_err (usually on its stack). */
#ifndef LP_ERR_H
#define LP_ERR_H

#include <stddef.h>

typedef struct lp_err {
    char msg[512];
} lp_err;

/* printf-style; a NULL err is allowed and ignored. Returns -1 so callers
 * can write `return lp_err_set(err, "...")`. */
int lp_err_set(lp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
