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
#include "shard_split.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord split -m MODEL --plan RANGES -o DIR\n"
            "\n"
            "Writes DIR/<model>.shard-<i>-of-<n>.gguf (i from 1), one per layer range, a\n"
            "GGUF with the model's metadata and only the tensors of its layers.\n"
            "\n"
            "  -m, --model MODEL   the GGUF to split\n"
            "  --plan RANGES       half-open layer ranges, contiguous from 0 to the\n"
            "                      model's layer count, e.g. 0-11,11-22,22-32\n"
            "  -o, --out DIR       output directory (created if missing)\n");
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
    char hex[2 * LP_MODEL_ID_BYTES + 1];
    lp_model_id_hex(r->id, hex);
    printf("shard %d/%d  layers %d-%d%s%s  %.2f MiB  %.0f MB/s\n  id   %s\n  file %s\n", i + 1,
           n, r->first, r->last, r->has_embed ? "  +embed" : "", r->has_head ? "  +head" : "",
           r->size / 1048576.0, r->seconds > 0 ? r->size / 1e6 / r->seconds : 0.0, hex,
           r->path);
}

static int parse_args(int argc, char **argv, const char **model, const char **plan,
                      const char **out)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = !strcmp(a, "-m") || !strcmp(a, "--model") ? model
                           : !strcmp(a, "--plan")                     ? plan
                           : !strcmp(a, "-o") || !strcmp(a, "--out")  ? out
                                                                      : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!dst) {
            fprintf(stderr, "coord split: unknown option '%s'\n", a);
            return -1;
        }
        if (!(*dst = arg_next(argc, argv, &i)))
            return -1;
    }
    if (!*model || !*plan || !*out) {
        fprintf(stderr, "coord split: %s is required\n",
                !*model ? "-m MODEL" : !*plan ? "--plan RANGES" : "-o DIR");
        return -1;
    }
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
    const char *model = NULL, *plan = NULL, *out = NULL;
    int a = parse_args(argc, argv, &model, &plan, &out);
    if (a != 0) {
        if (a < 0)
            usage(stderr);
        return a < 0 ? 2 : 0;
    }
    lp_layer_range ranges[LP_SPLIT_MAX_SHARDS];
    int n = 0;
    lp_err err = {0};
    if (lp_split_parse_ranges(plan, ranges, LP_SPLIT_MAX_SHARDS, &n, &err) != 0) {
        fprintf(stderr, "coord: %s\n", err.msg);
        return 2;
    }
    if (check_plan(model, ranges, n) != 0)
        return 2;
    lp_split_result *results = calloc((size_t)n, sizeof *results);
    progress_state st = {.tty = isatty(STDERR_FILENO)};
    if (!results || lp_split_model(model, ranges, n, out, on_progress, &st, results, &err)) {
        fprintf(stderr, "coord: %s\n", results ? err.msg : "out of memory");
        free(results);
        return 1;
    }
    for (int i = 0; i < n; i++)
        print_result(&results[i], i, n);
    free(results);
    return 0;
}
