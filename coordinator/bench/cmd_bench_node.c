/* cmd_bench_node.c — `coord bench-node`: how fast this machine runs a
 * model, and how close that is to what its memory allows.
 *
 * For each thread count: prompt processing and generation tokens/s on one
 * shard holding the whole model (median of -r runs, min and max), one
 * line each labelled as llama-bench labels its tests (pp512, tg128) so
 * scripts can read them; the weight bytes one generated token reads and
 * the bandwidth that implies; a STREAM-like triad on the same threads in
 * the same run, and the ratio. Decoding reads every weight once a token,
 * so generation can approach, never pass, what the triad measures. With
 * LLAMA_BENCH naming a llama-bench binary, llama.cpp's figures on the
 * same file follow, with ours/llama.cpp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bench_llama.h"
#include "bench_stream.h"
#include "bench_time.h"
#include "commands.h"
#include "shard_mem.h"
#include "size.h"
#include "sysinfo.h"

enum { MAX_THREAD_COUNTS = 16 };

typedef struct node_opts {
    const char *model;
    long n_prompt, n_gen, reps, n_batch, triad_reps, triad_mib, idle_ms;
    int threads[MAX_THREAD_COUNTS];
    int n_threads;
    int isa;
    lp_attn_opts attn;
} node_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord bench-node -m MODEL [-t T[,T..]] [-p 512] [-n 128] [-r 5]\n"
            "  -t T,..        thread counts (default: the physical cores we may use)\n"
            "  -p N           prompt tokens, one prefill (pp); 0 skips it (default 512)\n"
            "  -n N           generated tokens, one step each (tg); 0 skips it (default 128)\n"
            "  -r N           timed runs per test, after a warm-up (default 5)\n"
            "  -b N           prompt tokens per forward step (default 512)\n"
            "  --triad-reps N triad runs, the best counts (default 10)\n"
            "  --triad-mib N  each triad array's size (default: 4x L3, at least 256)\n"
            "  --idle-ms N    sleep N ms after each generated token, not counted: a\n"
            "                 pipeline stage's idling, to see what it costs this machine\n"
            "  --isa NAME     kernels: scalar, avx2, avx512, avx512vnni (default: best)\n"
            "  -fa, -ctk T, -ctv T   attention as coord run takes it (flash, cache types)\n"
            "env LLAMA_BENCH=/path/to/llama-bench: run llama.cpp on the same file too\n");
}

static int parse_threads(const char *v, node_opts *o)
{
    int32_t *list;
    int n;
    if (arg_int_list("-t", v, &list, &n) != 0)
        return -1;
    int rc = n >= 1 && n <= MAX_THREAD_COUNTS ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = list[i] >= 1 && list[i] <= 512 ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++)
        o->threads[i] = list[i];
    if (rc == 0)
        o->n_threads = n;
    else
        fprintf(stderr, "coord bench-node: -t wants 1 to %d counts in 1..512\n",
                MAX_THREAD_COUNTS);
    free(list);
    return rc;
}

static int parse(int argc, char **argv, node_opts *o)
{
    *o = (node_opts){.n_prompt = 512, .n_gen = 128, .reps = 5, .n_batch = 512,
                     .triad_reps = 10, .threads = {lp_cpu_physical_cores()}, .n_threads = 1,
                     .isa = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout), 1;
        lp_err err = {0};
        int ar = lp_attn_opts_arg(&o->attn, argc, argv, &i, &err);
        if (ar != 0) {
            if (ar < 0)
                return fprintf(stderr, "coord bench-node: %s\n", err.msg), -1;
            continue;
        }
        if (!(v = arg_next(argc, argv, &i)))
            return -1;
        int rc = !strcmp(a, "-m")  ? (o->model = v, 0)
               : !strcmp(a, "-p")  ? arg_int(a, v, 0, 1 << 20, &o->n_prompt)
               : !strcmp(a, "-n")  ? arg_int(a, v, 0, 1 << 20, &o->n_gen)
               : !strcmp(a, "-r")  ? arg_int(a, v, 1, BENCH_MAX_REPS, &o->reps)
               : !strcmp(a, "-b")  ? arg_int(a, v, 1, 65536, &o->n_batch)
               : !strcmp(a, "-t")  ? parse_threads(v, o)
               : !strcmp(a, "--triad-reps") ? arg_int(a, v, 1, 100, &o->triad_reps)
               : !strcmp(a, "--triad-mib") ? arg_int(a, v, 1, 1 << 20, &o->triad_mib)
               : !strcmp(a, "--idle-ms") ? arg_int(a, v, 0, 10000, &o->idle_ms)
               : !strcmp(a, "--isa") ? ((o->isa = lp_isa_parse(v)) < 0 ? -1 : 0)
               : (fprintf(stderr, "coord bench-node: unknown option '%s'\n", a), -1);
        if (rc != 0)
            return -1;
    }
    if (!o->model)
        return fprintf(stderr, "coord bench-node: -m MODEL is required\n"), -1;
    return 0;
}

static void print_machine(const node_opts *o)
{
    char name[256], l3[32];
    lp_cpu_name(name, sizeof name);
    printf("model:    %s\n", o->model);
    printf("machine:  %s, %d physical cores, %d CPUs usable, L3 %s%s\n", name,
           lp_cpu_physical_cores(), lp_cpu_usable(),
           lp_size_format(lp_cpu_cache_bytes(3), l3, sizeof l3),
           getenv("LP_NO_PIN") ? ", LP_NO_PIN set" : "");
}

static void print_test(const char *who, bool gen, long n, int t, const bench_stats *st)
{
    printf("%s%s%-5ld t=%-3d %10.2f tok/s  (min %.2f, max %.2f, %d runs)\n", who,
           gen ? "tg" : "pp", n, t, st->median, st->min, st->max, st->n);
}

/* The per-token bandwidth, the triad, and one against the other. */
static int print_bandwidth(const lp_shard_mem *mem, const bench_stats *tg, int t,
                           const node_opts *o, lp_err *err)
{
    char b[32];
    double gen_gbs = tg ? (double)mem->token_bytes * tg->median / 1e9 : 0;
    if (tg)
        printf("bytes/token t=%-3d %s (%llu B) of weights a token x %.2f tok/s = %.2f GB/s\n",
               t, lp_size_format(mem->token_bytes, b, sizeof b),
               (unsigned long long)mem->token_bytes, tg->median, gen_gbs);
    bench_triad tr;
    if (bench_triad_run(t, (int)o->triad_reps, (uint64_t)o->triad_mib << 20, &tr, err) != 0)
        return -1;
    printf("triad       t=%-3d %.2f GB/s (best of %d; median %.2f; 3 x %s arrays)\n", t,
           tr.best_gbs, tr.reps, tr.median_gbs, lp_size_format(tr.array_bytes, b, sizeof b));
    /* Weights that fit the L3 stay there from token to token: then the
     * figure is cache bandwidth, and may pass the triad's. */
    const uint64_t l3 = lp_cpu_cache_bytes(3);
    if (tg)
        printf("bandwidth   t=%-3d generation %.2f GB/s = %.0f %% of the triad's %.2f GB/s%s\n",
               t, gen_gbs, 100.0 * gen_gbs / tr.best_gbs, tr.best_gbs,
               mem->token_bytes <= l3 ? " (the weights fit in the L3: a cache figure)" : "");
    fflush(stdout);
    return 0;
}

