/* Cluster files: the shipped configs load and their plans fit; each broken
 * file is refused with its file, line and key; sizes parse as documented;
 * thousands of random mutations of a good file never crash (ASan) and
 * whatever loads is consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_plan.h"
#include "plan.h"
#include "synth_plan.h"
#include "size.h"
#include "support.h"

#define GIB ((uint64_t)1 << 30)

static lp_config *load_ok(const char *path)
{
    lp_config *c = malloc(sizeof *c);
    lp_err err = {{0}};
    assert_non_null(c);
    if (lp_config_load(path, c, &err) != 0)
        fail_msg("%s: %s", path, err.msg);
    return c;
}

static void plan_fits(const lp_config *c, const lp_plan_model *m)
{
    lp_plan_worker w[LP_CONFIG_MAX_WORKERS];
    lp_plan_shard p[LP_CONFIG_MAX_WORKERS];
    lp_plan_opts o;
    lp_err err = {{0}};
    int n = lp_config_plan_workers(c, w, NULL);
    lp_config_plan_opts(c, m, &o);
    if (lp_plan_make(m, w, n, &o, p, &err) != 0)
        fail_msg("%s: %s", c->file, err.msg);
}

static void test_local2(void **state)
{
    (void)state;
    lp_config *c = load_ok("configs/local-2.ini");
    assert_true(c->local);
    assert_int_equal(c->n_workers, 2);
    assert_string_equal(c->workers[1].name, "local1");
    assert_string_equal(c->workers[0].endpoint, "");
    assert_true(c->workers[0].mem == GIB && c->workers[1].speed == 1.0);
    assert_string_equal(c->model_path, "configs/../../shared/models/stories260K.gguf");
    assert_int_equal(c->ctx, 512);
    assert_int_equal(c->sessions, 4);
    assert_int_equal(c->recover_s, 60); /* requests wait a minute for a lost worker */
    assert_int_equal(c->threads, 2);
    assert_int_equal(c->wire_dtype, LP_CONFIG_DTYPE_F32);
    assert_int_equal(c->prompt_chunk, 0); /* auto */
    assert_string_equal(c->listen, "127.0.0.1:8080");
    /* The path resolves to the shared model, and the plan for it fits. */
    char want[4096];
    if (access(c->model_path, R_OK) == 0) {
        lp_plan_model m;
        lp_err err = {{0}};
        assert_int_equal(lp_plan_model_open(c->model_path, &m, &err), 0);
        plan_fits(c, &m);
        lp_plan_model_free(&m);
    } else {
        /* shared/ is elsewhere (LP_SHARED): the same file name must exist there. */
        assert_int_equal(access(lp_test_shared(want, sizeof want,
                                               "models/stories260K.gguf"), R_OK), 0);
    }
    free(c);
}

static void test_70b_configs(void **state)
{
    (void)state;
    lp_plan_model m;
    lp_err err = {{0}};
    assert_int_equal(lp_synth_plan_model(&LP_SYNTH_LLAMA70B_Q4_K_M, &m, &err), 0);
    lp_config *c = load_ok("configs/home-3x16g-70b.ini");
    assert_false(c->local);
    assert_int_equal(c->n_workers, 3);
    assert_string_equal(c->workers[0].name, "laptop-a");
    assert_string_equal(c->workers[2].endpoint, "tcp://192.168.1.23:5555");
    assert_true(c->workers[1].mem == 14 * GIB + GIB / 2);
    assert_int_equal(c->ctx, 8192);
    assert_string_equal(c->api_key, "");
    plan_fits(c, &m); /* what its comments promise */
    free(c);
    c = load_ok("configs/mixed.ini");
    assert_int_equal(c->n_workers, 3);
    assert_true(c->workers[0].speed == 2.0 && c->workers[0].mem == 28 * GIB);
    assert_string_equal(c->workers[0].model_path,
                        "/srv/models/Meta-Llama-3.1-70B-Instruct-Q4_K_M.gguf");
    assert_int_equal(c->sessions, 4);
    assert_string_equal(c->api_key, "change-me");
    assert_string_equal(c->advertise, "");
    plan_fits(c, &m);
    free(c);
    lp_plan_model_free(&m);
}

