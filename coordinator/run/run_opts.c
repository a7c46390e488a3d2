#include "run_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "sysinfo.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord run -m MODEL (-p TEXT | --tokens 1,2,3 | --chat) [options]\n"
            "  --chat             interactive chat: one line per user turn, streamed replies\n"
            "  --chat-template N  chatml, llama3, llama2, mistral-v7, phi3, zephyr, ...\n"
            "                     (default: detected from the model)\n"
            "  --system TEXT      system message for --chat\n"
            "  -p TEXT            the prompt; BOS is added if the model asks for it, so an\n"
            "                     empty TEXT generates from BOS alone (as llama-cli does)\n"
            "  -n N               tokens to generate (default 32)\n"
            "  -t T               threads (default: the physical cores we may use, shared\n"
            "                     out among --local-workers)\n"
            "  -c CTX             context size (default: the model's, at most 4096)\n"
            "  -b N               prompt tokens per forward step (default 256)\n"
            "  --ids              print generated token ids, comma-separated, one line\n"
            "  --temp X           temperature; 0 = greedy (default 0)\n"
            "  --top-k N          keep the N most likely tokens (default 40; 0 = off)\n"
            "  --top-p X          nucleus sampling (default 0.95; 1 = off)\n"
            "  --min-p X          drop tokens below X times the best (default 0.05)\n"
            "  --repeat-penalty X penalize the last --repeat-last-n tokens (default 1 = off)\n"
            "  --repeat-last-n N  (default 64)\n"
            "  --seed S           sampling seed (default: random)\n"
            "  --ignore-eos       keep generating past end-of-text\n"
            "  --stop TEXT        end the reply where TEXT would appear (repeatable; text\n"
            "                     output only; TEXT itself is not printed)\n"
            "  --isa NAME         kernels: scalar, avx2, avx512, avx512vnni (default: best)\n"
            "  -fa, --flash-attn  flash attention: a streaming softmax over blocks of the\n"
            "                     cache, as llama.cpp's -fa (V stored by position)\n"
            "  -ctk, --cache-type-k T  K cache type: f16 (default) or q8_0 (half the memory)\n"
            "  -ctv, --cache-type-v T  V cache type: f16 (default) or q8_0 (needs -fa)\n"
            "  -v                 print the shard's memory at load: weights (mapped), KV,\n"
            "                     buffers, and the RSS the kernel reports\n"
            "  --local-workers N  run through a pipeline of N worker processes started here\n"
            "  --config FILE      run through the pool a cluster file describes\n");
}

static int parse_float_opt(const char *a, const char *v, run_opts *o)
{
    double x;
    struct { const char *name; float *dst; double lo, hi; } fl[] = {
        {"--temp", &o->sampling.temp, 0, 100},
        {"--top-p", &o->sampling.top_p, 1e-6, 1},
        {"--min-p", &o->sampling.min_p, 0, 1},
        {"--repeat-penalty", &o->sampling.repeat_penalty, 1e-6, 100},
    };
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        if (strcmp(a, fl[i].name))
            continue;
        if (arg_float(a, v, fl[i].lo, fl[i].hi, &x) != 0)
            return -1;
        *fl[i].dst = (float)x;
        return 0;
    }
    return 1;
}

static int parse_int_opt(const char *a, const char *v, run_opts *o)
{
    const arg_int_opt in[] = {
        {"-t", &o->shard.n_threads, 1, 512},   {"-c", &o->shard.n_ctx, 1, 1 << 24},
        {"-b", &o->shard.n_batch, 1, 65536},   {"--top-k", &o->sampling.top_k, 0, 1 << 24},
        {"--repeat-last-n", &o->sampling.penalty_last_n, 0, LP_SAMPLER_MAX_LAST_N},
        {"--local-workers", &o->local_workers, 1, 16},
    };
    if (!strcmp(a, "-n"))
        return arg_int(a, v, 0, 1 << 24, &o->n_predict);
    return arg_int_table(in, sizeof in / sizeof in[0], a, v);
}

