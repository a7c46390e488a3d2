/* cmd_bench_pool.c — `coord bench-pool`: how fast a pool of N workers runs
 * a model over links of home-network speeds, and whether the network is
 * the bottleneck.
 *
 * Every worker runs in a network namespace of its own, joined to ours by
 * a veth pair on one bridge (lab.h), so every hop crosses a real link; the
 * links are capped with tc's token bucket filter (lab_rate). Without root
 * the workers run on 127.0.0.1 and only the unlimited link is measured
 * (said so). The namespaces, links and workers go with this process, also
 * on Ctrl-C or a crash (lab.h, local_workers.h).
 *
 * Sweep: shard counts (workers x -t threads) > wire dtypes > link speeds >
 * sessions in flight; each point measured by bpool_point.c and printed
 * with the pipeline model's figures (pipe_model.h) beside it; CSV, JSON
 * and charts at the end (bpool_out.h). With LLAMA_RPC_SERVER and
 * LLAMA_BENCH set, llama.cpp's RPC backend runs the same shard counts and
 * links (one session) in the same run. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "bpool_out.h"
#include "bpool_point.h"
#include "bpool_predict.h"
#include "bpool_rpc.h"
#include "commands.h"
#include "config.h"
#include "lab.h"
#include "local_workers.h"
#include "sysinfo.h"

enum { MAX_LIST = 8, MAX_ROWS = 1024 };

typedef struct link_speed {
    const char *name;
    double bits_per_s;
} link_speed;

static const link_speed LINKS[] = {
    {"unlimited", 0}, {"10gbit", 10e9}, {"2.5gbit", 2.5e9},
    {"1gbit", 1e9},   {"300mbit", 300e6}, {"100mbit", 100e6},
};
enum { N_LINKS = sizeof LINKS / sizeof LINKS[0] };

typedef struct bp_opts {
    const char *model, *out_dir;
    int shards[MAX_LIST], n_shards;
    int sessions[MAX_LIST], n_sessions;
    int links[N_LINKS], n_links;        /* indexes into LINKS */
    lp_config_dtype dtypes[4];
    int n_dtypes;
    long threads, n_prompt, n_gen, reps, chunk;
    bool loopback;
} bp_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord bench-pool -m MODEL [options]\n"
            "  --shards N,..     worker counts (default 1,2,3; at most %d with links)\n"
            "  -t N              threads per worker (default 1)\n"
            "  --links L,..      unlimited,10gbit,2.5gbit,1gbit,300mbit,100mbit (default all)\n"
            "  --dtypes D,..     hidden states on the wire: f32,f16,bf16,q8_0 (default f32)\n"
            "  --sessions S,..   sessions in flight (default 1,4)\n"
            "  -p N              prompt tokens for prompt tok/s (default 512; 0 skips)\n"
            "  -n N              tokens each session decodes (default 32)\n"
            "  -r N              runs per point (default 3)\n"
            "  -b N|auto         prompt tokens per step; auto (default): the pool\n"
            "                    chooses from the compute it has measured\n"
            "  -o DIR            CSV, JSON and charts go here (default bench-pool-out)\n"
            "  --loopback        workers on 127.0.0.1, no namespaces (no link caps)\n"
            "  --replot DIR      only render DIR's charts again from its .dat files\n"
            "  --predict         only print the pipeline model's figures for Llama 3 70B\n"
            "                    on home machines (its assumptions in the table)\n"
            "Links need root (network namespaces, tc); without it: --loopback.\n"
            "env LLAMA_RPC_SERVER, LLAMA_BENCH: llama.cpp's rpc-server and llama-bench,\n"
            "run on the same shard counts and links, one session, side by side.\n",
            LP_LAB_MAX);
}

/* -b: a count, or auto (0). */
static int arg_chunk(const char *v, long *out)
{
    *out = 0;
    return strcmp(v, "auto") ? arg_int("-b", v, 1, 4096, out) : 0;
}

