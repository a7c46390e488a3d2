/* commands.h — the `coord` subcommands. Each takes argv after the
 * subcommand name and returns a process exit status (0 ok, 1 runtime
 * failure, 2 usage error), printing its own diagnostics to stderr. */
#ifndef LP_COORD_COMMANDS_H
#define LP_COORD_COMMANDS_H

int cmd_inspect(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench_node(int argc, char **argv);
int cmd_bench_pool(int argc, char **argv);

#endif
