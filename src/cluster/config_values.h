/* config_values.h — checkers for single config values (config.c's helpers).
 * Each returns 0 and stores the value, or -1 and writes why into `why` (a
 * phrase that follows the quoted value: "is not a size (...)"). */
#ifndef LP_CONFIG_VALUES_H
#define LP_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int lp_cfgval_int(const char *v, long lo, long hi, int *out, char *why, size_t cap);
/* true / false */
int lp_cfgval_bool(const char *v, bool *out, char *why, size_t cap);
int lp_cfgval_size(const char *v, uint64_t *out, char *why, size_t cap);
int lp_cfgval_speed(const char *v, double *out, char *why, size_t cap);
int lp_cfgval_dtype(const char *v, lp_config_dtype *out, char *why, size_t cap);
/* "tcp://HOST:PORT" (connect side). */
int lp_cfgval_endpoint(const char *v, char *out, size_t out_cap, char *why, size_t cap);
/* "HOST:PORT" (the HTTP listener). */
int lp_cfgval_hostport(const char *v, char *out, size_t out_cap, char *why, size_t cap);
/* "HOST" or "HOST:PORT" ([IPv6] with a port), the address workers are
 * told to send results to. */
int lp_cfgval_advertise(const char *v, char *out, size_t out_cap, char *why, size_t cap);
/* A file path: non-empty, no control characters, fits out_cap once
 * joined to dir (when relative and dir is non-empty). */
int lp_cfgval_path(const char *v, const char *dir, char *out, size_t out_cap, char *why,
                   size_t cap);
/* A token: 1 .. out_cap-1 printable, non-space ASCII characters. */
int lp_cfgval_token(const char *v, char *out, size_t out_cap, char *why, size_t cap);
/* A worker name: 1 .. LP_CONFIG_NAME_MAX of [A-Za-z0-9_-]. */
int lp_cfgval_name(const char *v, char *why, size_t cap);

/* The value as shown in a message: control and non-ASCII bytes as '?',
 * cut to about 60 characters. */
const char *lp_cfgval_shown(const char *v, char *buf, size_t cap);

#endif
