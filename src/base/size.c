/* size.c — parse and print byte sizes (binary units). */
#include "size.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Shift for a unit letter: K 10, M 20, G 30, T 40; -1 if none of them. */
static int unit_shift(char c)
{
    switch (toupper((unsigned char)c)) {
    case 'K': return 10;
    case 'M': return 20;
    case 'G': return 30;
    case 'T': return 40;
    default: return -1;
    }
}

/* After the unit letter: nothing, "B", or "iB" (any case). */
static bool unit_tail_ok(const char *p)
{
    if (*p == 'i' || *p == 'I')
        p++;
    else if (!*p)
        return true;
    return (*p == 'b' || *p == 'B') && !p[1];
}

int lp_size_parse(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    uint64_t whole = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++)
        if (__builtin_mul_overflow(whole, 10u, &whole) ||
            __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
            return -1;
    /* Fractions are kept as thousandths so 1.5G is exact integer math. */
    uint64_t milli = 0;
    bool has_frac = *p == '.';
    if (has_frac) {
        p++;
        int digits = 0;
        for (; isdigit((unsigned char)*p); p++, digits++) {
            if (digits >= 3)
                return -1;
            milli = milli * 10 + (uint64_t)(*p - '0');
        }
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            milli *= 10;
    }
    int shift = 0;
    if (*p && unit_shift(*p) >= 0) {
        shift = unit_shift(*p);
        if (!unit_tail_ok(p + 1))
            return -1;
    } else if (*p == 'b' || *p == 'B') {
        if (p[1] || has_frac)
            return -1;
    } else if (*p || has_frac) {
        return -1; /* a fraction of a byte means a missing unit */
    }
    uint64_t v;
    if (whole > (UINT64_MAX >> shift))
        return -1;
    v = whole << shift;
    uint64_t frac = (milli << shift) / 1000; /* milli < 1000, shift <= 40: no overflow */
    if (__builtin_add_overflow(v, frac, &v))
        return -1;
    *out = v;
    return 0;
}

char *lp_size_format(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!cap)
        return buf;
    if (bytes < 1024) {
        snprintf(buf, cap, "%u B", (unsigned)bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

double lp_size_gib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0 * 1024.0);
}
