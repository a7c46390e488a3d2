/* args.h — strict command-line value parsing: a value that is not wholly a
 * number in range is an error with the option's name, never a silent 0. */
#ifndef LP_COORD_ARGS_H
#define LP_COORD_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0, or prints "coord: OPT: why" to stderr and returns -1. */
int arg_int(const char *opt, const char *s, long lo, long hi, long *out);
int arg_u64(const char *opt, const char *s, uint64_t *out);
int arg_float(const char *opt, const char *s, double lo, double hi, double *out);

/* An int option of a command: its flag, where it goes, its range. */
typedef struct arg_int_opt {
    const char *name;
    int *dst;
    long lo, hi;
} arg_int_opt;

/* If flag a is one of the n options, parse v into it (0, or -1 as arg_int);
 * 1 if a is none of them. */
int arg_int_table(const arg_int_opt *opts, size_t n, const char *a, const char *v);

/* "1,2,3" -> malloc'd array the caller frees. */
int arg_int_list(const char *opt, const char *s, int32_t **out, int *n);

/* The value after argv[*i] (advancing *i), or an error if there is none. */
const char *arg_next(int argc, char **argv, int *i);

#endif
