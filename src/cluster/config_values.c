/* config_values.c — one checker per kind of config value. */
#include "config_values.h"

#include "route.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"

static int why_set(char *why, size_t cap, const char *text)
{
    snprintf(why, cap, "%s", text);
    return -1;
}

int lp_cfgval_int(const char *v, long lo, long hi, int *out, char *why, size_t cap)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || !(isdigit((unsigned char)*v) || *v == '-') || x < lo ||
        x > hi) {
        snprintf(why, cap, "is not a whole number from %ld to %ld", lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int lp_cfgval_bool(const char *v, bool *out, char *why, size_t cap)
{
    if (strcmp(v, "true") && strcmp(v, "false")) {
        snprintf(why, cap, "is not true or false");
        return -1;
    }
    *out = !strcmp(v, "true");
    return 0;
}

int lp_cfgval_size(const char *v, uint64_t *out, char *why, size_t cap)
{
    uint64_t x;
    if (lp_size_parse(v, &x) != 0)
        return why_set(why, cap, "is not a size (bytes, or a number with K, M, G or T: "
                                 "1024-based, e.g. 16G, 512M, 1.5G)");
    if (x == 0)
        return why_set(why, cap, "is zero: a worker needs memory");
    *out = x;
    return 0;
}

int lp_cfgval_speed(const char *v, double *out, char *why, size_t cap)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || !(x > 0.0) || x > 1e6 ||
        !(isdigit((unsigned char)*v) || *v == '.'))
        return why_set(why, cap, "is not a speed (a number > 0 and <= 1e6, e.g. 1 or 2.5)");
    *out = x;
    return 0;
}

int lp_cfgval_dtype(const char *v, lp_config_dtype *out, char *why, size_t cap)
{
    for (int d = LP_CONFIG_DTYPE_F32; d <= LP_CONFIG_DTYPE_Q8_0; d++)
        if (!strcmp(v, lp_config_dtype_name((lp_config_dtype)d))) {
            *out = (lp_config_dtype)d;
            return 0;
        }
    return why_set(why, cap, "is not a wire dtype (f32, f16, bf16, q8_0)");
}

static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/* HOST:PORT with HOST a name, an IPv4 address or [IPv6]; port 1..65535. */
static bool hostport_ok(const char *s)
{
    const char *colon;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1 || close[1] != ':')
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return false;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s)
            return false;
        for (const char *p = s; p < colon; p++)
            if (!host_char(*p))
                return false;
    }
    const char *port = colon + 1;
    size_t n = strlen(port);
    if (n == 0 || n > 5)
        return false;
    for (const char *p = port; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    long x = strtol(port, NULL, 10);
    return x >= 1 && x <= 65535;
}

static int copy_out(const char *v, char *out, size_t out_cap, char *why, size_t cap)
{
    if (strlen(v) >= out_cap) {
        snprintf(why, cap, "is longer than %zu characters", out_cap - 1);
        return -1;
    }
    snprintf(out, out_cap, "%s", v);
    return 0;
}

int lp_cfgval_endpoint(const char *v, char *out, size_t out_cap, char *why, size_t cap)
{
    if (strncmp(v, "tcp://", 6) != 0 || !hostport_ok(v + 6))
        return why_set(why, cap, "is not an endpoint (tcp://HOST:PORT, port 1-65535, e.g. "
                                 "tcp://10.0.0.2:5555)");
    return copy_out(v, out, out_cap, why, cap);
}

int lp_cfgval_hostport(const char *v, char *out, size_t out_cap, char *why, size_t cap)
{
    if (!hostport_ok(v))
        return why_set(why, cap, "is not HOST:PORT (port 1-65535, e.g. 127.0.0.1:8080)");
    return copy_out(v, out, out_cap, why, cap);
}

int lp_cfgval_advertise(const char *v, char *out, size_t out_cap, char *why, size_t cap)
{
    char host[LP_ROUTE_HOST_MAX];
    int port;
    if (lp_route_split_host(v, host, sizeof host, &port, NULL) != 0)
        return why_set(why, cap, "is not HOST or HOST:PORT (port 1-65535, e.g. 192.168.1.2 "
                                 "or 203.0.113.7:5600)");
    return copy_out(v, out, out_cap, why, cap);
}

int lp_cfgval_path(const char *v, const char *dir, char *out, size_t out_cap, char *why,
                   size_t cap)
{
    if (!*v)
        return why_set(why, cap, "is empty");
    for (const char *p = v; *p; p++)
        if (iscntrl((unsigned char)*p))
            return why_set(why, cap, "contains a control character");
    int n;
    if (*v != '/' && dir && *dir)
        n = snprintf(out, out_cap, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", v);
    else
        n = snprintf(out, out_cap, "%s", v);
    if (n < 0 || (size_t)n >= out_cap) {
        out[0] = 0;
        snprintf(why, cap, "makes a path longer than %zu characters", out_cap - 1);
        return -1;
    }
    return 0;
}

int lp_cfgval_token(const char *v, char *out, size_t out_cap, char *why, size_t cap)
{
    if (!*v)
        return why_set(why, cap, "is empty");
    for (const char *p = v; *p; p++)
        if (!isgraph((unsigned char)*p))
            return why_set(why, cap, "may hold only printable ASCII characters, no spaces");
    return copy_out(v, out, out_cap, why, cap);
}

int lp_cfgval_name(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= LP_CONFIG_NAME_MAX;
    for (const char *p = v; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    if (!ok) {
        snprintf(why, cap, "is not a worker name (1 to %d letters, digits, '_' or '-')",
                 LP_CONFIG_NAME_MAX);
        return -1;
    }
    return 0;
}

const char *lp_cfgval_shown(const char *v, char *buf, size_t cap)
{
    size_t n = 0;
    for (; v[n] && n + 1 < cap && n < 60; n++)
        buf[n] = (v[n] >= 0x20 && v[n] < 0x7f) ? v[n] : '?';
    buf[n] = 0;
    if (v[n] && cap > 4 && n >= 3)
        memcpy(buf + n - 3, "...", 3);
    return buf;
}
