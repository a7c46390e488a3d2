/* config.c — cluster files read with inih, every key checked.
 *
 * inih hands us (section, key, value) without line numbers, so we feed it
 * through our own line reader: the reader knows the line inih is on when it
 * calls us back, and it also sees the [section] header lines themselves,
 * which inih does not report. That lets us name the line of every error,
 * tell a repeated [worker.a] from one continued section, and notice a
 * section with no keys at all. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_values.h"
#include "keys.h"
#include "route.h"

#define MAX_SECTIONS 512
#define INIH_MAX_SECTION 50 /* inih cuts section names to 49 characters */

enum { K_PATH, K_CTX, K_SESSIONS, K_BATCH, K_CHUNK, K_DTYPE, K_THREADS, N_MODEL_KEYS };
enum { K_LISTEN, K_API_KEY, K_ADVERTISE, K_KEY, K_INSECURE, K_INSECURE_REMOTE, K_RECOVER,
       K_STEP_TIMEOUT, N_SERVER_KEYS };
enum { K_ENDPOINT, K_MEM, K_WPATH, K_SPEED, K_PUB, K_SPARE, N_WORKER_KEYS };
enum { K_LWORKERS, K_LMEM, N_LOCAL_KEYS };

static const char *const MODEL_KEYS[] = {"path",         "ctx",        "sessions", "batch",
                                         "prompt_chunk", "wire_dtype", "threads"};
static const char *const SERVER_KEYS[] = {"listen", "api_key", "advertise", "key", "insecure",
                                          "allow_insecure_remote", "recover_timeout",
                                          "step_timeout"};
static const char *const WORKER_KEYS[] = {"endpoint", "mem", "model_path", "speed",
                                          "public_key", "spare"};
static const char *const LOCAL_KEYS[] = {"workers", "mem"};

typedef struct parse_state {
    lp_config *c;
    lp_err *err;
    const char *file, *dir;
    const char *text;
    size_t len, pos;
    int line;               /* the line inih is on */
    int err_line;           /* first error found (0: none) */
    int n_headers, cur;     /* [section] lines seen; the current one (-1) */
    int header_line[MAX_SECTIONS];
    bool header_used[MAX_SECTIONS];
    char header_name[MAX_SECTIONS][INIH_MAX_SECTION];
    int model_seen[N_MODEL_KEYS], server_seen[N_SERVER_KEYS], local_seen[N_LOCAL_KEYS];
    int worker_seen[LP_CONFIG_MAX_WORKERS][N_WORKER_KEYS];
    int worker_header[LP_CONFIG_MAX_WORKERS];
    int local_workers_line, first_worker_line, local_section_line;
    uint64_t local_mem;
    int local_n;
} parse_state;

const char *lp_config_dtype_name(lp_config_dtype d)
{
    switch (d) {
    case LP_CONFIG_DTYPE_F32: return "f32";
    case LP_CONFIG_DTYPE_F16: return "f16";
    case LP_CONFIG_DTYPE_BF16: return "bf16";
    case LP_CONFIG_DTYPE_Q8_0: return "q8_0";
    }
    return "?";
}

/* ---- errors --------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail_at(parse_state *st, int line,
                                                         const char *fmt, ...)
{
    if (st->err_line)
        return 0;
    char text[sizeof st->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (line > 0)
        lp_err_set(st->err, "%s:%d: %s", st->file, line, text);
    else
        lp_err_set(st->err, "%s: %s", st->file, text);
    st->err_line = line > 0 ? line : 1;
    return 0; /* inih: stop treating this file as good */
}

static int fail_key(parse_state *st, const char *section, const char *key, const char *value,
                    const char *why)
{
    char shown[72];
    return fail_at(st, st->line, "key '%s' in [%s]: '%s' %s", key, section,
                   lp_cfgval_shown(value, shown, sizeof shown), why);
}

/* ---- the line reader ---------------------------------------------------- */

static void note_header(parse_state *st, const char *s)
{
    if (st->n_headers == MAX_SECTIONS) {
        fail_at(st, st->line, "more than %d sections", MAX_SECTIONS);
        return;
    }
    int h = st->n_headers++;
    st->header_line[h] = st->line;
    size_t n = 0;
    for (s++; s[n] && s[n] != ']' && s[n] != '\n' && n + 1 < INIH_MAX_SECTION; n++)
        st->header_name[h][n] = s[n];
    st->header_name[h][n] = 0;
    st->cur = h;
}

