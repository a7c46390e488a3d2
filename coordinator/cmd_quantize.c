/* cmd_quantize.c — `coord quantize`: being written (issue 6/7); registered
 * early so the command table is edited once. */
#include <stdio.h>

#include "commands.h"

int cmd_quantize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "coord quantize: not available in this build yet\n");
    return 1;
}
