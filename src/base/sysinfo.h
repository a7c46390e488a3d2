/* sysinfo.h — what a machine offers a pool: memory and cores (its vector
 * ISA: kernels.h, lp_cpu_best_isa).
 * Workers report this so the coordinator can plan shards; the CPU
 * topology calls also choose the default thread count and where the
 * thread pool pins its threads. */
#ifndef LP_SYSINFO_H
#define LP_SYSINFO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct lp_sysinfo {
    uint64_t ram_total;     /* bytes */
    uint64_t ram_available; /* bytes the kernel says can be had without swapping */
    int n_cores;            /* online logical CPUs */
    int n_physical;         /* lp_cpu_physical_cores(): the default -t */
} lp_sysinfo;

int lp_sysinfo_read(lp_sysinfo *si, lp_err *err);

/* Physical cores among the CPUs this process may run on (its affinity
 * mask, and a cgroup v2 cpu.max quota when one is set): the thread count
 * that decoding, being memory-bound, gains from; SMT siblings add
 * nothing but contention. At least 1. */
int lp_cpu_physical_cores(void);

/* The default -t of each of n processes sharing this machine (local
 * workers): the physical cores shared out, at least 1 — more threads than
 * cores in all would only take turns on them. */
int lp_cpu_threads_each(int n);

/* The CPUs this process may run on, ordered one per physical core first
 * (lowest CPU id of each core), then the remaining SMT siblings, so that
 * the first n_physical entries put every thread on a core of its own.
 * Writes at most cap ids to cpus; returns how many it wrote (>= 1 unless
 * cap is 0; {0} when the mask cannot be read). */
int lp_cpu_order(int *cpus, int cap);

/* Logical CPUs this process may run on: its affinity mask, capped by a
 * cgroup v2 quota. More busy threads than this take turns on the CPUs,
 * so they must not spin. At least 1. */
int lp_cpu_usable(void);

/* The CPU's model name from /proc/cpuinfo ("AMD EPYC 9R14"), or
 * "unknown CPU": for benchmark reports. */
void lp_cpu_name(char *out, size_t cap);

/* The size in bytes of the largest cache of CPU 0 at the given level
 * (1, 2, 3), or 0 when /sys does not say. */
uint64_t lp_cpu_cache_bytes(int level);

/* Resident memory of a process, from /proc/PID/status. Mapped weights
 * show as file-backed pages; copies, the KV cache and buffers as anon. */
typedef struct lp_proc_mem {
    uint64_t rss;      /* VmRSS, bytes */
    uint64_t rss_anon; /* RssAnon */
    uint64_t rss_file; /* RssFile */
} lp_proc_mem;

/* pid 0 = this process. 0, or -1 when /proc has no VmRSS for it. */
int lp_proc_mem_read(int pid, lp_proc_mem *m);

#endif
