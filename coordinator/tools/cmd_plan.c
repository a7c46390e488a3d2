/* coord plan — which layers each worker would hold, and whether the model
 * fits the pool at all, from the GGUF header alone (nothing is loaded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "config_plan.h"
#include "plan_live.h"
#include "plan.h"
#include "synth_plan.h"
#include "size.h"
#include "synth.h"

typedef struct plan_args {
    const char *model, *config, *shape, *type, *mem, *speed;
    long ctx, sessions, batch, threads; /* -1: not given */
    uint64_t reserve;
    bool has_reserve;
    bool live; /* --live: ask the config's workers */
} plan_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord plan -m MODEL --workers-mem 16G,16G,32G [options]\n"
            "       coord plan --config FILE [options]\n"
            "       coord plan --shape NAME[:TYPE] (--workers-mem ... | --config FILE)\n"
            "\n"
            "Plans which contiguous layers each worker holds (each worker a share of a\n"
            "token's cost, the bytes it reads, in proportion to its speed; never over\n"
            "its memory) from the model's header, and prints it, or\n"
            "says how much memory is missing (exit status 1).\n"
            "\n"
            "  -m MODEL               the GGUF file\n"
            "  --config FILE          a cluster file (configs/*.ini): its model, workers,\n"
            "                         budgets, speeds, context and sessions\n"
            "  --live                 with --config: plan for the workers that answer now,\n"
            "                         with the memory and speed they report\n"
            "  --shape NAME[:TYPE]    a model that is not here: a coord synth shape at a\n"
            "                         file type (below; default %s), planned from the\n"
            "                         tensors that file would have; llama70b-q4_k_m is\n"
            "                         llama3-70b:Q4_K_M (with --config: instead of the\n"
            "                         config's model)\n"
            "  --type TYPE            the shape's file type (or NAME:TYPE)\n"
            "  --workers-mem LIST     each worker's budget: 16G,16G,32G (K/M/G/T are\n"
            "                         1024-based)\n"
            "  --workers-speed LIST   relative speeds: 1,1,2 (default all 1)\n"
            "  -c, --ctx N            positions per session (default: the config's, else\n"
            "                         the model's training context, at most 4096)\n"
            "  --sessions N           sessions held at once (default 1)\n"
            "  -b, --batch N          tokens per forward step (default 256)\n"
            "  -t, --threads N        threads per worker (default 16)\n"
            "  --reserve SIZE         kept for each worker process itself (default 128M)\n",
            lp_ftype_name(LP_SYNTH_DEFAULT_FTYPE));
    fprintf(f, "\nshapes:\n");
    lp_synth_list_shapes(f);
}

/* "16G,16G,32G" -> budgets; "1,1,2" -> speeds. Counts must agree. */
static int parse_list(const char *opt, const char *s, bool sizes, lp_plan_worker *w, int *n)
{
    char buf[4096];
    if (strlen(s) >= sizeof buf) {
        fprintf(stderr, "coord: %s: list too long\n", opt);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", s);
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), k++) {
        if (k == LP_PLAN_MAX_WORKERS) {
            fprintf(stderr, "coord: %s: more than %d workers\n", opt, LP_PLAN_MAX_WORKERS);
            return -1;
        }
        if (sizes) {
            if (lp_size_parse(tok, &w[k].budget) != 0 || w[k].budget == 0) {
                fprintf(stderr, "coord: %s: '%s' is not a size above 0 (e.g. 16G, 512M; "
                        "K/M/G/T are 1024-based)\n", opt, tok);
                return -1;
            }
        } else {
            double v;
            if (arg_float(opt, tok, 1e-9, 1e12, &v) != 0)
                return -1;
            w[k].speed = v;
        }
    }
    if (k == 0 || (!sizes && k != *n)) {
        fprintf(stderr, "coord: %s: expected %d values\n", opt, k == 0 ? 1 : *n);
        return -1;
    }
    *n = k;
    return 0;
}

static int parse_args(int argc, char **argv, plan_args *a)
{
    *a = (plan_args){.ctx = -1, .sessions = -1, .batch = -1, .threads = -1};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(o, "--live")) {
            a->live = true;
            continue;
        }
        if (!(v = arg_next(argc, argv, &i)))
            return -1;
        int rc = 0;
        if (!strcmp(o, "-m") || !strcmp(o, "--model"))
            a->model = v;
        else if (!strcmp(o, "--config"))
            a->config = v;
        else if (!strcmp(o, "--shape"))
            a->shape = v;
        else if (!strcmp(o, "--type"))
            a->type = v;
        else if (!strcmp(o, "--workers-mem"))
            a->mem = v;
        else if (!strcmp(o, "--workers-speed"))
            a->speed = v;
        else if (!strcmp(o, "-c") || !strcmp(o, "--ctx"))
            rc = arg_int(o, v, 1, 1 << 24, &a->ctx);
        else if (!strcmp(o, "--sessions"))
            rc = arg_int(o, v, 1, 4096, &a->sessions);
        else if (!strcmp(o, "-b") || !strcmp(o, "--batch"))
            rc = arg_int(o, v, 1, 65536, &a->batch);
        else if (!strcmp(o, "-t") || !strcmp(o, "--threads"))
            rc = arg_int(o, v, 1, 1024, &a->threads);
        else if (!strcmp(o, "--reserve")) {
            a->has_reserve = true;
            if (lp_size_parse(v, &a->reserve) != 0) {
                fprintf(stderr, "coord: --reserve: '%s' is not a size\n", v);
                rc = -1;
            }
        } else {
            fprintf(stderr, "coord: plan: unknown option '%s'\n", o);
            rc = -1;
        }
        if (rc)
            return -1;
    }
    /* -m or --shape may stand in for a config's model (as `coord serve
     * --model` does, or to plan before downloading). */
    int sources = !!a->config + (a->config ? 0 : !!a->model + !!a->shape);
    if (sources != 1 || (!a->config && !a->mem) || (a->config && (a->mem || a->speed)) ||
        (a->model && a->shape)) {
        fprintf(stderr, "coord: plan: give -m MODEL or --shape NAME with --workers-mem, or "
                "--config FILE (optionally with -m or --shape)\n");
        return -1;
    }
    if (a->type && !a->shape) {
        fprintf(stderr, "coord: plan: --type goes with --shape (a GGUF has its own)\n");
        return -1;
    }
    return 0;
}