static lp_shard *open_model(const node_opts *o, int t, lp_err *err)
{
    lp_shard_opts so;
    lp_shard_opts_default(&so);
    so.n_threads = t;
    so.isa = o->isa;
    so.attn = o->attn;
    so.n_batch = (int)o->n_batch;
    so.n_ctx = (int)(o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen) + 1;
    return lp_shard_open(o->model, &so, err);
}

/* pp and tg at t threads, then the bandwidth lines; *gen_out for later
 * comparison with llama.cpp. */
static int bench_threads(const node_opts *o, int t, bench_stats *pp, bench_stats *tg,
                         lp_err *err)
{
    lp_shard *s = open_model(o, t, err);
    lp_shard_mem mem;
    lp_proc_mem pm;
    char line[256];
    int rc = s && lp_shard_mem_of(s, &mem, err) == 0 ? 0 : -1;
    if (rc == 0)
        printf("load        t=%-3d %s [%s]\n", t,
               lp_shard_mem_line(&mem, lp_proc_mem_read(0, &pm) == 0 ? &pm : NULL, line,
                                 sizeof line),
               lp_isa_name(s->kernels.isa));
    if (rc == 0 && o->n_prompt > 0 &&
        (rc = bench_time_tokens(s, false, (int)o->n_prompt, (int)o->reps, 0, pp, err)) == 0)
        print_test("", false, o->n_prompt, t, pp);
    if (rc == 0 && o->n_gen > 0 &&
        (rc = bench_time_tokens(s, true, (int)o->n_gen, (int)o->reps, (int)o->idle_ms, tg,
                                err)) == 0) {
        print_test("", true, o->n_gen, t, tg);
        if (o->idle_ms > 0)
            printf("idle        t=%-3d %ld ms asleep after each token, not counted above\n", t,
                   o->idle_ms);
    }
    if (rc == 0 && lp_proc_mem_read(0, &pm) == 0)
        printf("rss         t=%-3d %s after the runs\n", t,
               lp_shard_mem_line(&mem, &pm, line, sizeof line));
    fflush(stdout);
    lp_shard_close(s); /* the triad wants the memory and the cores */
    if (rc == 0)
        rc = print_bandwidth(&mem, o->n_gen > 0 ? tg : NULL, t, o, err);
    return rc;
}

