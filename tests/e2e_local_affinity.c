/* Where `coord run --local-workers 2` puts its workers, read from the
 * kernel while they run (/proc/PID/status Cpus_allowed_list and
 * /proc/PID/environ of the coordinator's children): with -t 1 each gets a
 * CPU set of its own, disjoint from the other's, inside ours, on distinct
 * physical cores while there are two, and no LP_NO_PIN; with more threads
 * than our CPUs (-t = usable CPUs, twice over) neither is restricted and
 * both get LP_NO_PIN=1; with LP_NO_PIN=1 in our own environment they are
 * left as we are. lp_local_workers_place gives the same answers, and under
 * a narrowed affinity (one CPU) two workers no longer fit. Needs 2 CPUs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local_workers.h"
#include "support.h"
#include "sysinfo.h"

enum { N_WORKERS = 2, READY_MS = 30000 };

typedef struct seen {
    int n;
    cpu_set_t cpus[N_WORKERS];
    bool no_pin[N_WORKERS];
} seen;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "0-3,8,10-11" -> set; false if malformed. */
static bool parse_cpu_list(const char *s, cpu_set_t *set)
{
    CPU_ZERO(set);
    while (*s && *s != '\n') {
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;
        if (end == s || lo < 0)
            return false;
        if (*end == '-') {
            s = end + 1;
            hi = strtol(s, &end, 10);
            if (end == s || hi < lo)
                return false;
        }
        for (long c = lo; c <= hi && c < CPU_SETSIZE; c++)
            CPU_SET((int)c, set);
        s = *end == ',' ? end + 1 : end;
        while (*s == ' ' || *s == '\t')
            s++;
    }
    return CPU_COUNT(set) > 0;
}

static bool proc_cpus(int pid, cpu_set_t *set)
{
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    bool ok = false;
    while (f && !ok && fgets(line, sizeof line, f))
        if (!strncmp(line, "Cpus_allowed_list:", 18))
            ok = parse_cpu_list(line + 18 + strspn(line + 18, " \t"), set);
    if (f)
        fclose(f);
    return ok;
}

/* Up to cap-1 bytes of a /proc or /sys file (their size reads as 0, so
 * lp_test_read_file sees nothing), NUL-terminated; the count, -1 if
 * unreadable. */
static long read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t len = 0;
    ssize_t got;
    while (len + 1 < cap && (got = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    buf[len] = 0;
    return (long)len;
}

/* The value of LP_NO_PIN in a process's environment is "1". */
static bool proc_no_pin(int pid)
{
    char path[64], env[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    long len = read_small(path, env, sizeof env);
    assert_true(len > 0);
    bool found = false;
    for (long i = 0; i < len; i += (long)strlen(env + i) + 1)
        found = found || !strcmp(env + i, "LP_NO_PIN=1");
    return found;
}

/* The children of pid, from /proc/N/stat's ppid field (after the comm,
 * which may hold spaces or parentheses). */
static int children_of(int pid, int *kids, int cap)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[got] = 0;
        const char *rp = strrchr(buf, ')');
        int ppid = -1;
        if (rp && sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == pid)
            kids[n++] = atoi(e->d_name);
    }
    closedir(d);
    return n;
}

/* Read the coordinator's stderr until it says its workers are ready. */
static void wait_ready(int fd, char *log, size_t cap)
{
    size_t len = 0;
    int64_t end = now_ms() + READY_MS;
    log[0] = 0;
    while (!strstr(log, "workers ready")) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(end - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            fail_msg("coord run did not bring its workers up in %d ms:\n%s", READY_MS, log);
        ssize_t got = read(fd, log + len, cap - 1 - len);
        if (got <= 0)
            fail_msg("coord run ended before its workers were ready:\n%s", log);
        len += (size_t)got;
        log[len] = 0;
        if (len + 1 >= cap)
            fail_msg("coord run said too much before its workers were ready:\n%s", log);
    }
}

/* `coord run --local-workers 2 -t T --chat`: held on its stdin while its
 * workers are looked at, then let go (end of input) and asserted clean. */
