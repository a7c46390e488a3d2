/* coord run — generate on this machine with one shard holding every layer. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "generate.h"
#include "shard.h"

typedef struct run_opts {
    const char *model;
    const char *prompt;
    int32_t *tokens; /* owned */
    int n_tokens;
    long n_predict;
    bool ids, ignore_eos;
    uint64_t seed;
    double temp;
    lp_shard_opts shard;
} run_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord run -m MODEL (-p TEXT | --tokens 1,2,3) [options]\n"
            "  -n N            tokens to generate (default 32)\n"
            "  -t T            threads (default 1)\n"
            "  -c CTX          context size (default: the model's, at most 4096)\n"
            "  -b N            prompt tokens per forward step (default 256)\n"
            "  --ids           print generated token ids, comma-separated, one line\n"
            "  --temp X        sampling temperature; 0 = greedy (default 0)\n"
            "  --seed S        sampling seed (default 0)\n"
            "  --ignore-eos    keep generating past end-of-sequence\n"
            "  --isa NAME      kernels: scalar, avx2, avx512, avx512vnni (default: best)\n");
}

static int parse_opt(int argc, char **argv, int *i, run_opts *o)
{
    const char *a = argv[*i], *v;
    long n;
    if (!strcmp(a, "--ids"))
        return o->ids = true, 0;
    if (!strcmp(a, "--ignore-eos"))
        return o->ignore_eos = true, 0;
    if (!(v = arg_next(argc, argv, i)))
        return -1;
    if (!strcmp(a, "-m"))
        return o->model = v, 0;
    if (!strcmp(a, "-p"))
        return o->prompt = v, 0;
    if (!strcmp(a, "--tokens"))
        return free(o->tokens), arg_int_list(a, v, &o->tokens, &o->n_tokens);
    if (!strcmp(a, "-n"))
        return arg_int(a, v, 0, 1 << 24, &o->n_predict);
    if (!strcmp(a, "--temp"))
        return arg_float(a, v, 0.0, 100.0, &o->temp);
    if (!strcmp(a, "--seed"))
        return arg_u64(a, v, &o->seed);
    if (!strcmp(a, "--isa")) {
        if ((o->shard.isa = lp_isa_parse(v)) < 0)
            return fprintf(stderr, "coord: --isa: unknown '%s'\n", v), -1;
        return 0;
    }
    int *dst = !strcmp(a, "-t") ? &o->shard.n_threads
             : !strcmp(a, "-c") ? &o->shard.n_ctx
             : !strcmp(a, "-b") ? &o->shard.n_batch : NULL;
    if (!dst)
        return fprintf(stderr, "coord run: unknown option '%s'\n", a), -1;
    if (arg_int(a, v, 1, !strcmp(a, "-t") ? 512 : 1 << 24, &n) != 0)
        return -1;
    *dst = (int)n;
    return 0;
}

static int parse(int argc, char **argv, run_opts *o)
{
    lp_shard_opts_default(&o->shard);
    o->n_predict = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout), 1;
        if (parse_opt(argc, argv, &i, o) != 0)
            return -1;
    }
    if (!o->model || (!o->prompt == !o->tokens)) {
        fprintf(stderr, "coord run: give -m MODEL and exactly one of -p TEXT, --tokens IDS\n");
        return -1;
    }
    if (o->prompt) {
        fprintf(stderr, "coord run: text prompts need the tokenizer; use --tokens for now\n");
        return -1;
    }
    if (!o->ids) {
        fprintf(stderr, "coord run: text output needs the tokenizer; use --ids for now\n");
        return -1;
    }
    if (o->temp != 0.0) {
        fprintf(stderr, "coord run: only greedy decoding (--temp 0) is available so far\n");
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int64_t eos_id(const lp_shard *s)
{
    uint32_t id;
    return lp_gguf_get_u32(s->gguf, "tokenizer.ggml.eos_token_id", &id) == 0 ? (int64_t)id : -1;
}

/* Prefill, then pick-and-feed until n_predict tokens or EOS. */
static int generate(lp_shard *s, const run_opts *o, lp_err *err)
{
    const float *logits;
    const int n_vocab = (int)s->model->hp.n_vocab;
    if (o->n_tokens + o->n_predict > s->opts.n_ctx)
        return lp_err_set(err, "prompt (%d) + tokens to generate (%ld) exceed the context "
                          "of %d (raise -c)", o->n_tokens, o->n_predict, s->opts.n_ctx);
    double t0 = now_s();
    if (lp_prefill(s, 0, o->tokens, o->n_tokens, &logits, err) != 0)
        return -1;
    double t1 = now_s();
    long n_gen = 0;
    while (n_gen < o->n_predict) {
        int32_t tok = lp_argmax(logits, n_vocab);
        printf("%s%d", n_gen++ ? "," : "", tok);
        fflush(stdout);
        if ((tok == eos_id(s) && !o->ignore_eos) || n_gen == o->n_predict)
            break;
        if (lp_decode_one(s, 0, tok, &logits, err) != 0)
            return -1;
    }
    printf("\n");
    double t2 = now_s();
    fprintf(stderr, "prompt eval: %d tokens in %.2f ms (%.2f tok/s)\n", o->n_tokens,
            (t1 - t0) * 1e3, o->n_tokens / (t1 - t0));
    fprintf(stderr, "generation:  %ld tokens in %.2f ms (%.2f tok/s)\n", n_gen,
            (t2 - t1) * 1e3, n_gen > 0 ? n_gen / (t2 - t1) : 0.0);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        free(o.tokens);
        return rc > 0 ? 0 : 2;
    }
    lp_err err = {0};
    lp_shard *s = lp_shard_open(o.model, &o.shard, &err);
    rc = 1;
    if (s && lp_kv_open(s->kv, 1, &err) == 0 && generate(s, &o, &err) == 0)
        rc = 0;
    if (rc != 0)
        fprintf(stderr, "coord run: %s\n", err.msg);
    lp_shard_close(s);
    free(o.tokens);
    return rc;
}
