/* ppl_opts.c — the command line of `coord perplexity`. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "sysinfo.h"
#include "ppl.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord perplexity -m MODEL -f TEXT [options]\n"
            "  perplexity of MODEL over the text, as llama-perplexity computes it: the\n"
            "  tokens (with BOS) cut into windows of CTX, the second half of each scored\n"
            "  -c CTX             window size, even (default 512)\n"
            "  -b N               tokens per forward step (default 512, llama.cpp's\n"
            "                     micro-batch; figures equal llama.cpp's for the same split)\n"
            "  -t T               threads (default: the physical cores we may use, shared\n"
            "                     among --local-workers)\n"
            "  --chunks N         score at most N windows (default: all)\n"
            "  --kl-base BASE     also the KL divergence from BASE (same vocabulary) to\n"
            "                     MODEL, the share of positions whose top token agrees, and\n"
            "                     PPL(MODEL)/PPL(BASE); BASE runs in this process\n"
            "  --local-workers N  run MODEL through a pipeline of N workers started here\n"
            "  --config FILE      run MODEL through the pool a cluster file describes\n"
            "                     (-m overrides its model; its ctx must hold a window)\n");
}

static int parse_int_opt(const char *a, const char *v, ppl_opts *o)
{
    const arg_int_opt in[] = {
        {"-c", &o->n_ctx, 1, 1 << 24},   {"-b", &o->n_batch, 1, 65536},
        {"-t", &o->n_threads, 1, 512},   {"--chunks", &o->n_windows, 1, 1 << 30},
        {"--local-workers", &o->local_workers, 1, 16},
    };
    return arg_int_table(in, sizeof in / sizeof in[0], a, v);
}

static int parse_one(int argc, char **argv, int *i, ppl_opts *o)
{
    const char *a = argv[*i];
    const char *v = arg_next(argc, argv, i);
    if (!v)
        return -1;
    struct { const char *name; const char **dst; } str[] = {
        {"-m", &o->model}, {"-f", &o->file}, {"--kl-base", &o->kl_base}, {"--config", &o->config},
    };
    for (size_t k = 0; k < sizeof str / sizeof str[0]; k++)
        if (!strcmp(a, str[k].name)) {
            *str[k].dst = v;
            return 0;
        }
    int rc = parse_int_opt(a, v, o);
    if (rc > 0)
        fprintf(stderr, "coord perplexity: unknown option %s (see --help)\n", a);
    return rc == 0 ? 0 : -1;
}

/* What the options say together. The window's upper bound (the model's
 * context) is checked once the model is open. */
static int check(const ppl_opts *o)
{
    const char *why = NULL;
    if (!o->file)
        why = "give the text to score with -f FILE";
    else if (!o->model && !o->config)
        why = "give -m MODEL (or --config FILE)";
    else if (o->config && o->local_workers)
        why = "give --config or --local-workers, not both";
    else if (o->n_ctx < 4 || o->n_ctx % 2)
        why = "-c must be an even number of at least 4 (the second half of each window "
              "is scored)";
    if (why)
        fprintf(stderr, "coord perplexity: %s\n", why);
    return why ? -1 : 0;
}

int ppl_opts_parse(int argc, char **argv, ppl_opts *o)
{
    *o = (ppl_opts){.n_ctx = 512, .n_batch = 512, .n_threads = 0};
    for (int i = 1; i < argc; i++) { /* argv[0] is the subcommand */
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 1;
        }
        if (parse_one(argc, argv, &i, o) != 0)
            return -1;
    }
    if (o->n_threads == 0)
        o->n_threads = lp_cpu_threads_each(o->local_workers);
    return check(o);
}
