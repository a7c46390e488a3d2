/* coord inspect — what a GGUF file holds: shape, tokenizer, bytes by type
 * and by layer (the numbers shard planning works from). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"

static void print_hparams(const lp_hparams *hp)
{
    printf("architecture:     %s\n", hp->arch_name);
    printf("layers:           %u\n", hp->n_layer);
    printf("embedding:        %u\n", hp->n_embd);
    printf("feed-forward:     %u\n", hp->n_ff);
    printf("heads:            %u (kv heads %u, head size %u)\n", hp->n_head, hp->n_head_kv,
           hp->head_dim);
    printf("vocabulary:       %u\n", hp->n_vocab);
    printf("context (train):  %u\n", hp->n_ctx_train);
    printf("rope:             %s, base %g, %u dims, freq scale %g\n",
           hp->rope_mode == LP_ROPE_NEOX ? "neox" : "normal", (double)hp->rope_base,
           hp->n_rot, (double)hp->rope_freq_scale);
    printf("rms epsilon:      %g\n", (double)hp->rms_eps);
}

static void print_tokenizer(const lp_gguf *g)
{
    lp_str model = {0}, pre = {0};
    lp_gguf_arr toks = {0};
    lp_gguf_get_str(g, "tokenizer.ggml.model", &model);
    lp_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    lp_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks);
    printf("tokenizer:        %.*s%s%.*s, %llu tokens%s\n", (int)model.len,
           model.len ? model.ptr : "none", pre.len ? ", pre " : "", (int)pre.len,
           pre.len ? pre.ptr : "", (unsigned long long)toks.n,
           lp_gguf_find(g, "tokenizer.chat_template") ? ", chat template" : "");
}

/* Layer index of "blk.N.xxx", or -1. */
static long layer_of(lp_str name)
{
    if (name.len < 5 || memcmp(name.ptr, "blk.", 4) != 0)
        return -1;
    long n = 0;
    for (uint64_t i = 4; i < name.len && name.ptr[i] != '.'; i++) {
        if (name.ptr[i] < '0' || name.ptr[i] > '9' || n > 1000000)
            return -1;
        n = n * 10 + (name.ptr[i] - '0');
    }
    return n;
}

static void print_sizes(const lp_gguf *g, uint32_t n_layer)
{
    uint64_t by_type[LP_TYPE_COUNT] = {0}, other = 0, total = 0;
    uint64_t *by_layer = calloc(n_layer ? n_layer : 1, sizeof *by_layer);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        by_type[t->type] += t->nbytes;
        total += t->nbytes;
        long l = layer_of(t->name);
        if (by_layer && l >= 0 && l < (long)n_layer)
            by_layer[l] += t->nbytes;
        else
            other += t->nbytes;
    }
    printf("tensors:          %llu, %.2f MiB\n", (unsigned long long)g->n_tensors,
           total / 1048576.0);
    for (int ty = 0; ty < LP_TYPE_COUNT; ty++)
        if (by_type[ty])
            printf("  %-8s        %10.2f MiB\n", lp_type_traits_get((uint32_t)ty)->name,
                   by_type[ty] / 1048576.0);
    printf("per layer:\n");
    for (uint32_t l = 0; by_layer && l < n_layer; l++)
        printf("  layer %-4u      %10.2f MiB\n", l, by_layer[l] / 1048576.0);
    printf("  embed/head/norm %10.2f MiB\n", other / 1048576.0);
    free(by_layer);
}

int cmd_inspect(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 ? stdout : stderr, "usage: coord inspect MODEL.gguf\n");
        return argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
    }
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(argv[1], &err);
    if (!g) {
        fprintf(stderr, "coord inspect: %s\n", err.msg);
        return 1;
    }
    lp_hparams hp;
    printf("file:             %s (GGUF v%u, %.2f MiB)\n", argv[1], g->version,
           g->size / 1048576.0);
    int rc = 0;
    if (lp_hparams_read(g, &hp, &err) == 0) {
        print_hparams(&hp);
    } else {
        printf("model:            not runnable: %s\n", err.msg);
        hp.n_layer = 0;
    }
    print_tokenizer(g);
    print_sizes(g, hp.n_layer);
    lp_gguf_close(g);
    return rc;
}