static int int_list(const char *opt, const char *v, int lo, int hi, int *out, int *n)
{
    int32_t *l;
    int k;
    if (arg_int_list(opt, v, &l, &k) != 0)
        return -1;
    int rc = k >= 1 && k <= MAX_LIST ? 0 : -1;
    for (int i = 0; rc == 0 && i < k; i++)
        rc = l[i] >= lo && l[i] <= hi ? (out[i] = l[i], 0) : -1;
    free(l);
    if (rc)
        fprintf(stderr, "coord bench-pool: %s wants 1 to %d values in %d..%d\n", opt, MAX_LIST,
                lo, hi);
    *n = rc ? 0 : k;
    return rc;
}

/* "a,b,c" matched against names: indexes into out. */
static int name_list(const char *opt, const char *v, const char *const *names, int n_names,
                     int *out, int *n)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < n_names && strcmp(names[k], t) != 0)
            k++;
        if (k == n_names || *n == n_names) {
            fprintf(stderr, "coord bench-pool: %s: unknown '%s'\n", opt, t);
            return -1;
        }
        out[(*n)++] = k;
    }
    return *n ? 0 : (fprintf(stderr, "coord bench-pool: %s: empty\n", opt), -1);
}

static int parse(int argc, char **argv, bp_opts *o)
{
    *o = (bp_opts){.out_dir = "bench-pool-out", .shards = {1, 2, 3}, .n_shards = 3,
                   .sessions = {1, 4}, .n_sessions = 2, .n_links = N_LINKS, .n_dtypes = 1,
                   .threads = 1, .n_prompt = 512, .n_gen = 32, .reps = 3, .chunk = 0};
    for (int i = 0; i < N_LINKS; i++)
        o->links[i] = i;
    const char *link_names[N_LINKS], *dt_names[4] = {"f32", "f16", "bf16", "q8_0"};
    for (int i = 0; i < N_LINKS; i++)
        link_names[i] = LINKS[i].name;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout), 1;
        if (!strcmp(a, "--loopback")) {
            o->loopback = true;
            continue;
        }
        if (!strcmp(a, "--predict"))
            return bpool_predict_70b(stdout), 1;
        if (!(v = arg_next(argc, argv, &i)))
            return -1;
        if (!strcmp(a, "--replot")) {
            lp_err err = {0};
            if (bpool_out_replot(v, &err) != 0)
                return fprintf(stderr, "coord bench-pool: %s\n", err.msg), -1;
            return 1;
        }
        int dt[4], rc;
        rc = !strcmp(a, "-m")           ? (o->model = v, 0)
           : !strcmp(a, "-o")           ? (o->out_dir = v, 0)
           : !strcmp(a, "--shards")     ? int_list(a, v, 1, LP_LOCAL_MAX, o->shards, &o->n_shards)
           : !strcmp(a, "--sessions")   ? int_list(a, v, 1, 64, o->sessions, &o->n_sessions)
           : !strcmp(a, "--links")      ? name_list(a, v, link_names, N_LINKS, o->links, &o->n_links)
           : !strcmp(a, "--dtypes")     ? name_list(a, v, dt_names, 4, dt, &o->n_dtypes)
           : !strcmp(a, "-t")           ? arg_int(a, v, 1, 256, &o->threads)
           : !strcmp(a, "-p")           ? arg_int(a, v, 0, 8192, &o->n_prompt)
           : !strcmp(a, "-n")           ? arg_int(a, v, 2, 8192, &o->n_gen)
           : !strcmp(a, "-r")           ? arg_int(a, v, 1, 100, &o->reps)
           : !strcmp(a, "-b")           ? arg_chunk(v, &o->chunk)
           : (fprintf(stderr, "coord bench-pool: unknown option '%s'\n", a), -1);
        if (rc != 0)
            return -1;
        if (!strcmp(a, "--dtypes"))
            for (int k = 0; k < o->n_dtypes; k++)
                o->dtypes[k] = (lp_config_dtype)dt[k];
    }
    if (!o->model)
        return fprintf(stderr, "coord bench-pool: -m MODEL is required\n"), -1;
    return 0;
}

