/* sysinfo.h — what a machine offers a pool: memory, cores, vector ISA.
 * Workers report this so the coordinator can plan shards. */
#ifndef LP_SYSINFO_H
#define LP_SYSINFO_H

#include <stdint.h>

#include "err.h"

typedef struct lp_sysinfo {
    uint64_t ram_total;     /* bytes */
    uint64_t ram_available; /* bytes the kernel says can be had without swapping */
    int n_cores;            /* online logical CPUs */
    int isa;                /* lp_isa: best kernels this CPU runs */
} lp_sysinfo;

int lp_sysinfo_read(lp_sysinfo *si, lp_err *err);

#endif