/* fgets for inih over our buffer: one whole line per call, or stop. */
static char *read_line(char *str, int num, void *stream)
{
    parse_state *st = stream;
    if (st->err_line || st->pos >= st->len)
        return NULL;
    const char *p = st->text + st->pos;
    const char *nl = memchr(p, '\n', st->len - st->pos);
    size_t n = nl ? (size_t)(nl - p) + 1 : st->len - st->pos;
    st->line++;
    if (memchr(p, 0, n)) {
        fail_at(st, st->line, "the line holds a NUL byte (is this a text file?)");
        return NULL;
    }
    if (num < 2 || n > (size_t)num - 1) {
        fail_at(st, st->line, "the line is longer than %d characters", num - 2);
        return NULL;
    }
    memcpy(str, p, n);
    str[n] = 0;
    st->pos += n;
    const char *s = str;
    if (st->line == 1 && !memcmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    if (*s == '[')
        note_header(st, s);
    else if (*s == ' ' || *s == '\t') {
        s += strspn(s, " \t");
        if (*s == '[')
            fail_at(st, st->line, "a [section] header must start its line");
    }
    return st->err_line ? NULL : str;
}

/* ---- keys --------------------------------------------------------------- */

static int key_index(const char *const *keys, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], key))
            return i;
    return -1;
}

/* Finds the key in its section's table and refuses unknown or repeated
 * keys. -1 after an error. */
static int take_key(parse_state *st, const char *section, const char *const *keys, int n,
                    int *seen, const char *key)
{
    int k = key_index(keys, n, key);
    if (k < 0) {
        char known[160] = "";
        for (int i = 0; i < n; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                     i ? ", " : "", keys[i]);
        fail_at(st, st->line, "unknown key '%s' in [%s] (known: %s)", key, section, known);
        return -1;
    }
    if (seen[k]) {
        fail_at(st, st->line, "key '%s' in [%s] is given twice (first on line %d)", key,
                section, seen[k]);
        return -1;
    }
    seen[k] = st->line;
    return k;
}

static int model_key(parse_state *st, const char *key, const char *v)
{
    lp_config *c = st->c;
    char why[160];
    int k = take_key(st, "model", MODEL_KEYS, N_MODEL_KEYS, st->model_seen, key);
    int rc = 0;
    switch (k) {
    case K_PATH:
        rc = lp_cfgval_path(v, st->dir, c->model_path, sizeof c->model_path, why, sizeof why);
        break;
    case K_CTX: rc = lp_cfgval_int(v, 0, 1 << 24, &c->ctx, why, sizeof why); break;
    case K_SESSIONS: rc = lp_cfgval_int(v, 1, 4096, &c->sessions, why, sizeof why); break;
    case K_BATCH: rc = lp_cfgval_int(v, 1, 4096, &c->batch, why, sizeof why); break;
    case K_CHUNK:
        c->prompt_chunk = 0;
        if (strcmp(v, "auto") && lp_cfgval_int(v, 1, 4096, &c->prompt_chunk, why, sizeof why)) {
            snprintf(why, sizeof why, "is not 'auto' or a whole number from 1 to 4096");
            rc = -1;
        }
        break;
    case K_DTYPE: rc = lp_cfgval_dtype(v, &c->wire_dtype, why, sizeof why); break;
    case K_THREADS: rc = lp_cfgval_int(v, 0, 1024, &c->threads, why, sizeof why); break;
    default: return 0;
    }
    return rc ? fail_key(st, "model", key, v, why) : 1;
}

static int server_key(parse_state *st, const char *key, const char *v)
{
    lp_config *c = st->c;
    char why[160];
    int k = take_key(st, "server", SERVER_KEYS, N_SERVER_KEYS, st->server_seen, key);
    int rc = 0;
    if (k == K_LISTEN)
        rc = lp_cfgval_hostport(v, c->listen, sizeof c->listen, why, sizeof why);
    else if (k == K_API_KEY)
        rc = lp_cfgval_token(v, c->api_key, sizeof c->api_key, why, sizeof why);
    else if (k == K_ADVERTISE)
        rc = lp_cfgval_advertise(v, c->advertise, sizeof c->advertise, why, sizeof why);
    else if (k == K_KEY)
        rc = lp_cfgval_path(v, st->dir, c->key_file, sizeof c->key_file, why, sizeof why);
    else if (k == K_RECOVER || k == K_STEP_TIMEOUT)
        rc = lp_cfgval_int(v, 0, 3600, k == K_RECOVER ? &c->recover_s : &c->step_timeout_s, why,
                           sizeof why);
    else if (k == K_INSECURE || k == K_INSECURE_REMOTE)
        rc = lp_cfgval_bool(v, k == K_INSECURE ? &c->insecure : &c->insecure_remote, why,
                            sizeof why);
    else
        return 0;
    return rc ? fail_key(st, "server", key, v, why) : 1;
}