static int parse_opt(int argc, char **argv, int *i, run_opts *o)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--ids"))
        return o->ids = true, 0;
    if (!strcmp(a, "--ignore-eos"))
        return o->ignore_eos = true, 0;
    if (!strcmp(a, "--chat"))
        return o->chat = true, 0;
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
        return o->verbose = true, 0;
    lp_err err = {0};
    int rc = lp_attn_opts_arg(&o->shard.attn, argc, argv, i, &err);
    if (rc != 0)
        return rc > 0 ? 0 : (fprintf(stderr, "coord run: %s\n", err.msg), -1);
    if (!(v = arg_next(argc, argv, i)))
        return -1;
    if (!strcmp(a, "-m"))
        return o->model = v, 0;
    if (!strcmp(a, "-p"))
        return o->prompt = v, 0;
    if (!strcmp(a, "--chat-template"))
        return o->chat_template = v, 0;
    if (!strcmp(a, "--system"))
        return o->system = v, 0;
    if (!strcmp(a, "--config"))
        return o->config = v, 0;
    if (!strcmp(a, "--stop")) {
        if (o->n_stops == LP_STOPSTR_MAX)
            return fprintf(stderr, "coord run: at most %d --stop strings\n", LP_STOPSTR_MAX), -1;
        return o->stops[o->n_stops++] = v, 0;
    }
    if (!strcmp(a, "--tokens"))
        return free(o->tokens), o->tokens = NULL, arg_int_list(a, v, &o->tokens, &o->n_tokens);
    if (!strcmp(a, "--seed"))
        return arg_u64(a, v, &o->sampling.seed);
    if (!strcmp(a, "--isa")) {
        if ((o->shard.isa = lp_isa_parse(v)) < 0)
            return fprintf(stderr, "coord: --isa: unknown '%s'\n", v), -1;
        return 0;
    }
    rc = parse_float_opt(a, v, o);
    if (rc == 1)
        rc = parse_int_opt(a, v, o);
    if (rc == 1)
        fprintf(stderr, "coord run: unknown option '%s' (see coord run --help)\n", a);
    return rc == 0 ? 0 : -1;
}

int run_opts_parse(int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof *o);
    lp_shard_opts_default(&o->shard);
    o->shard.prefault = true; /* the first token does not wait for the disk */
    o->sampling = lp_sampler_params_default();
    o->sampling.temp = 0.0f; /* greedy unless asked: runs are reproducible */
    o->n_predict = 32;
    o->shard.n_threads = 0; /* not given yet */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout), 1;
        if (parse_opt(argc, argv, &i, o) != 0)
            return -1;
    }
    if (o->shard.n_threads == 0)
        o->shard.n_threads = lp_cpu_threads_each(o->local_workers);
    if (o->config && o->local_workers) {
        fprintf(stderr, "coord run: give --config or --local-workers, not both\n");
        return -1;
    }
    const lp_attn_opts *at = &o->shard.attn;
    if ((o->config || o->local_workers) && (at->flash || at->type_k || at->type_v)) {
        /* The workers hold the caches: each takes these at its own start. */
        fprintf(stderr, "coord run: -fa, -ctk and -ctv set this process's cache; through a "
                        "pool give them to each worker (worker -fa ...)\n");
        return -1;
    }
    if (!o->model && !o->config) {
        fprintf(stderr, "coord run: give -m MODEL (or --config FILE)\n");
        return -1;
    }
    if (o->chat ? (o->prompt || o->tokens || o->ids) : !o->prompt == !o->tokens) {
        fprintf(stderr, "coord run: give exactly one of -p TEXT, --tokens IDS, "
                        "--chat (which takes no --ids)\n");
        return -1;
    }
    if (o->chat && o->n_predict == 32)
        o->n_predict = 1 << 24; /* a reply runs to its end of turn unless -n says */
    lp_err err = {0};
    if (lp_sampler_params_validate(&o->sampling, &err) != 0) {
        fprintf(stderr, "coord run: %s\n", err.msg);
        return -1;
    }
    return 0;
}

void run_opts_free(run_opts *o)
{
    free(o->tokens);
    o->tokens = NULL;
}