static void observe(int threads, seen *s)
{
    char bin[4096], model[4096], targ[16], log[16384];
    lp_test_bin(bin, sizeof bin, "coord");
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(targ, sizeof targ, "%d", threads);
    int in[2], err[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(in[0], STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(in[1]);
        close(err[0]);
        execl(bin, bin, "run", "-m", model, "--local-workers", "2", "-t", targ, "--chat", "-n",
              "4", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(err[1]);
    wait_ready(err[0], log, sizeof log);
    int kids[8];
    s->n = children_of(pid, kids, 8);
    assert_int_equal(s->n, N_WORKERS);
    for (int i = 0; i < s->n; i++) {
        assert_true(proc_cpus(kids[i], &s->cpus[i]));
        s->no_pin[i] = proc_no_pin(kids[i]);
    }
    close(in[1]); /* end of the chat: coord shuts its workers down */
    while (read(err[0], log, sizeof log) > 0) {
    }
    close(err[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* The lowest CPU of cpu's core, as sysinfo reads it (itself without /sys). */
static int core_of(int cpu)
{
    char path[128], line[256];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_cpus_list", cpu);
    return read_small(path, line, sizeof line) > 0 && isdigit((unsigned char)line[0])
               ? atoi(line)
               : cpu;
}

static int first_cpu(const cpu_set_t *set)
{
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set))
            return c;
    return -1;
}

static int setup(void **state)
{
    (void)state;
    unsetenv("LP_NO_PIN"); /* ours decides what the workers get */
    return 0;
}

static bool two_cpus(void)
{
    if (lp_cpu_usable() >= 2)
        return true;
    print_message("[ skip ] %d usable CPU: two workers never fit\n", lp_cpu_usable());
    return false;
}

static void test_fit_disjoint_sets(void **state)
{
    (void)state;
    if (!two_cpus())
        skip();
    cpu_set_t ours, both;
    assert_int_equal(sched_getaffinity(0, sizeof ours, &ours), 0);
    seen s;
    observe(1, &s);
    for (int i = 0; i < N_WORKERS; i++) {
        assert_int_equal(CPU_COUNT(&s.cpus[i]), 1); /* one thread, one CPU */
        CPU_AND(&both, &s.cpus[i], &ours);
        assert_true(CPU_EQUAL(&both, &s.cpus[i]));
        assert_false(s.no_pin[i]);
    }
    CPU_AND(&both, &s.cpus[0], &s.cpus[1]);
    assert_int_equal(CPU_COUNT(&both), 0);
    int a = first_cpu(&s.cpus[0]), b = first_cpu(&s.cpus[1]);
    if (lp_cpu_physical_cores() >= 2)
        assert_int_not_equal(core_of(a), core_of(b));
    print_message("[ fit ] -t 1: worker 0 on CPU %d, worker 1 on CPU %d (cores %d, %d)\n", a,
                  b, core_of(a), core_of(b));
}

static void test_no_fit_unpinned(void **state)
{
    (void)state;
    if (!two_cpus())
        skip();
    cpu_set_t ours;
    assert_int_equal(sched_getaffinity(0, sizeof ours, &ours), 0);
    seen s;
    observe(lp_cpu_usable(), &s); /* 2 x usable threads > usable CPUs */
    for (int i = 0; i < N_WORKERS; i++) {
        assert_true(CPU_EQUAL(&s.cpus[i], &ours));
        assert_true(s.no_pin[i]);
    }
}

static void test_our_no_pin_left_alone(void **state)
{
    (void)state;
    if (!two_cpus())
        skip();
    cpu_set_t ours;
    assert_int_equal(sched_getaffinity(0, sizeof ours, &ours), 0);
    setenv("LP_NO_PIN", "1", 1);
    seen s;
    observe(1, &s);
    unsetenv("LP_NO_PIN");
    for (int i = 0; i < N_WORKERS; i++) {
        assert_true(CPU_EQUAL(&s.cpus[i], &ours));
        assert_true(s.no_pin[i]); /* inherited, not added */
    }
}

static void test_place(void **state)
{
    (void)state;
    cpu_set_t sets[LP_LOCAL_MAX], ours, one;
    assert_int_equal(lp_local_workers_place(1, 1, sets), LP_LOCAL_INHERIT);
    const int usable = lp_cpu_usable();
    assert_int_equal(lp_local_workers_place(2, usable, sets), LP_LOCAL_NO_PIN);
    assert_int_equal(lp_local_workers_place(LP_LOCAL_MAX, 1024, sets),
                     usable >= LP_LOCAL_MAX * 1024 ? LP_LOCAL_OWN_CPUS : LP_LOCAL_NO_PIN);
    if (usable >= 2) {
        assert_int_equal(lp_local_workers_place(2, usable / 2, sets), LP_LOCAL_OWN_CPUS);
        assert_int_equal(CPU_COUNT(&sets[0]), usable / 2);
        assert_int_equal(CPU_COUNT(&sets[1]), usable / 2);
        CPU_AND(&one, &sets[0], &sets[1]);
        assert_int_equal(CPU_COUNT(&one), 0);
    }
    setenv("LP_NO_PIN", "1", 1);
    assert_int_equal(lp_local_workers_place(2, 1, sets), LP_LOCAL_INHERIT);
    setenv("LP_NO_PIN", "0", 1); /* "0" is no request, as threadpool.c reads it */
    assert_int_equal(lp_local_workers_place(2, 1, sets),
                     usable >= 2 ? LP_LOCAL_OWN_CPUS : LP_LOCAL_NO_PIN);
    unsetenv("LP_NO_PIN");
    /* Narrowed to one CPU (as taskset would), two workers no longer fit. */
    assert_int_equal(sched_getaffinity(0, sizeof ours, &ours), 0);
    CPU_ZERO(&one);
    CPU_SET(first_cpu(&ours), &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    lp_local_place narrowed = lp_local_workers_place(2, 1, sets);
    assert_int_equal(sched_setaffinity(0, sizeof ours, &ours), 0);
    assert_int_equal(narrowed, LP_LOCAL_NO_PIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place),
        cmocka_unit_test(test_fit_disjoint_sets),
        cmocka_unit_test(test_no_fit_unpinned),
        cmocka_unit_test(test_our_no_pin_left_alone),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
