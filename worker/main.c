/* worker — holds one shard of a model and serves it to a coordinator.
 * So far it can report the resources it would offer a pool. */
#include <stdio.h>
#include <string.h>

#include "kernels/kernels.h"
#include "sysinfo.h"

static int cmd_info(void)
{
    lp_sysinfo si;
    lp_err err = {0};
    if (lp_sysinfo_read(&si, &err) != 0) {
        fprintf(stderr, "worker: %s\n", err.msg);
        return 1;
    }
    printf("cores:          %d\n", si.n_cores);
    printf("ram total:      %.2f GiB\n", si.ram_total / 1073741824.0);
    printf("ram available:  %.2f GiB\n", si.ram_available / 1073741824.0);
    printf("kernels:        %s\n", lp_isa_name((lp_isa)si.isa));
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: worker info        print the resources this machine offers\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "info"))
        return cmd_info();
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
