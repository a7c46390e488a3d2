/* args.h — strict command-line value parsing: a value that is not wholly a
 * number in range is an error with the option's name, never a silent 0. */
#ifndef LP_COORD_ARGS_H
#define LP_COORD_ARGS_H

#include <stdint.h>

/* Each returns 0, or prints "coord: OPT: why" to stderr and returns -1. */
int arg_int(const char *opt, const char *s, long lo, long hi, long *out);
int arg_u64(const char *opt, const char *s, uint64_t *out);
int arg_float(const char *opt, const char *s, double lo, double hi, double *out);

/* "1,2,3" -> malloc'd array the caller frees. */
int arg_int_list(const char *opt, const char *s, int32_t **out, int *n);

/* The value after argv[*i] (advancing *i), or an error if there is none. */
const char *arg_next(int argc, char **argv, int *i);

#endif