static int max_of(const int *v, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* The sweep's state; rows are appended as points are measured. */
typedef struct bp_run {
    const bp_opts *o;
    lp_lab lab;
    bool lab_on;
    char model[PATH_MAX];
    char machine[512];
    bpool_row rows[MAX_ROWS];
    int n_rows;
    double pp1[4]; /* prompt tok/s of one worker, unlimited, per dtype */
} bp_run;

static void describe_machine(bp_run *b)
{
    char cpu[256];
    lp_cpu_name(cpu, sizeof cpu);
    snprintf(b->machine, sizeof b->machine, "%s, %d CPUs; %s x %ld thread(s)", cpu,
             lp_cpu_usable(), b->lab_on ? "workers in network namespaces on veth links"
                                        : "workers on 127.0.0.1 (no link caps)",
             b->o->threads);
}

static int pool_up(bp_run *b, coord_pool *pool, const lp_local_workers *lw, int n,
                   lp_config_dtype dt, lp_err *err)
{
    const bp_opts *o = b->o;
    char text[8192], chunk_text[24] = "auto";
    if (o->chunk > 0)
        snprintf(chunk_text, sizeof chunk_text, "%ld", o->chunk);
    int len = snprintf(text, sizeof text,
                       "[model]\npath = %s\nctx = %ld\nsessions = %d\nbatch = %ld\n"
                       "prompt_chunk = %s\nthreads = %ld\nwire_dtype = %s\n"
                       "[server]\ninsecure = true\nallow_insecure_remote = true\n",
                       b->model, o->n_prompt + o->n_gen + 32, max_of(o->sessions, o->n_sessions),
                       o->chunk > 256 ? o->chunk : 256, chunk_text, o->threads,
                       lp_config_dtype_name(dt));
    for (int i = 0; i < n && len < (int)sizeof text; i++)
        len += snprintf(text + len, sizeof text - (size_t)len,
                        "[worker.w%d]\nendpoint = %s\nmem = 64G\nmodel_path = %s\n", i,
                        lw->control[i], b->model);
    lp_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return lp_err_set(err, "out of memory");
    if (lp_config_parse(text, strlen(text), "bench-pool", ".", cfg, err) != 0) {
        free(cfg);
        return -1;
    }
    return coord_pool_up(pool, cfg, (int)o->threads, err);
}

/* The model's figures for a row, from the same shard count and dtype on
 * the unlimited link, one session (its compute, latency, bytes), and the
 * prompt speed of one worker split over the stages by their layers. */
static void predict(bp_run *b, bpool_row *row, const coord_pool *pool, int dt)
{
    const bpool_row *base = NULL;
    for (int i = 0; i < b->n_rows && !base; i++) {
        const bpool_row *r = &b->rows[i];
        if (!strcmp(r->engine, "layerpool") && r->shards == row->shards && r->sessions == 1 &&
            !strcmp(r->dtype, row->dtype) && r->bits_per_s == 0)
            base = r;
    }
    if (!base || base->r.tg_session.median <= 0)
        return;
    lp_pipe_model m = {.n = row->shards, .hop_bytes = base->r.hop_bytes,
                       .result_bytes = base->r.result_bytes, .in_bytes = 40,
                       .bits_per_s = row->bits_per_s};
    double sum = 0;
    int n_layers = pool->hp.n_layer;
    for (int i = 0; i < m.n; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(pool->cl, i);
        m.stage_ms[i] = base->r.stage_ms[i];
        sum += m.stage_ms[i];
        double share = n_layers ? (double)(w->last - w->first) / n_layers : 1.0 / m.n;
        m.prompt_ms[i] = b->pp1[dt] > 0 ? 1e3 / b->pp1[dt] * share : 0;
    }
    double step = 1e3 / base->r.tg_session.median;
    m.latency_ms = step > sum ? (step - sum) / (m.n + 1) : 0;
    lp_pipe_predict(&m, row->sessions, (int)b->o->n_prompt, row->r.prompt_chunk, &row->pred);
    if (b->pp1[dt] <= 0)
        row->pred.pp = 0; /* no one-worker prompt speed to split: no prediction */
    row->has_pred = true;
}

static bpool_row *new_row(bp_run *b, const char *engine, int n, int link, const char *dtype,
                          int sessions, lp_err *err)
{
    if (b->n_rows == MAX_ROWS) {
        lp_err_set(err, "more than %d points: sweep fewer at once", MAX_ROWS);
        return NULL;
    }
    bpool_row *row = &b->rows[b->n_rows++];
    *row = (bpool_row){.engine = engine, .shards = n, .threads = (int)b->o->threads,
                       .sessions = sessions, .bits_per_s = LINKS[link].bits_per_s};
    snprintf(row->link, sizeof row->link, "%s", LINKS[link].name);
    snprintf(row->dtype, sizeof row->dtype, "%s", dtype);
    return row;
}

/* Cap the first n hosts' links to LINKS[link]: 0; 1 when that needs the
 * lab and there is none (the point is skipped); -1 with err. */
static int use_link(bp_run *b, int n, int link, lp_err *err)
{
    if (!b->lab_on)
        return LINKS[link].bits_per_s > 0;
    for (int i = 0; i < n; i++)
        if (lp_lab_rate(&b->lab, i, (uint64_t)LINKS[link].bits_per_s) != 0)
            return lp_err_set(err, "cannot cap the links (tc)");
    return 0;
}

/* Every link and session count of one pool. */
static int sweep_pool(bp_run *b, coord_pool *pool, int n, lp_config_dtype dt, lp_err *err)
{
    const bp_opts *o = b->o;
    for (int l = 0; l < o->n_links; l++) {
        const int link = o->links[l], use = use_link(b, n, link, err);
        if (use < 0)
            return -1;
        for (int s = 0; use == 0 && s < o->n_sessions; s++) {
            fprintf(stderr, "bench-pool: %d shard(s), %s, %s, %d session(s) ...\n", n,
                    LINKS[link].name, lp_config_dtype_name(dt), o->sessions[s]);
            bpool_row *row = new_row(b, "layerpool", n, link, lp_config_dtype_name(dt),
                                     o->sessions[s], err);
            bpool_point_opts po = {.sessions = o->sessions[s], .n_gen = (int)o->n_gen,
                                   .reps = (int)o->reps,
                                   .n_prompt = o->sessions[s] == 1 ? (int)o->n_prompt : 0};
            if (!row || bpool_point_run(pool, &po, &row->r, err) != 0)
                return -1;
            if (n == 1 && link == 0 && o->sessions[s] == 1)
                b->pp1[dt] = row->r.pp.median;
            predict(b, row, pool, (int)dt);
            bpool_out_row(stdout, row);
        }
    }
    return use_link(b, n, 0, err);
}

static int sweep_shards(bp_run *b, int n, lp_err *err)
{
    const bp_opts *o = b->o;
    lp_local_workers lw;
    int netns[LP_LAB_MAX];
    char listen[LP_LAB_MAX][64];
    const char *lp[LP_LAB_MAX];
    for (int i = 0; b->lab_on && i < n; i++) {
        netns[i] = b->lab.netns[i];
        snprintf(listen[i], sizeof listen[i], "tcp://%s:5555", b->lab.addr[i]);
        lp[i] = listen[i];
    }
    if (lp_local_workers_start_in(&lw, n, (int)o->threads, NULL, b->model, b->lab_on ? netns : NULL,
                                  b->lab_on ? lp : NULL, false, err) != 0)
        return -1;
    int rc = 0;
    for (int d = 0; rc == 0 && d < o->n_dtypes; d++) {
        coord_pool pool;
        rc = pool_up(b, &pool, &lw, n, o->dtypes[d], err);
        if (rc == 0)
            rc = sweep_pool(b, &pool, n, o->dtypes[d], err);
        if (d + 1 == o->n_dtypes && pool.cl)
            lp_cluster_shutdown_workers(pool.cl);
        coord_pool_down(&pool);
    }
    lp_local_workers_stop(&lw);
    return rc;
}

/* llama.cpp's RPC backend on the same hosts and links: one session. */
static int sweep_rpc(bp_run *b, int n, lp_err *err)
{
    const bp_opts *o = b->o;
    const char *server = getenv("LLAMA_RPC_SERVER"), *bench = getenv("LLAMA_BENCH");
    if (!server || !*server || !bench || !*bench)
        return 0;
    bpool_rpc rpc;
    if (bpool_rpc_start(&rpc, server, b->lab_on ? &b->lab : NULL, n, (int)o->threads, err) != 0)
        return -1;
    int rc = 0;
    for (int l = 0; rc == 0 && l < o->n_links; l++) {
        const int link = o->links[l];
        if ((rc = use_link(b, n, link, err)) != 0) {
            rc = rc > 0 ? 0 : rc; /* a cap without the lab: skipped */
            continue;
        }
        fprintf(stderr, "bench-pool: llama.cpp RPC, %d server(s), %s ...\n", n, LINKS[link].name);
        bpool_row *row = new_row(b, "llama.cpp-rpc", n, link, "f32", 1, err);
        if (!row || bpool_rpc_bench(&rpc, bench, b->model, (int)o->n_prompt, (int)o->n_gen,
                                    (int)o->threads, (int)o->reps, &row->r.pp,
                                    &row->r.tg_session, err) != 0) {
            rc = -1;
        } else {
            row->r.tg_total = row->r.tg_session;
            bpool_out_row(stdout, row);
        }
    }
    bpool_rpc_stop(&rpc);
    return rc ? rc : use_link(b, n, 0, err);
}

int cmd_bench_pool(int argc, char **argv)
{
    bp_opts o;
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc > 0 ? 0 : (usage(stderr), 2);
    bp_run *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    b->o = &o;
    lp_err err = {0};
    int rc = 0;
    if (!realpath(o.model, b->model))
        rc = lp_err_set(&err, "cannot open %s", o.model);
    if (rc == 0 && !o.loopback) {
        int lab = lp_lab_open(&b->lab, max_of(o.shards, o.n_shards), LP_LAB_SWITCH);
        if (lab < 0)
            rc = lp_err_set(&err, "could not build the lab of namespaces");
        else if (lab > 0)
            fprintf(stderr, "bench-pool: no link emulation here (above): workers on 127.0.0.1, "
                            "unlimited link only\n");
        b->lab_on = lab == 0;
        if (b->lab_on && max_of(o.shards, o.n_shards) > LP_LAB_MAX)
            rc = lp_err_set(&err, "--shards: at most %d with links", LP_LAB_MAX);
    }
    describe_machine(b);
    if (rc == 0 && mkdir(o.out_dir, 0755) != 0 && access(o.out_dir, W_OK) != 0)
        rc = lp_err_set(&err, "cannot write to %s", o.out_dir);
    if (rc == 0) {
        printf("model:   %s\nmachine: %s\n", b->model, b->machine);
        bpool_out_header(stdout);
    }
    for (int i = 0; rc == 0 && i < o.n_shards; i++)
        rc = sweep_shards(b, o.shards[i], &err) || sweep_rpc(b, o.shards[i], &err) ? -1 : 0;
    if (b->n_rows && bpool_out_files(o.out_dir, b->rows, b->n_rows, b->machine, b->model,
                                     rc ? NULL : &err) != 0)
        rc = -1;
    if (rc == 0)
        fprintf(stderr, "bench-pool: %d points; CSV, JSON and charts in %s\n", b->n_rows,
                o.out_dir);
    else
        fprintf(stderr, "coord bench-pool: %s\n", err.msg);
    if (b->lab_on)
        lp_lab_close(&b->lab);
    free(b);
    return rc ? 1 : 0;
}
