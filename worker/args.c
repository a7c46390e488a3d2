/* args.c — the worker's command line. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route.h"
#include "size.h"
#include "worker.h"

enum { DEFAULT_TTL_S = 600 };

void wk_default_cache_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(out, cap, "%s/layerpool/shards", xdg);
    else if (home && *home)
        snprintf(out, cap, "%s/.cache/layerpool/shards", home);
    else
        snprintf(out, cap, "layerpool-shards");
}

int wk_default_data_endpoint(const char *listen, char *out, size_t cap, lp_err *err)
{
    const char *colon = strrchr(listen, ':');
    if (strncmp(listen, "tcp://", 6) != 0 || !colon || colon < listen + 6)
        return lp_err_set(err, "--listen %s is not tcp://HOST:PORT; give --data too", listen);
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!strcmp(colon + 1, "*"))
        port = 0;
    else if (errno || *end || end == colon + 1 || port < 0 || port > 65534)
        return lp_err_set(err, "--listen %s: bad port (the data port is the next one up)", listen);
    int n = snprintf(out, cap, "%.*s:%ld", (int)(colon - listen), listen, port ? port + 1 : 0);
    if (n < 0 || (size_t)n >= cap)
        return lp_err_set(err, "--listen %s is too long", listen);
    return 0;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out, lp_err *err)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi)
        return lp_err_set(err, "%s wants a whole number in [%d, %d], got '%s'", flag, lo, hi,
                          v ? v : "");
    *out = (int)x;
    return 0;
}

static int copy(const char *flag, const char *v, char *out, size_t cap, lp_err *err)
{
    if (!v || !*v || strlen(v) >= cap)
        return lp_err_set(err, "%s wants a value (at most %zu bytes)", flag, cap - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* Plain links on an address beyond loopback only with --insecure. */
static int plain_ok(const wk_opts *o, const char *ep, lp_err *err)
{
    char host[256];
    int port;
    lp_err ignored = {0};
    if (o->key_file[0] || o->insecure ||
        (lp_route_split(ep, host, sizeof host, &port, &ignored) == 0 &&
         lp_route_is_loopback(host)))
        return 0;
    return lp_err_set(err, "%s reaches beyond this machine, and without --key its links "
                           "would be plain: give --key and --coordinator-key (worker keygen), "
                           "or --insecure on a network you trust", ep);
}

static int one_arg(const char *a, const char *v, wk_opts *o, lp_err *err)
{
    if (!strcmp(a, "--listen"))
        return copy(a, v, o->listen, sizeof o->listen, err);
    if (!strcmp(a, "--data"))
        return copy(a, v, o->data, sizeof o->data, err);
    if (!strcmp(a, "--cache-dir"))
        return copy(a, v, o->cache_dir, sizeof o->cache_dir, err);
    if (!strcmp(a, "--key"))
        return copy(a, v, o->key_file, sizeof o->key_file, err);
    if (!strcmp(a, "--coordinator-key"))
        return v ? lp_key_public(v, o->coordinator_key, err)
                 : lp_err_set(err, "--coordinator-key wants a key or a .pub file");
    if (!strcmp(a, "--models-dir"))
        return wk_models_dir_add(o, v, err);
    if (!strcmp(a, "--name"))
        return copy(a, v, o->name, sizeof o->name, err);
    if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
        return parse_int(a, v, 1, 1024, &o->n_threads, err);
    if (!strcmp(a, "--session-ttl"))
        return parse_int(a, v, 0, INT_MAX / 1000, &o->session_ttl_s, err);
    if (!strcmp(a, "--cache-max")) {
        if (!v || lp_size_parse(v, &o->cache_max) != 0 || o->cache_max == 0)
            return lp_err_set(err, "--cache-max wants a size such as 64G, got '%s'", v ? v : "");
        return 0;
    }
    if (!strcmp(a, "--mem-limit")) {
        if (!v || lp_size_parse(v, &o->mem_limit) != 0 || o->mem_limit == 0)
            return lp_err_set(err, "--mem-limit wants a size such as 16G or 512M, got '%s'",
                              v ? v : "");
        return 0;
    }
    return lp_err_set(err, "unknown argument '%s' (see worker --help)", a);
}

int wk_args_parse(int argc, char **argv, wk_opts *o, lp_err *err)
{
    memset(o, 0, sizeof *o);
    o->session_ttl_s = DEFAULT_TTL_S;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--insecure")) { /* the one flag without a value */
            o->insecure = true;
            continue;
        }
        int rc = lp_attn_opts_arg(&o->attn, argc, argv, &i, err);
        if (rc < 0 || (rc == 0 && one_arg(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o, err)))
            return -1;
        i += rc == 0; /* one_arg's flags all take a value */
    }
    if (!o->listen[0])
        return lp_err_set(err, "--listen tcp://HOST:PORT is required");
    if (!o->key_file[0] != !o->coordinator_key[0])
        return lp_err_set(err, "--key and --coordinator-key go together: ours, and whom we "
                               "take orders from");
    if (!o->name[0] && (gethostname(o->name, sizeof o->name) != 0 || !o->name[0]))
        snprintf(o->name, sizeof o->name, "worker");
    o->name[sizeof o->name - 1] = 0;
    if (!o->cache_dir[0])
        wk_default_cache_dir(o->cache_dir, sizeof o->cache_dir);
    if (!o->data[0] && wk_default_data_endpoint(o->listen, o->data, sizeof o->data, err) != 0)
        return -1;
    return plain_ok(o, o->listen, err) || plain_ok(o, o->data, err) ? -1 : 0;
}
