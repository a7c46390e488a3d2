/* coord split — cut a model into one GGUF per layer range, for workers
 * that do not have the model file (shard_split.h). Prints each shard's id,
 * which is what the coordinator sends and the workers cache it by. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "model_id.h"
#include "plan.h"
#include "shard_split.h"
#include "size.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord split -m MODEL (--plan RANGES | --workers-mem LIST) -o DIR\n"
            "\n"
            "Writes DIR/<model>.shard-<i>-of-<n>.gguf (i from 1), one per layer range, a\n"
            "GGUF with the model's metadata and only the tensors of its layers.\n"
            "\n"
            "  -m, --model MODEL     the GGUF to split\n"
            "  --plan RANGES         half-open layer ranges, contiguous from 0 to the\n"
            "                        model's layer count, e.g. 0-11,11-22,22-32\n"
            "  --workers-mem LIST    or: the ranges `coord plan` gives for workers with\n"
            "                        these budgets, e.g. 16G,16G,32G (equal speeds)\n"
            "  -c, --ctx N           with --workers-mem: positions per session (default:\n"
            "                        the model's training context, at most 4096)\n"
            "  --sessions N          with --workers-mem: sessions at once (default 1)\n"
            "  -o, --out DIR         output directory (created if missing)\n");
}

typedef struct progress_state {
    bool tty;
    double last_print; /* seconds into the shard of the last line */
} progress_state;

/* One line per shard, redrawn in place on a terminal; elsewhere (logs)
 * a line every few seconds and at the end. */
static void on_progress(const lp_split_progress *p, void *ctx)
{
    progress_state *st = ctx;
    bool end = p->done == p->total;
    if (p->done == 0 || (!end && !st->tty && p->seconds - st->last_print < 5.0))
        return;
    if (end || p->seconds < st->last_print)
        st->last_print = 0;
    else
        st->last_print = p->seconds;
    double mb = p->done / 1e6, rate = p->seconds > 0 ? mb / p->seconds : 0;
    fprintf(stderr, "%sshard %d/%d: %.1f / %.1f MB, %.0f MB/s%s", st->tty ? "\r" : "",
            p->index + 1, p->count, mb, p->total / 1e6, rate, end || !st->tty ? "\n" : "");
    fflush(stderr);
}

static void print_result(const lp_split_result *r, int i, int n)
{
    char hex[2 * LP_SHA256_BYTES + 1];
    lp_model_id_hex(r->id, hex);
    printf("shard %d/%d  layers %d-%d%s%s  %.2f MiB  %.0f MB/s\n  id   %s\n  file %s\n", i + 1,
           n, r->first, r->last, r->has_embed ? "  +embed" : "", r->has_head ? "  +head" : "",
           r->size / 1048576.0, r->seconds > 0 ? r->size / 1e6 / r->seconds : 0.0, hex,
           r->path);
}

typedef struct split_args {
    const char *model, *plan, *mem, *out;
    long ctx, sessions; /* 0: not given */
} split_args;

/* 0 to go on, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, split_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!(v = arg_next(argc, argv, &i)))
            return -1;
        int rc = 0;
        if (!strcmp(o, "-m") || !strcmp(o, "--model"))
            a->model = v;
        else if (!strcmp(o, "--plan"))
            a->plan = v;
        else if (!strcmp(o, "--workers-mem"))
            a->mem = v;
        else if (!strcmp(o, "-o") || !strcmp(o, "--out"))
            a->out = v;
        else if (!strcmp(o, "-c") || !strcmp(o, "--ctx"))
            rc = arg_int(o, v, 1, 1 << 24, &a->ctx);
        else if (!strcmp(o, "--sessions"))
            rc = arg_int(o, v, 1, 4096, &a->sessions);
        else {
            fprintf(stderr, "coord split: unknown option '%s'\n", o);
            rc = -1;
        }
        if (rc)
            return -1;
    }
    if (!a->model || !a->out || !a->plan == !a->mem) {
        fprintf(stderr, "coord split: %s\n",
                !a->model ? "-m MODEL is required" : !a->out ? "-o DIR is required"
                          : "give one of --plan RANGES and --workers-mem LIST");
        return -1;
    }
    return 0;
}

/* The planner's ranges for workers with these budgets (equal speeds), its
 * table to stderr. 0, 1 (a runtime failure: unreadable model, does not
 * fit), or 2 (usage). */
