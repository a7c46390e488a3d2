/* cmd_bench_node.c — `coord bench-node`: being written (issue 6/7); registered
 * early so the command table is edited once. */
#include <stdio.h>

#include "commands.h"

int cmd_bench_node(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "coord bench-node: not available in this build yet\n");
    return 1;
}