/* ---- broken files ------------------------------------------------------ */

#define OK_MODEL "[model]\npath = m.gguf\n"
#define OK_WORKER "[worker.a]\nendpoint = tcp://10.0.0.2:5555\nmem = 16G\n"
#define PLAIN_OK "[server]\ninsecure = true\nallow_insecure_remote = true\n"

typedef struct bad_case {
    const char *text;
    const char *msg; /* expected after "<file>:" */
} bad_case;

static const bad_case BAD[] = {
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:1\nmem = 16Q\n",
     "5: key 'mem' in [worker.a]: '16Q' is not a size"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:1\nmem = -16G\n", "5: key 'mem' in [worker.a]: '-16G' is not a size"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:1\nmem = 0\n", "5: key 'mem' in [worker.a]: '0' is zero"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:1\nmemory = 16G\n",
     "5: unknown key 'memory' in [worker.a] (known: endpoint, mem, model_path, speed, public_key, spare)"},
    {OK_MODEL OK_WORKER "mem = 8G\n", "6: key 'mem' in [worker.a] is given twice (first on line 5)"},
    {OK_MODEL OK_WORKER "[worker.b]\nmem = 1G\n[worker.a]\nspeed = 2\n",
     "8: section [worker.a] appears twice (first on line 3)"},
    {OK_MODEL "[worker.a]\nmem = 16G\n", "3: section [worker.a] has no key endpoint"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:1\n", "3: section [worker.a] has no key mem"},
    {OK_MODEL "[worker.a]\nendpoint = 10.0.0.2:5555\n", "4: key 'endpoint' in [worker.a]: '10.0.0.2:5555' is not an endpoint"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:0\n", "4: key 'endpoint' in [worker.a]: 'tcp://h:0' is not an endpoint"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://h:65536\n", "4: key 'endpoint' in [worker.a]: 'tcp://h:65536' is not an endpoint"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://:5\n", "4: key 'endpoint' in [worker.a]: 'tcp://:5' is not an endpoint"},
    {OK_MODEL "[worker.a]\nendpoint = tcp://[::1]:5555\nmem=1G\n[worker.b]\nendpoint = tcp://[::1]:5555\n",
     "7: key 'endpoint' in [worker.b]: 'tcp://[::1]:5555' is also [worker.a]'s"},
    {OK_MODEL OK_WORKER "speed = 0\n", "6: key 'speed' in [worker.a]: '0' is not a speed"},
    {OK_MODEL OK_WORKER "speed = -1\n", "6: key 'speed' in [worker.a]: '-1' is not a speed"},
    {OK_MODEL OK_WORKER "speed = nan\n", "6: key 'speed' in [worker.a]: 'nan' is not a speed"},
    {OK_MODEL OK_WORKER "speed = 1e9\n", "6: key 'speed' in [worker.a]: '1e9' is not a speed"},
    {OK_MODEL "wire_dtype = f8\n" OK_WORKER,
     "3: key 'wire_dtype' in [model]: 'f8' is not a wire dtype (f32, f16, bf16, q8_0)"},
    {OK_MODEL OK_WORKER "public_key = short\n",
     "6: key 'public_key' in [worker.a]: 'short' is not a public key (40 Z85 characters, as in "
     "the worker's .pub file)"},
    {OK_MODEL "[server]\nkey = c.key\n" OK_WORKER,
     "5: with [server] key every [worker.*] needs its public_key"},
    {OK_MODEL "[server]\nkey = c.key\n[local]\nworkers = 2\nmem = 1G\n",
     "5: [local] workers get fresh keys each run, never [server] key"},
    {OK_MODEL OK_WORKER,
     "3: links to the workers would be plain: give [server] key and each worker's public_key"},
    {OK_MODEL "[server]\ninsecure = true\n" OK_WORKER,
     "5: worker a is beyond loopback, and its link would be plain: give keys, or say "
     "allow_insecure_remote = true in [server]"},
    {OK_MODEL "prompt_chunk = some\n" OK_WORKER,
     "3: key 'prompt_chunk' in [model]: 'some' is not 'auto' or a whole number from 1 to 4096"},
    {OK_MODEL "prompt_chunk = 0\n" OK_WORKER,
     "3: key 'prompt_chunk' in [model]: '0' is not 'auto' or a whole number from 1 to 4096"},
    {OK_MODEL "batch = 32\nprompt_chunk = 64\n" OK_WORKER,
     "prompt_chunk 64 is over batch 32 (the most tokens a step carries)"},
    {OK_MODEL "ctx = -5\n" OK_WORKER, "3: key 'ctx' in [model]: '-5' is not a whole number from 0 to 16777216"},
    {OK_MODEL "ctx = 4k\n" OK_WORKER, "3: key 'ctx' in [model]: '4k' is not a whole number"},
    {OK_MODEL "sessions = 0\n" OK_WORKER, "3: key 'sessions' in [model]: '0' is not a whole number from 1 to 4096"},
    {OK_MODEL "threads = 2\nthreads = 3\n" OK_WORKER, "4: key 'threads' in [model] is given twice (first on line 3)"},
    {OK_MODEL "path = other.gguf\n" OK_WORKER, "3: key 'path' in [model] is given twice"},
    {"path = m.gguf\n" OK_MODEL OK_WORKER, "1: key 'path' is outside any [section]"},
    {OK_MODEL "garbage\n" OK_WORKER, "3: expected [section], key = value, or a ; comment"},
    {OK_MODEL "[worker.a\n", "3: expected [section]"},
    {OK_MODEL OK_WORKER "[workers.b]\nmem = 1G\n", "6: unknown section [workers.b]"},
    {OK_MODEL OK_WORKER "[worker.b]\n", "6: section [worker.b] is empty"},
    {OK_MODEL "[worker.]\nmem = 1G\n", "3: section [worker.]: '' is not a worker name"},
    {OK_MODEL "[worker.a b]\nmem = 1G\n", "3: section [worker.a b]: 'a b' is not a worker name"},
    {OK_MODEL "[worker.abcdefghijabcdefghijabcdefghijabc]\nmem = 1G\n",
     "3: section [worker.abcdefghijabcdefghijabcdefghijabc]: 'abcdefghijabcdefghijabcdefghijabc' is not a worker name (1 to 32"},
    {OK_MODEL "[worker.abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij]\nmem = 1G\n",
     "3: section name [worker.abcdefghijabcdefghijabcdefghijabcdefghijab...] is too long"},
    {OK_MODEL OK_WORKER "[local]\nworkers = 2\n",
     "6: [local] and [worker.NAME] sections cannot be mixed ([worker.*] on line 3)"},
    {OK_MODEL "[local]\nworkers = 2\nmem = 1G\n" OK_WORKER,
     "6: [local] and [worker.NAME] sections cannot be mixed ([local] on line 3)"},
    {OK_MODEL "[local]\nworkers = 0\nmem = 1G\n", "4: key 'workers' in [local]: '0' is not a whole number from 1 to 64"},
    {OK_MODEL "[local]\nworkers = 2\n", "3: section [local] has no key mem"},
    {OK_MODEL "[local]\nmem = 2G\n", "3: section [local] has no key workers"},
    {OK_WORKER, "no model: add [model] with path = MODEL.gguf"},
    {OK_MODEL, "no workers: add [worker.NAME] sections or a [local] section"},
    {OK_MODEL "[server]\nlisten = localhost\n" OK_WORKER, "4: key 'listen' in [server]: 'localhost' is not HOST:PORT"},
    {OK_MODEL "[server]\napi_key = two words\n" OK_WORKER, "4: key 'api_key' in [server]: 'two words' may hold only printable"},
    {OK_MODEL "[server]\nport = 1\n" OK_WORKER, "4: unknown key 'port' in [server] (known: listen, api_key, advertise, key, insecure, allow_insecure_remote, recover_timeout, step_timeout)"},
    {OK_MODEL "[server]\nrecover_timeout = 7200\n" OK_WORKER, "4: key 'recover_timeout' in [server]: "},
    {OK_MODEL "[server]\nrecover_timeout = soon\n" OK_WORKER, "4: key 'recover_timeout' in [server]: "},
    {PLAIN_OK OK_MODEL OK_WORKER "[worker.s]\nendpoint = tcp://10.0.0.9:5555\nmem = 1G\nspare = true\n", "9: spare [worker.s] needs model_path"},
    {PLAIN_OK OK_MODEL "[worker.s]\nendpoint = tcp://10.0.0.9:5555\nmem = 1G\nspare = true\nmodel_path = /m.gguf\n", "every worker is a spare"},
    {OK_MODEL "[server]\nadvertise = tcp://10.0.0.1:5\n" OK_WORKER, "4: key 'advertise' in [server]: 'tcp://10.0.0.1:5' is not HOST or HOST:PORT"},
    {OK_MODEL "[server]\nadvertise = 10.0.0.1:0\n" OK_WORKER, "4: key 'advertise' in [server]: '10.0.0.1:0' is not HOST or HOST:PORT"},
    {OK_MODEL "[server]\nadvertise = 10.0.0.1:65536\n" OK_WORKER, "4: key 'advertise' in [server]: '10.0.0.1:65536' is not HOST or HOST:PORT"},
    {OK_MODEL "[server]\nadvertise = [fd00::1\n" OK_WORKER, "4: key 'advertise' in [server]: '[fd00::1' is not HOST or HOST:PORT"},
    {OK_MODEL "[server]\nadvertise = a b\n" OK_WORKER, "4: key 'advertise' in [server]: 'a b' is not HOST or HOST:PORT"},
    {OK_MODEL "[server]\nadvertise = :5600\n" OK_WORKER, "4: key 'advertise' in [server]: ':5600' is not HOST or HOST:PORT"},
    {OK_MODEL "  [worker.a]\n", "3: a [section] header must start its line"},
    {"[model]\npath = \x01.gguf\n" OK_WORKER, "2: key 'path' in [model]: '?.gguf' contains a control character"},
};

static void test_broken_configs(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    lp_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/x.ini", dir);
    lp_config *c = malloc(sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(BAD[i].text, f);
        fclose(f);
        lp_err err = {{0}};
        if (lp_config_load(path, c, &err) == 0)
            fail_msg("case %zu loaded:\n%s", i, BAD[i].text);
        /* "<file>:N: ..." where the error has a line, else "<file>: ...". */
        char want[4096 + 512];
        bool has_line = BAD[i].msg[0] >= '0' && BAD[i].msg[0] <= '9';
        snprintf(want, sizeof want, "%s:%s%s", path, has_line ? "" : " ", BAD[i].msg);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("case %zu:\n%s\ngave:   %s\nwanted: %s", i, BAD[i].text, err.msg, want);
    }
    free(c);
    lp_test_rmtree(dir);
}

/* prompt_chunk: auto (0) unless given, up to batch. */
static void test_prompt_chunk(void **state)
{
    (void)state;
    lp_config *c = malloc(sizeof *c);
    assert_non_null(c);
    const char *cases[] = {OK_MODEL OK_WORKER PLAIN_OK,
                           OK_MODEL "prompt_chunk = auto\n" OK_WORKER PLAIN_OK,
                           OK_MODEL "prompt_chunk = 48\n" OK_WORKER PLAIN_OK,
                           OK_MODEL "batch = 48\nprompt_chunk = 48\n" OK_WORKER PLAIN_OK};
    const int want[] = {0, 0, 48, 48};
    for (int i = 0; i < 4; i++) {
        lp_err err = {{0}};
        if (lp_config_parse(cases[i], strlen(cases[i]), "x.ini", ".", c, &err) != 0)
            fail_msg("case %d: %s", i, err.msg);
        assert_int_equal(c->prompt_chunk, want[i]);
    }
    free(c);
}

/* Lines longer than inih reads at once, NUL bytes, and too many workers. */
static void test_limits(void **state)
{
    (void)state;
    lp_config *c = malloc(sizeof *c);
    lp_err err = {{0}};
    char text[16384];
    int k = snprintf(text, sizeof text, "[model]\npath = ");
    memset(text + k, 'a', 300);
    snprintf(text + k + 300, sizeof text - (size_t)k - 300, "\n" OK_WORKER);
    assert_int_equal(lp_config_parse(text, strlen(text), "t.ini", "", c, &err), -1);
    assert_non_null(strstr(err.msg, "t.ini:2: the line is longer than 198 characters"));
    static const char nul[] = OK_MODEL "[worker.a]\nmem\0 = 1G\n";
    assert_int_equal(lp_config_parse(nul, sizeof nul - 1, "t.ini", "", c, &err), -1);
    assert_non_null(strstr(err.msg, "t.ini:4: the line holds a NUL byte"));
    k = snprintf(text, sizeof text, OK_MODEL PLAIN_OK);
    for (int i = 0; i < 65; i++)
        k += snprintf(text + k, sizeof text - (size_t)k,
                      "[worker.w%d]\nendpoint = tcp://h:%d\nmem = 1G\n", i, 1000 + i);
    assert_int_equal(lp_config_parse(text, strlen(text), "t.ini", "", c, &err), -1);
    assert_non_null(strstr(err.msg, "t.ini:198: more than 64 workers"));
    /* 64 are fine; relative paths join the directory, absolute ones not. */
    char *cut = strstr(text, "[worker.w64]");
    *cut = 0;
    assert_int_equal(lp_config_parse(text, strlen(text), "t.ini", "/etc/lp", c, &err), 0);
    assert_int_equal(c->n_workers, 64);
    assert_string_equal(c->model_path, "/etc/lp/m.gguf");
    assert_int_equal(c->workers[63].line, 6 + 63 * 3);
    static const char abs[] = "[model]\npath = /x/m.gguf\n[local]\nworkers=1\nmem=1M\n";
    assert_int_equal(lp_config_parse(abs, sizeof abs - 1, "t.ini", "/etc/lp", c, &err), 0);
    assert_string_equal(c->model_path, "/x/m.gguf");
    free(c);
    assert_int_equal(lp_config_load("/nonexistent/x.ini", c = malloc(sizeof *c), &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/x.ini: No such file"));
    free(c);
}

/* [server] advertise: a host, or host:port for a forwarded port. */
static void test_advertise(void **state)
{
    (void)state;
    static const char *const ok[] = {"192.168.1.2", "203.0.113.7:5600", "coord.lan",
                                     "coord-1.home.arpa:5600", "fd00::2", "[fd00::2]:5600"};
    lp_config *c = malloc(sizeof *c);
    lp_err err = {{0}};
    char text[512];
    assert_non_null(c);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(text, sizeof text,
                 OK_MODEL "[server]\nadvertise = %s\ninsecure = true\nallow_insecure_remote = true\n"
                 OK_WORKER, ok[i]);
        if (lp_config_parse(text, strlen(text), "t.ini", "", c, &err) != 0)
            fail_msg("advertise = %s: %s", ok[i], err.msg);
        assert_string_equal(c->advertise, ok[i]);
    }
    free(c);
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t v; } ok[] = {
        {"0", 0}, {"512", 512}, {"4096B", 4096}, {"1K", 1024}, {"16G", 16 * GIB},
        {"16g", 16 * GIB}, {"16GB", 16 * GIB}, {"16GiB", 16 * GIB}, {"1.5G", 3 * GIB / 2},
        {"0.125T", GIB * 128}, {"2.001K", 2049}, {"18446744073709551615", UINT64_MAX},
        {"16777215T", (uint64_t)16777215 << 40},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 7;
        if (lp_size_parse(ok[i].s, &v) != 0 || v != ok[i].v)
            fail_msg("'%s' -> %llu", ok[i].s, (unsigned long long)v);
    }
    static const char *const bad[] = {"", "G", "-1G", "+1G", "16 G", " 16G", "16Q", "1.2345G",
                                      "1.", ".5G", "1.5", "1.5B", "16GBB", "16Gi", "16P",
                                      "18446744073709551616", "16777216T", "0x10", "1e9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 7;
        if (lp_size_parse(bad[i], &v) == 0)
            fail_msg("'%s' parsed as %llu", bad[i], (unsigned long long)v);
        assert_true(v == 7);
    }
    char b[32];
    assert_string_equal(lp_size_format(512, b, sizeof b), "512 B");
    assert_string_equal(lp_size_format(16 * GIB, b, sizeof b), "16.0 GiB");
    assert_string_equal(lp_size_format(3 * GIB / 2 * 1024, b, sizeof b), "1.5 TiB");
}

/* ---- mutations --------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_loaded(const lp_config *c)
{
    assert_true(c->model_path[0]);
    assert_true(c->n_workers >= 1 && c->n_workers <= LP_CONFIG_MAX_WORKERS);
    for (int i = 0; i < c->n_workers; i++) {
        const lp_config_worker *w = &c->workers[i];
        assert_true(w->mem > 0 && w->speed > 0);
        assert_true(c->local ? !w->endpoint[0] : !strncmp(w->endpoint, "tcp://", 6));
        assert_true(w->name[0] && strlen(w->name) <= LP_CONFIG_NAME_MAX);
    }
    assert_true(c->sessions >= 1 && c->batch >= 1 && c->ctx >= 0);
}

static void test_mutations(void **state)
{
    (void)state;
    size_t len;
    char *good = lp_test_read_file("configs/mixed.ini", &len);
    assert_non_null(good);
    static const char tokens[] = "[]=;#:\n \t.\0\xff";
    char *buf = malloc(len * 2 + 64);
    lp_config *c = malloc(sizeof *c);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, good, len);
        size_t n = len;
        int edits = 1 + (int)(rng_next(&seed) % 4);
        for (int e = 0; e < edits && n > 1; e++) {
            size_t at = rng_next(&seed) % n;
            uint64_t r = rng_next(&seed);
            char ch = r & 1 ? tokens[(r >> 1) % (sizeof tokens - 1)] : (char)(r >> 8);
            switch ((r >> 16) % 4) {
            case 0: buf[at] = ch; break;                                        /* replace */
            case 1: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;    /* delete */
            case 2: memmove(buf + at + 1, buf + at, n - at); buf[at] = ch; n++; /* insert */
                break;
            default: { /* duplicate a stretch: repeated keys and sections */
                size_t k = 1 + (r >> 24) % 40;
                if (at + k > n || n + k > len * 2 + 60)
                    break;
                memmove(buf + at + k, buf + at, n - at);
                n += k;
            }
            }
        }
        lp_err err = {{0}};
        if (lp_config_parse(buf, n, "fuzz.ini", "dir", c, &err) == 0) {
            check_loaded(c);
            loaded++;
        } else {
            assert_true(!strncmp(err.msg, "fuzz.ini:", 9) && strlen(err.msg) > 12);
            refused++;
        }
    }
    print_message("[ config ] 4000 mutations: %d loaded, %d refused with a message\n", loaded,
                  refused);
    assert_true(loaded > 100 && refused > 1000);
    free(c);
    free(buf);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local2),  cmocka_unit_test(test_70b_configs),
        cmocka_unit_test(test_broken_configs), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_advertise), cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_mutations), cmocka_unit_test(test_prompt_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