static int plan_ranges(const split_args *a, lp_layer_range *r, int *n)
{
    lp_plan_worker w[LP_PLAN_MAX_WORKERS];
    char buf[4096], *save = NULL;
    *n = 0;
    snprintf(buf, sizeof buf, "%s", a->mem);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == LP_PLAN_MAX_WORKERS || lp_size_parse(t, &w[*n].budget) || !w[*n].budget) {
            fprintf(stderr, "coord: --workers-mem: '%s' is not a size above 0 (e.g. 16G), or "
                    "more than %d workers\n", t, LP_PLAN_MAX_WORKERS);
            return 2;
        }
        w[(*n)++].speed = 1.0;
    }
    lp_plan_model m = {0};
    lp_plan_opts o;
    lp_plan_shard plan[LP_PLAN_MAX_WORKERS];
    lp_err err = {0};
    int rc = lp_plan_model_open(a->model, &m, &err);
    if (rc == 0) {
        lp_plan_opts_default(&o);
        o.n_ctx = a->ctx ? (int)a->ctx
                  : m.n_ctx_train > 0 && m.n_ctx_train < 4096 ? (int)m.n_ctx_train : 4096;
        o.n_sessions = a->sessions ? (int)a->sessions : 1;
        rc = lp_plan_make(&m, w, *n, &o, plan, &err);
        if (rc == 0 || rc == LP_PLAN_NO_FIT)
            lp_plan_print(stderr, &m, w, NULL, plan, *n, &o);
    }
    lp_plan_model_free(&m);
    if (rc != 0) {
        fprintf(stderr, "coord: %s\n", err.msg);
        return rc == -1 && *n == 0 ? 2 : 1;
    }
    for (int i = 0; i < *n; i++)
        r[i] = (lp_layer_range){plan[i].first, plan[i].last};
    return 0;
}

/* Ranges that do not fit the model are a usage error (exit 2), told
 * before anything is written; a model that cannot be read is not (1). */
static int check_plan(const char *model, const lp_layer_range *r, int n)
{
    lp_err err = {0};
    lp_hparams hp;
    lp_gguf *g = lp_gguf_open(model, &err);
    int rc = g && lp_hparams_read(g, &hp, &err) == 0 ? 0 : 1;
    if (rc == 0 && lp_split_check_ranges(r, n, hp.n_layer, &err) != 0)
        rc = -1;
    lp_gguf_close(g);
    if (rc < 0)
        fprintf(stderr, "coord: %s\n", err.msg);
    return rc < 0 ? -1 : 0; /* other failures: lp_split_model says why */
}

int cmd_split(int argc, char **argv)
{
    split_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        if (rc < 0)
            usage(stderr);
        return rc < 0 ? 2 : 0;
    }
    lp_layer_range ranges[LP_SPLIT_MAX_SHARDS];
    int n = 0;
    lp_err err = {0};
    if (a.mem) {
        if ((rc = plan_ranges(&a, ranges, &n)) != 0)
            return rc;
    } else if (lp_split_parse_ranges(a.plan, ranges, LP_SPLIT_MAX_SHARDS, &n, &err) != 0) {
        fprintf(stderr, "coord: %s\n", err.msg);
        return 2;
    }
    if (check_plan(a.model, ranges, n) != 0)
        return 2;
    lp_split_result *results = calloc((size_t)n, sizeof *results);
    progress_state st = {.tty = isatty(STDERR_FILENO)};
    if (!results || lp_split_model(a.model, ranges, n, a.out, on_progress, &st, results, &err)) {
        fprintf(stderr, "coord: %s\n", results ? err.msg : "out of memory");
        free(results);
        return 1;
    }
    for (int i = 0; i < n; i++)
        print_result(&results[i], i, n);
    free(results);
    return 0;
}
