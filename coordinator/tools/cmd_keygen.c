/* coord keygen — the coordinator's CURVE key pair: BASE.key (private,
 * named by [server] key in the cluster file) and BASE.pub (its public key,
 * for every worker's --coordinator-key). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "keys.h"

int cmd_keygen(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "-o") != 0) {
        fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: coord keygen -o BASE   writes BASE.key (mode 600: [server] key = "
                "BASE.key)\n                              and BASE.pub (for each worker's "
                "--coordinator-key)\n");
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    return lp_keygen_run("coord", argv[2]);
}