static int local_key(parse_state *st, const char *key, const char *v)
{
    char why[160];
    if (st->first_worker_line)
        return fail_at(st, st->header_line[st->cur], "[local] and [worker.NAME] sections "
                       "cannot be mixed ([worker.*] on line %d)", st->first_worker_line);
    st->local_section_line = st->header_line[st->cur];
    int k = take_key(st, "local", LOCAL_KEYS, N_LOCAL_KEYS, st->local_seen, key);
    int rc = 0;
    if (k == K_LWORKERS)
        rc = lp_cfgval_int(v, 1, LP_CONFIG_MAX_WORKERS, &st->local_n, why, sizeof why);
    else if (k == K_LMEM)
        rc = lp_cfgval_size(v, &st->local_mem, why, sizeof why);
    else
        return 0;
    return rc ? fail_key(st, "local", key, v, why) : 1;
}

/* The worker a [worker.NAME] key belongs to, created on its first key. */
static int find_worker(parse_state *st, const char *section, const char *name)
{
    lp_config *c = st->c;
    const int hline = st->header_line[st->cur];
    for (int i = 0; i < c->n_workers; i++)
        if (!strcmp(c->workers[i].name, name)) {
            if (st->worker_header[i] != st->cur) {
                fail_at(st, hline, "section [%s] appears twice (first on line %d)", section,
                        c->workers[i].line);
                return -1;
            }
            return i;
        }
    char why[160];
    if (lp_cfgval_name(name, why, sizeof why) != 0) {
        fail_at(st, hline, "section [%s]: '%s' %s", section, name, why);
        return -1;
    }
    if (st->local_section_line) {
        fail_at(st, hline, "[local] and [worker.NAME] sections cannot be mixed ([local] on "
                "line %d)", st->local_section_line);
        return -1;
    }
    if (c->n_workers == LP_CONFIG_MAX_WORKERS) {
        fail_at(st, hline, "more than %d workers", LP_CONFIG_MAX_WORKERS);
        return -1;
    }
    int w = c->n_workers++;
    lp_config_worker *wk = &c->workers[w];
    memset(wk, 0, sizeof *wk);
    snprintf(wk->name, sizeof wk->name, "%s", name);
    wk->speed = 1.0;
    wk->line = hline;
    st->worker_header[w] = st->cur;
    if (!st->first_worker_line)
        st->first_worker_line = hline;
    return w;
}

static int endpoint_taken(parse_state *st, int w, const char *section)
{
    const lp_config *c = st->c;
    for (int i = 0; i < c->n_workers; i++)
        if (i != w && !strcmp(c->workers[i].endpoint, c->workers[w].endpoint))
            return fail_at(st, st->line, "key 'endpoint' in [%s]: '%s' is also [worker.%s]'s",
                           section, c->workers[w].endpoint, c->workers[i].name);
    return 1;
}

