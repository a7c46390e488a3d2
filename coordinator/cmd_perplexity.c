/* cmd_perplexity.c — `coord perplexity`: being written (issue 6/7); registered
 * early so the command table is edited once. */
#include <stdio.h>

#include "commands.h"

int cmd_perplexity(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "coord perplexity: not available in this build yet\n");
    return 1;
}
