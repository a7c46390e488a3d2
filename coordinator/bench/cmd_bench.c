/* coord bench — prompt processing and generation speed of one machine,
 * printed like llama-bench (pp N / tg N, tokens per second, mean ± sd). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "generate.h"
#include "shard.h"
#include "sysinfo.h"

typedef struct bench_opts {
    const char *model;
    long n_prompt, n_gen, reps;
    int threads[16];
    int n_threads;
    int isa;
} bench_opts;

static int parse_threads(const char *v, bench_opts *o)
{
    int32_t *list;
    int n;
    if (arg_int_list("-t", v, &list, &n) != 0)
        return -1;
    o->n_threads = 0;
    for (int i = 0; i < n && i < 16; i++) {
        if (list[i] < 1 || list[i] > 512) {
            fprintf(stderr, "coord bench: -t: %d threads is out of range\n", list[i]);
            free(list);
            return -1;
        }
        o->threads[o->n_threads++] = list[i];
    }
    free(list);
    return 0;
}

static int parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.n_prompt = 128, .n_gen = 64, .reps = 3,
                      .threads = {lp_cpu_physical_cores()}, .n_threads = 1, .isa = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: coord bench -m MODEL [-p N] [-n N] [-t 1,2] [-r REPS] [--isa NAME]\n"
                   "  -t defaults to the physical cores we may use\n");
            return 1;
        }
        if (!(v = arg_next(argc, argv, &i)))
            return -1;
        int rc = !strcmp(a, "-m")  ? (o->model = v, 0)
               : !strcmp(a, "-p")  ? arg_int(a, v, 0, 1 << 20, &o->n_prompt)
               : !strcmp(a, "-n")  ? arg_int(a, v, 0, 1 << 20, &o->n_gen)
               : !strcmp(a, "-r")  ? arg_int(a, v, 1, 1000, &o->reps)
               : !strcmp(a, "-t")  ? parse_threads(v, o)
               : !strcmp(a, "--isa") ? ((o->isa = lp_isa_parse(v)) < 0 ? -1 : 0)
               : (fprintf(stderr, "coord bench: unknown option '%s'\n", a), -1);
        if (rc != 0)
            return -1;
    }
    if (!o->model)
        return fprintf(stderr, "coord bench: -m MODEL is required\n"), -1;
    return 0;
}

/* One timed run: prompt of n_prompt random ids, or n_gen single steps. */
static int time_once(lp_shard *s, const bench_opts *o, bool gen, double *secs, lp_err *err)
{
    const int nv = (int)s->model->hp.n_vocab;
    int n = (int)(gen ? o->n_gen : o->n_prompt);
    int32_t *toks = malloc(sizeof *toks * (size_t)(n ? n : 1));
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((x >> 33) % (uint64_t)nv);
    }
    int slot = lp_kv_open(s->kv, 1, err), rc = slot < 0 ? -1 : 0;
    const float *logits;
    double t0 = lp_now_s();
    for (int i = 0; rc == 0 && i < n; i += gen ? 1 : n)
        rc = gen ? lp_decode_one(s, slot, toks[i], &logits, err)
                 : lp_prefill(s, slot, toks, n, &logits, err);
    *secs = lp_now_s() - t0;
    lp_kv_close(s->kv, slot);
    free(toks);
    return rc;
}

static int bench_row(lp_shard *s, const bench_opts *o, int threads, bool gen, lp_err *err)
{
    long n = gen ? o->n_gen : o->n_prompt;
    if (n == 0)
        return 0;
    double sum = 0, sum2 = 0, secs;
    if (time_once(s, o, gen, &secs, err) != 0) /* warm-up: page in the weights */
        return -1;
    for (long r = 0; r < o->reps; r++) {
        if (time_once(s, o, gen, &secs, err) != 0)
            return -1;
        double tps = (double)n / secs;
        sum += tps;
        sum2 += tps * tps;
    }
    double mean = sum / o->reps, var = sum2 / o->reps - mean * mean;
    printf("| %-10s | %7d | %6s%-5ld | %10.2f ± %7.2f |\n", lp_isa_name(s->kernels.isa),
           threads, gen ? "tg" : "pp", n, mean, sqrt(var > 0 ? var : 0));
    fflush(stdout);
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    printf("model: %s\n", o.model);
    printf("| kernels    | threads | test        |              t/s     |\n");
    printf("|------------|---------|-------------|----------------------|\n");
    lp_err err = {0};
    for (int i = 0; i < o.n_threads; i++) {
        lp_shard_opts so;
        lp_shard_opts_default(&so);
        so.n_threads = o.threads[i];
        so.isa = o.isa;
        so.n_batch = 512;
        so.n_ctx = (int)(o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 1;
        lp_shard *s = lp_shard_open(o.model, &so, &err);
        if (!s || bench_row(s, &o, so.n_threads, false, &err) != 0 ||
            bench_row(s, &o, so.n_threads, true, &err) != 0) {
            fprintf(stderr, "coord bench: %s\n", err.msg);
            lp_shard_close(s);
            return 1;
        }
        lp_shard_close(s);
    }
    return 0;
}
