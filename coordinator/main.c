/* coord — the coordinator program: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command COMMANDS[] = {
    {"inspect", cmd_inspect, "inspect MODEL        print a GGUF model's shape and sizes"},
    {"serve", cmd_serve, "serve --config FILE   the OpenAI-compatible API and a web page over a pool"},
    {"run", cmd_run, "run -m MODEL ...      generate on this machine (one shard)"},
    {"bench", cmd_bench, "bench -m MODEL ...    prompt and generation speed on this machine"},
    {"tokenize", cmd_tokenize, "tokenize -m MODEL -p TEXT   print a prompt's token ids"},
    {"plan", cmd_plan, "plan -m MODEL --workers-mem 16G,16G   which layers each worker holds"},
    {"split", cmd_split, "split -m MODEL --plan RANGES -o DIR   one GGUF per layer range"},
    {"quantize", cmd_quantize, "quantize IN.gguf OUT.gguf TYPE   convert an F32/F16/BF16 model to a quant type"},
    {"perplexity", cmd_perplexity, "perplexity -m MODEL -f TEXT   perplexity (and KL divergence with --kl-base)"},
    {"synth", cmd_synth, "synth --shape NAME -t TYPE -o FILE   a random-weight model of a real shape"},
    {"bench-node", cmd_bench_node, "bench-node -m MODEL   this machine's kernels: pp/tg tok/s and memory bandwidth"},
    {"keygen", cmd_keygen, "keygen -o BASE        a CURVE key pair: BASE.key ([server] key) and BASE.pub"},
    {"bench-pool", cmd_bench_pool, "bench-pool -m MODEL   a pool of N workers over capped links: tok/s, bytes, the model"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: coord COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %s\n", COMMANDS[i].help);
    fprintf(f, "\n`coord COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name))
            return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "coord: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