static int worker_key(parse_state *st, const char *section, const char *key, const char *v)
{
    int w = find_worker(st, section, section + strlen("worker."));
    if (w < 0)
        return 0;
    lp_config_worker *wk = &st->c->workers[w];
    char why[160];
    int k = take_key(st, section, WORKER_KEYS, N_WORKER_KEYS, st->worker_seen[w], key);
    int rc = 0;
    switch (k) {
    case K_ENDPOINT:
        rc = lp_cfgval_endpoint(v, wk->endpoint, sizeof wk->endpoint, why, sizeof why);
        if (rc == 0)
            return endpoint_taken(st, w, section);
        break;
    case K_MEM: rc = lp_cfgval_size(v, &wk->mem, why, sizeof why); break;
    case K_WPATH:
        rc = lp_cfgval_path(v, NULL, wk->model_path, sizeof wk->model_path, why, sizeof why);
        break;
    case K_SPEED: rc = lp_cfgval_speed(v, &wk->speed, why, sizeof why); break;
    case K_SPARE: rc = lp_cfgval_bool(v, &wk->spare, why, sizeof why); break;
    case K_PUB:
        if ((rc = lp_key_valid(v) ? 0 : -1) != 0)
            snprintf(why, sizeof why, "is not a public key (40 Z85 characters, as in the "
                                      "worker's .pub file)");
        else
            snprintf(wk->public_key, sizeof wk->public_key, "%s", v);
        break;
    default: return 0;
    }
    return rc ? fail_key(st, section, key, v, why) : 1;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    parse_state *st = user;
    if (st->err_line)
        return 0;
    if (st->cur < 0 || !*section)
        return fail_at(st, st->line, "key '%s' is outside any [section]", key);
    st->header_used[st->cur] = true;
    if (strlen(section) >= INIH_MAX_SECTION - 1)
        return fail_at(st, st->header_line[st->cur], "section name [%s...] is too long",
                       section);
    if (!strcmp(section, "model"))
        return model_key(st, key, value);
    if (!strcmp(section, "server"))
        return server_key(st, key, value);
    if (!strcmp(section, "local"))
        return local_key(st, key, value);
    if (!strncmp(section, "worker.", 7))
        return worker_key(st, section, key, value);
    return fail_at(st, st->header_line[st->cur],
                   "unknown section [%s] (known: model, server, local, worker.NAME)", section);
}

/* ---- after the last line ------------------------------------------------ */

/* Plain links to [worker.*] sections only when the file says so: insecure =
 * true, and beyond loopback allow_insecure_remote = true too ([local]
 * workers, added later, are keyed by the pool itself). True, the error set, if refused. */
static bool plain_refused(parse_state *st)
{
    const lp_config *c = st->c;
    char host[256];
    int port;
    lp_err ignored = {0};
    if (c->n_workers > 0 && !c->insecure) {
        fail_at(st, c->workers[0].line, "links to the workers would be plain: give [server] key "
                "and each worker's public_key (coord keygen, worker keygen), or say insecure = "
                "true in [server] (a network you trust)");
        return true;
    }
    for (int w = 0; w < c->n_workers && !c->insecure_remote; w++)
        if (lp_route_split(c->workers[w].endpoint, host, sizeof host, &port, &ignored) != 0 ||
            !lp_route_is_loopback(host)) {
            fail_at(st, c->workers[w].line, "worker %s is beyond loopback, and its link would be "
                    "plain: give keys, or say allow_insecure_remote = true in [server]",
                    c->workers[w].name);
            return true;
        }
    return false;
}

static int check_complete(parse_state *st)
{
    lp_config *c = st->c;
    for (int h = 0; h < st->n_headers; h++)
        if (!st->header_used[h])
            return fail_at(st, st->header_line[h], "section [%s] is empty",
                           st->header_name[h]);
    for (int w = 0; w < c->n_workers; w++) {
        const char *miss = !c->workers[w].endpoint[0] ? "endpoint (its --listen address, "
                                                        "e.g. tcp://10.0.0.2:5555)"
                           : !c->workers[w].mem ? "mem (its memory budget, e.g. 16G)"
                                                : NULL;
        if (miss)
            return fail_at(st, c->workers[w].line, "section [worker.%s] has no key %s",
                           c->workers[w].name, miss);
    }
    if (st->local_section_line && (!st->local_n || !st->local_mem))
        return fail_at(st, st->local_section_line, "section [local] has no key %s",
                       !st->local_n ? "workers (how many to start)"
                                    : "mem (each worker's budget, e.g. 8G)");
    if (!c->model_path[0])
        return fail_at(st, 0, "no model: add [model] with path = MODEL.gguf");
    if (c->key_file[0] && st->local_section_line)
        return fail_at(st, st->local_section_line, "[local] workers get fresh keys each "
                       "run, never [server] key: drop it, or list [worker.*] sections");
    for (int w = 0; w < c->n_workers; w++)
        if (!c->workers[w].public_key[0] != !c->key_file[0])
            return fail_at(st, c->workers[w].line, "%s", c->key_file[0]
                           ? "with [server] key every [worker.*] needs its public_key"
                           : "a worker's public_key needs the coordinator's own [server] key");
    if (c->prompt_chunk > c->batch)
        return fail_at(st, 0, "prompt_chunk %d is over batch %d (the most tokens a step carries)",
                       c->prompt_chunk, c->batch);
    if (!c->key_file[0] && plain_refused(st))
        return -1;
    if (!c->n_workers && !st->local_section_line)
        return fail_at(st, 0, "no workers: add [worker.NAME] sections or a [local] section");
    return 1;
}

