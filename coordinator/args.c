#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arg_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "coord: %s: '%s' is not an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') {
        fprintf(stderr, "coord: %s: '%s' is not an unsigned integer\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_float(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "coord: %s: '%s' is not a number in [%g, %g]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_int_list(const char *opt, const char *s, int32_t **out, int *n)
{
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *v = malloc(sizeof *v * (size_t)cap);
    if (!v)
        return -1;
    int k = 0;
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "coord: %s: '%s' is not a comma-separated list of token ids\n",
                    opt, s);
            free(v);
            return -1;
        }
        v[k++] = (int32_t)x;
        if (!*end)
            break;
        p = end + 1;
    }
    *out = v;
    *n = k;
    return 0;
}

const char *arg_next(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "coord: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int arg_int_table(const arg_int_opt *opts, size_t n, const char *a, const char *v)
{
    for (size_t i = 0; i < n; i++) {
        long x;
        if (strcmp(a, opts[i].name))
            continue;
        if (arg_int(a, v, opts[i].lo, opts[i].hi, &x) != 0)
            return -1;
        *opts[i].dst = (int)x;
        return 0;
    }
    return 1;
}