/* 0; 2 for a shape or type that does not exist (a usage error, as a bad
 * size is); 1 for a model that cannot be read. `what` names the model in
 * the table's title. */
static int load_model(const plan_args *a, const lp_config *cfg, lp_plan_model *m, char *what,
                      size_t cap)
{
    lp_err err = {{0}};
    int rc;
    if (a->shape) {
        lp_synth_spec shape;
        if (lp_synth_spec_parse(a->shape, a->type, &shape, &err) != 0) {
            fprintf(stderr, "coord: %s\n", err.msg);
            return 2;
        }
        snprintf(what, cap, "%s:%s", shape.name, lp_ftype_name(shape.ftype));
        rc = lp_synth_plan_model(&shape, m, &err);
    } else {
        snprintf(what, cap, "%s", a->model ? a->model : cfg->model_path);
        rc = lp_plan_model_open(a->model ? a->model : cfg->model_path, m, &err);
    }
    if (rc != 0)
        fprintf(stderr, "coord: plan: %s\n", err.msg);
    return rc ? 1 : 0;
}

static void apply_overrides(const plan_args *a, lp_plan_opts *o)
{
    if (a->ctx > 0)
        o->n_ctx = (int)a->ctx;
    if (a->sessions > 0)
        o->n_sessions = (int)a->sessions;
    if (a->batch > 0)
        o->n_batch = (int)a->batch;
    if (a->threads > 0)
        o->n_threads = (int)a->threads;
    if (a->has_reserve)
        o->reserve = a->reserve;
}

static int run_plan(const plan_args *a, const lp_config *cfg, const lp_plan_model *m,
                    const char *what)
{
    lp_plan_worker w[LP_PLAN_MAX_WORKERS];
    const char *names[LP_PLAN_MAX_WORKERS] = {0};
    plan_route routes[LP_PLAN_MAX_WORKERS];
    int n = 0;
    lp_plan_opts o;
    if (cfg && a->live) {
        lp_err lerr = {{0}};
        if ((n = plan_live_workers(cfg, w, names, routes, &lerr)) <= 0) {
            fprintf(stderr, "coord: %s\n", n < 0 ? lerr.msg : "plan: no worker answered");
            return 1;
        }
        lp_config_plan_opts(cfg, m, &o);
    } else if (cfg) {
        n = lp_config_plan_workers(cfg, w, names);
        lp_config_plan_opts(cfg, m, &o);
    } else {
        lp_config_plan_opts(&(lp_config){.sessions = 1, .batch = 256}, m, &o);
        if (parse_list("--workers-mem", a->mem, true, w, &n) != 0)
            return 2;
        for (int i = 0; i < n; i++)
            w[i].speed = 1.0;
        if (a->speed && parse_list("--workers-speed", a->speed, false, w, &n) != 0)
            return 2;
    }
    apply_overrides(a, &o);
    lp_plan_shard plan[LP_PLAN_MAX_WORKERS];
    lp_err err = {{0}};
    int rc = lp_plan_make(m, w, n, &o, plan, &err);
    if (rc == -1) {
        fprintf(stderr, "coord: %s\n", err.msg);
        return 1;
    }
    printf("plan for %s over %d worker%s\n", what, n, n > 1 ? "s" : "");
    lp_plan_print(stdout, m, w, cfg ? names : NULL, plan, n, &o);
    if (cfg && a->live)
        plan_live_print_routes(stdout, names, routes, n, cfg->advertise);
    if (rc == LP_PLAN_NO_FIT) {
        printf("\nthe table shows the split by speed; it does not fit\n");
        fflush(stdout);
        fprintf(stderr, "coord: plan: %s\n", err.msg);
        return 1;
    }
    printf("\nfits: every worker within its budget\n");
    return 0;
}

int cmd_plan(int argc, char **argv)
{
    plan_args a;
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        return 2;
    }
    lp_config *cfg = NULL;
    if (a.config) {
        lp_err err = {{0}};
        cfg = malloc(sizeof *cfg);
        if (!cfg || lp_config_load(a.config, cfg, &err) != 0) {
            fprintf(stderr, "coord: %s\n", cfg ? err.msg : "out of memory");
            free(cfg);
            return 1;
        }
    }
    lp_plan_model m;
    char what[LP_CONFIG_PATH_MAX + 64];
    int rc = load_model(&a, cfg, &m, what, sizeof what);
    if (rc == 0) {
        rc = run_plan(&a, cfg, &m, what);
        lp_plan_model_free(&m);
    }
    free(cfg);
    return rc;
}