static void add_local_workers(parse_state *st)
{
    lp_config *c = st->c;
    c->local = true;
    c->n_workers = st->local_n;
    for (int i = 0; i < st->local_n; i++) {
        lp_config_worker *w = &c->workers[i];
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "local%d", i);
        w->mem = st->local_mem;
        w->speed = 1.0;
    }
}

/* Spares out of the pipeline: workers[0..n_workers) in file order, then
 * the n_spares. A spare loads its own copy (model_path): it must be ready
 * to take any worker's layers at once. */
static void spares_last(parse_state *st)
{
    lp_config *c = st->c;
    lp_config_worker tmp[LP_CONFIG_MAX_WORKERS];
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < c->n_workers; i++)
            if (c->workers[i].spare == (pass == 1))
                tmp[n++] = c->workers[i];
    memcpy(c->workers, tmp, sizeof tmp[0] * (size_t)n);
    for (int i = 0; i < c->n_workers; i++)
        c->n_spares += c->workers[i].spare;
    c->n_workers -= c->n_spares;
    for (int i = c->n_workers; i < c->n_workers + c->n_spares; i++)
        if (!c->workers[i].model_path[0]) {
            fail_at(st, c->workers[i].line, "spare [worker.%s] needs model_path (its own copy "
                    "of the model: it must take any worker's layers at once)",
                    c->workers[i].name);
            return;
        }
    if (c->n_workers == 0 && c->n_spares > 0)
        fail_at(st, 0, "every worker is a spare: the pipeline needs at least one");
}

void lp_config_defaults(lp_config *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->file, sizeof c->file, "%s", name);
    c->sessions = 1;
    c->recover_s = 60;
    c->step_timeout_s = 30;
    c->batch = 256;
    c->wire_dtype = LP_CONFIG_DTYPE_F32;
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
}

int lp_config_parse(const char *text, size_t len, const char *name, const char *dir,
                    lp_config *out, lp_err *err)
{
    if (!name)
        name = "config";
    lp_config_defaults(out, name);
    parse_state *st = calloc(1, sizeof *st);
    if (!st)
        return lp_err_set(err, "%s: out of memory", name);
    *st = (parse_state){.c = out, .err = err, .file = name, .dir = dir, .text = text,
                        .len = len, .cur = -1};
    int rc = ini_parse_stream(read_line, st, on_key, st);
    if (rc > 0 && (!st->err_line || rc < st->err_line)) {
        st->err_line = 0; /* an earlier line is not even INI */
        fail_at(st, rc, "expected [section], key = value, or a ; comment");
    } else if (rc < 0 && !st->err_line) {
        fail_at(st, 0, "the INI parser failed (%d)", rc);
    }
    if (!st->err_line)
        check_complete(st);
    if (!st->err_line)
        spares_last(st);
    if (!st->err_line && st->local_section_line)
        add_local_workers(st);
    bool ok = !st->err_line;
    free(st);
    return ok ? 0 : -1;
}

/* The folder of a path, "" if it has none ("a.ini" -> "", "/a.ini" -> "/"). */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        n = 0;
    memcpy(dir, path, n);
    dir[n] = 0;
}

int lp_config_load(const char *path, lp_config *out, lp_err *err)
{
    lp_config_defaults(out, path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return lp_err_set(err, "%s: %s", path, strerror(errno));
    char *buf = malloc(LP_CONFIG_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, LP_CONFIG_MAX_FILE + 1, f) : 0;
    bool read_err = ferror(f);
    fclose(f);
    if (!buf || read_err || n > LP_CONFIG_MAX_FILE) {
        free(buf);
        return lp_err_set(err, "%s: %s", path,
                          !buf ? "out of memory" : read_err ? "read error"
                                                            : "larger than 1 MiB");
    }
    char dir[LP_CONFIG_PATH_MAX];
    dir_of(path, dir, sizeof dir);
    int rc = lp_config_parse(buf, n, path, dir, out, err);
    free(buf);
    return rc;
}
