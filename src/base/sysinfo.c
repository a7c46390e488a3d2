#include "sysinfo.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


/* "Key:  123 kB" in a /proc file -> bytes; 0 if the key is absent. */
static uint64_t proc_kb_field(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
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
    return kb > UINT64_MAX / 1024 ? 0 : (uint64_t)kb * 1024;
}

/* The first line of a small /sys or /proc file; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    return ok;
}

/* The CPUs we may run on. A failing sched_getaffinity (not Linux, or a
 * seccomp filter) leaves every online CPU. */
static void allowed_cpus(cpu_set_t *set)
{
    CPU_ZERO(set);
    if (sched_getaffinity(0, sizeof *set, set) == 0 && CPU_COUNT(set) > 0)
        return;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < (n > 0 ? n : 1) && c < CPU_SETSIZE; c++)
        CPU_SET((int)c, set);
}

/* An id shared by the SMT siblings of cpu's core: the lowest CPU in its
 * core_cpus_list (thread_siblings_list on older kernels; both lists are
 * sorted). Without /sys each CPU counts as a core of its own. */
static int core_key(int cpu)
{
    static const char *const names[] = {"core_cpus_list", "thread_siblings_list"};
    char path[128], line[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, names[i]);
        int first;
        if (read_line(path, line, sizeof line) && sscanf(line, "%d", &first) == 1 && first >= 0)
            return first;
    }
    return cpu;
}

/* CPUs of set in ascending order, primaries (the first allowed CPU of
 * each core) marked. Returns the count. */
static int list_cpus(const cpu_set_t *set, int *cpu, bool *primary)
{
    int n = 0, key[CPU_SETSIZE];
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        key[n] = core_key(c);
        cpu[n] = c;
        primary[n] = true;
        for (int j = 0; j < n && primary[n]; j++)
            primary[n] = key[j] != key[n];
        n++;
    }
    return n;
}

/* ceil(quota / period) from a cgroup v2 cpu.max ("max 100000" = none), or
 * 0 when there is no quota. Containers started with --cpus see theirs at
 * the root of their cgroup namespace. */
static int cgroup_cpu_quota(void)
{
    char line[128];
    long long quota, period;
    if (!read_line("/sys/fs/cgroup/cpu.max", line, sizeof line) ||
        sscanf(line, "%lld %lld", &quota, &period) != 2 || quota <= 0 || period <= 0)
        return 0;
    long long n = (quota + period - 1) / period;
    return n > CPU_SETSIZE ? CPU_SETSIZE : (int)n;
}

int lp_cpu_order(int *cpus, int cap)
{
    cpu_set_t set;
    int cpu[CPU_SETSIZE], k = 0;
    bool primary[CPU_SETSIZE];
    allowed_cpus(&set);
    int n = list_cpus(&set, cpu, primary);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n && k < cap; i++)
            if (primary[i] == (pass == 0))
                cpus[k++] = cpu[i];
    return k;
}

int lp_cpu_physical_cores(void)
{
    cpu_set_t set;
    int cpu[CPU_SETSIZE], cores = 0;
    bool primary[CPU_SETSIZE];
    allowed_cpus(&set);
    int n = list_cpus(&set, cpu, primary);
    for (int i = 0; i < n; i++)
        cores += primary[i];
    int quota = cgroup_cpu_quota();
    if (quota > 0 && quota < cores)
        cores = quota;
    return cores > 0 ? cores : 1;
}

int lp_cpu_threads_each(int n)
{
    int share = lp_cpu_physical_cores() / (n > 1 ? n : 1);
    return share > 1 ? share : 1;
}

int lp_cpu_usable(void)
{
    cpu_set_t set;
    allowed_cpus(&set);
    int n = CPU_COUNT(&set), quota = cgroup_cpu_quota();
    if (quota > 0 && quota < n)
        n = quota;
    return n > 0 ? n : 1;
}

/* "32768K", "2M", "512" -> bytes. */
static uint64_t parse_cache_size(const char *s)
{
    unsigned long long v;
    char unit = 0;
    if (sscanf(s, "%llu%c", &v, &unit) < 1)
        return 0;
    int shift = unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0;
    return v > (UINT64_MAX >> shift) ? 0 : (uint64_t)v << shift;
}

uint64_t lp_cpu_cache_bytes(int level)
{
    uint64_t best = 0;
    for (int i = 0; i < 16; i++) {
        char path[128], line[64];
        int lv;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!read_line(path, line, sizeof line))
            break;
        if (sscanf(line, "%d", &lv) != 1 || lv != level)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        uint64_t b = read_line(path, line, sizeof line) ? parse_cache_size(line) : 0;
        best = b > best ? b : best;
    }
    return best;
}

int lp_proc_mem_read(int pid, lp_proc_mem *m)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    m->rss = proc_kb_field(path, "VmRSS");
    m->rss_anon = proc_kb_field(path, "RssAnon");
    m->rss_file = proc_kb_field(path, "RssFile");
    return m->rss ? 0 : -1;
}

int lp_sysinfo_read(lp_sysinfo *si, lp_err *err)
{
    memset(si, 0, sizeof *si);
    si->ram_total = proc_kb_field("/proc/meminfo", "MemTotal");
    si->ram_available = proc_kb_field("/proc/meminfo", "MemAvailable");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    si->n_cores = n > 0 ? (int)n : 1;
    si->n_physical = lp_cpu_physical_cores();
    if (si->ram_total == 0)
        return lp_err_set(err, "sysinfo: cannot read /proc/meminfo");
    return 0;
}

void lp_cpu_name(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(out, cap, "unknown CPU");
    while (f && fgets(line, sizeof line, f)) {
        const char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !c)
            continue;
        snprintf(out, cap, "%.*s", (int)strcspn(c + 2, "\n"), c + 2);
        break;
    }
    if (f)
        fclose(f);
}