static void compare(const char *who, bool gen, long n, int t, const bench_stats *ours,
                    const bench_llama_row *r)
{
    if (!r) {
        printf("%s%s%ld t=%d: no figure\n", who, gen ? "tg" : "pp", n, t);
        return;
    }
    print_test(who, gen, n, t, &r->st);
    printf("ratio       t=%-3d %s%ld ours/llama.cpp %.2f\n", t, gen ? "tg" : "pp", n,
           r->st.median > 0 ? ours->median / r->st.median : 0.0);
}

static int llama_bench(const node_opts *o, const bench_stats *pp, const bench_stats *tg,
                       lp_err *err)
{
    const char *exe = getenv("LLAMA_BENCH");
    if (!exe || !*exe || access(exe, X_OK) != 0) {
        printf("llama.cpp:  not run (set LLAMA_BENCH=/path/to/llama-bench to compare)\n");
        return 0;
    }
    bench_llama lb;
    printf("llama.cpp:  %s -m %s -p %ld -n %ld -r %ld -o json -fa %d -ctk %s -ctv %s\n", exe,
           o->model, o->n_prompt, o->n_gen, o->reps, o->attn.flash,
           lp_kv_type_name(o->attn.type_k), lp_kv_type_name(o->attn.type_v));
    fflush(stdout);
    if (bench_llama_run(exe, o->model, (int)o->n_prompt, (int)o->n_gen, o->threads,
                        o->n_threads, (int)o->reps, &o->attn, &lb, err) != 0)
        return -1;
    for (int i = 0; i < o->n_threads; i++) {
        const int t = o->threads[i];
        if (o->n_prompt > 0)
            compare("llama.cpp ", false, o->n_prompt, t, &pp[i],
                    bench_llama_find(&lb, t, (int)o->n_prompt, 0));
        if (o->n_gen > 0)
            compare("llama.cpp ", true, o->n_gen, t, &tg[i],
                    bench_llama_find(&lb, t, 0, (int)o->n_gen));
    }
    return 0;
}

int cmd_bench_node(int argc, char **argv)
{
    node_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    print_machine(&o);
    lp_err err = {0};
    bench_stats pp[MAX_THREAD_COUNTS] = {0}, tg[MAX_THREAD_COUNTS] = {0};
    for (int i = 0; i < o.n_threads; i++)
        if (bench_threads(&o, o.threads[i], &pp[i], &tg[i], &err) != 0) {
            fprintf(stderr, "coord bench-node: %s\n", err.msg);
            return 1;
        }
    if (llama_bench(&o, pp, tg, &err) != 0) {
        fprintf(stderr, "coord bench-node: %s\n", err.msg);
        return 1;
    }
    return 0;
}
