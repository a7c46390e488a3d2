#include "sysinfo.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kernels.h"

/* "MemTotal:  123 kB" -> bytes; 0 if the key is absent. */
static uint64_t meminfo_field(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            if (sscanf(line + klen + 1, "%llu", &kb) != 1)
                kb = 0;
            break;
        }
    }
    fclose(f);
    return (uint64_t)kb * 1024;
}

int lp_sysinfo_read(lp_sysinfo *si, lp_err *err)
{
    memset(si, 0, sizeof *si);
    si->ram_total = meminfo_field("MemTotal");
    si->ram_available = meminfo_field("MemAvailable");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    si->n_cores = n > 0 ? (int)n : 1;
    si->isa = (int)lp_cpu_best_isa();
    if (si->ram_total == 0)
        return lp_err_set(err, "sysinfo: cannot read /proc/meminfo");
    return 0;
}
