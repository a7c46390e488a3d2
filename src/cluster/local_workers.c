#include "local_workers.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sysinfo.h"

static int worker_binary(char *out, size_t cap, lp_err *err)
{
    const char *env = getenv("LP_WORKER_BIN");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return 0;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return lp_err_set(err, "cannot find this program's directory to start workers");
    self[n] = 0;
    snprintf(out, cap, "%s/worker", dirname(self));
    if (access(out, X_OK) != 0)
        return lp_err_set(err, "no worker program at %s (set LP_WORKER_BIN)", out);
    return 0;
}

/* Where one child runs: on a CPU set of its own (NULL: where we may) and
 * with which environment (NULL: ours). Prepared before the fork, since a
 * child of a threaded process may only make async-signal-safe calls. */
typedef struct child_place {
    const cpu_set_t *cpus;
    char *const *env_no_pin; /* ours with LP_NO_PIN=1; NULL: ours as it is */
    int netns;               /* network namespace to run in (fd), -1: ours */
    int key_fd;              /* a pipe holding its key pair (>= 10), handed
                                over as fd 3; -1: none */
} child_place;

static pid_t spawn(const char *bin, char *const argv[], const child_place *at, int *out_fd,
                   lp_err *err)
{
    int p[2];
    if (pipe(p) != 0) {
        lp_err_set(err, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        lp_err_set(err, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* A worker we started must not outlive us: a crashed or killed
         * coordinator (or test) would otherwise leave it holding ports. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (at->netns >= 0 && setns(at->netns, CLONE_NEWNET) != 0)
            _exit(126);
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        if (at->key_fd >= 0 && dup2(at->key_fd, 3) != 3) /* after the closes: p may be 3 */
            _exit(126);
        char *const *env = environ;
        /* A set the kernel refuses (a container's policy) leaves the child
         * where we run, beside the others: then it must not pin either. */
        if (at->env_no_pin &&
            (!at->cpus || sched_setaffinity(0, sizeof *at->cpus, at->cpus) != 0))
            env = at->env_no_pin;
        execve(bin, argv, env);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

/* Read the worker's first line ("worker NAME listening control=... data=..."). */
static int read_endpoint(int fd, char *control, size_t cap, lp_err *err)
{
    char line[1024];
    size_t len = 0;
    while (len + 1 < sizeof line) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 15000) <= 0)
            return lp_err_set(err, "a local worker did not report its endpoints in 15 s");
        ssize_t n = read(fd, line + len, 1);
        if (n <= 0)
            return lp_err_set(err, "a local worker exited before it was ready");
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = 0;
    const char *c = strstr(line, "control=");
    if (!c)
        return lp_err_set(err, "a local worker said '%s', not its endpoints", line);
    c += strlen("control=");
    size_t n = strcspn(c, " \t");
    if (n >= cap)
        return lp_err_set(err, "endpoint too long");
    memcpy(control, c, n);
    control[n] = 0;
    return 0;
}

/* A pipe holding kp's key file text, its read end moved to fd >= 10 (so
 * the child's dup2 onto 3 cannot clash with its other pipe); -1 on error. */
static int key_pipe(const lp_keypair *kp, lp_err *err)
{
    int kfd[2];
    char text[256];
    if (pipe2(kfd, O_CLOEXEC) != 0)
        return lp_err_set(err, "pipe: %s", strerror(errno));
    lp_keypair_format(kp, text, sizeof text);
    size_t n = strlen(text); /* far below a pipe's buffer: the write cannot block */
    bool ok = write(kfd[1], text, n) == (ssize_t)n;
    explicit_bzero(text, sizeof text);
    close(kfd[1]);
    int fd = ok ? fcntl(kfd[0], F_DUPFD_CLOEXEC, 10) : -1;
    close(kfd[0]);
    return fd >= 0 ? fd : lp_err_set(err, "local workers: cannot hand over a key");
}

static pid_t spawn_placed(const char *listen, const char *data, int threads,
                          const char *mem_limit, const char *name,
                          const char *const *extra_args, const child_place *at, char *control,
                          size_t cap, int *out_fd, lp_err *err)
{
    char bin[4096], targ[16];
    if (worker_binary(bin, sizeof bin, err) != 0)
        return -1;
    snprintf(targ, sizeof targ, "%d", threads > 0 ? threads : 1);
    char *argv[32];
    int k = 0;
    argv[k++] = bin;
    argv[k++] = "--listen";
    argv[k++] = (char *)listen;
    argv[k++] = "-t";
    argv[k++] = targ;
    argv[k++] = "--name";
    argv[k++] = (char *)name;
    if (data) {
        argv[k++] = "--data";
        argv[k++] = (char *)data;
    }
    if (mem_limit) {
        argv[k++] = "--mem-limit";
        argv[k++] = (char *)mem_limit;
    }
    if (at->key_fd >= 0) {
        argv[k++] = "--key";
        argv[k++] = "/dev/fd/3";
    }
    for (int i = 0; extra_args && extra_args[i] && k < 31; i++)
        argv[k++] = (char *)extra_args[i];
    argv[k] = NULL;
    pid_t pid = spawn(bin, argv, at, out_fd, err);
    if (pid > 0 && read_endpoint(*out_fd, control, cap, err) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(*out_fd);
        return -1;
    }
    return pid;
}

pid_t lp_local_worker_spawn(const char *listen, const char *data, int threads,
                            const char *mem_limit, const char *name, const lp_keypair *key,
                            const char *const *extra_args, char *control, size_t cap,
                            int *out_fd, lp_err *err)
{
    child_place at = {NULL, NULL, -1, -1};
    if (key && (at.key_fd = key_pipe(key, err)) < 0)
        return -1;
    pid_t pid = spawn_placed(listen, data, threads, mem_limit, name, extra_args, &at, control,
                             cap, out_fd, err);
    if (at.key_fd >= 0)
        close(at.key_fd);
    return pid;
}

static bool no_pin_asked(void)
{
    const char *off = getenv("LP_NO_PIN");
    return off && *off && strcmp(off, "0") != 0; /* as threadpool.c reads it */
}

lp_local_place lp_local_workers_place(int n, int threads, cpu_set_t *cpus)
{
    if (n < 2 || n > LP_LOCAL_MAX || no_pin_asked())
        return LP_LOCAL_INHERIT; /* one pool alone pins as it would anyway */
    int order[CPU_SETSIZE];
    const int n_order = lp_cpu_order(order, CPU_SETSIZE);
    const int per = threads > 0 ? threads : 1;
    const long need = (long)n * per;
    /* The first lp_cpu_physical_cores() entries of the order are on cores
     * of their own: a thread each there shares no core with another
     * worker's. Past them, distinct CPUs still keep pins apart. */
    if (need > lp_cpu_physical_cores() && (need > lp_cpu_usable() || need > n_order))
        return LP_LOCAL_NO_PIN;
    for (int i = 0; i < n; i++) {
        CPU_ZERO(&cpus[i]);
        for (int j = 0; j < per; j++)
            CPU_SET(order[i * per + j], &cpus[i]);
    }
    return LP_LOCAL_OWN_CPUS;
}

/* Our environment with LP_NO_PIN=1 in front (any other LP_NO_PIN left
 * out), or NULL when out of memory. The caller frees the array only. */
static char **env_with_no_pin(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc(sizeof *env * (n + 2));
    if (!env)
        return NULL;
    size_t k = 0;
    env[k++] = (char *)"LP_NO_PIN=1";
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LP_NO_PIN=", 10) != 0)
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

int lp_local_workers_start(lp_local_workers *lw, int n, int threads, const char *mem_limit,
                           const char *model, lp_err *err)
{
    return lp_local_workers_start_in(lw, n, threads, mem_limit, model, NULL, NULL, true, err);
}

/* The resolved folder of a file, into out[PATH_MAX]. */
static int folder_of(const char *file, char *out, lp_err *err)
{
    char real[PATH_MAX];
    if (!realpath(file, real))
        return lp_err_set(err, "local workers: model '%s': %s", file, strerror(errno));
    snprintf(out, PATH_MAX, "%s", dirname(real));
    return 0;
}

/* Fresh key pairs for us and n workers. */
static int make_keys(lp_local_workers *lw, int n, lp_err *err)
{
    if (lp_keypair_generate(&lw->coord, err) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (lp_keypair_generate(&lw->key[i], err) != 0)
            return -1;
    lw->keyed = true;
    return 0;
}

/* Worker i of lw, started as said in `at` (its key fd is made here). */
static int start_one(lp_local_workers *lw, int i, int threads, const char *mem_limit,
                     const char *listen, const char *const *extra, child_place at, lp_err *err)
{
    char name[32];
    snprintf(name, sizeof name, "local-%d", i);
    if (lw->keyed && (at.key_fd = key_pipe(&lw->key[i], err)) < 0)
        return -1;
    lw->pid[i] = spawn_placed(listen, NULL, threads, mem_limit, name, extra, &at,
                              lw->control[i], sizeof lw->control[i], &lw->out_fd[i], err);
    if (at.key_fd >= 0)
        close(at.key_fd);
    return lw->pid[i] < 0 ? -1 : 0;
}

/* The arguments every worker of lw gets beyond its own (NULL-terminated
 * in extra[6]; dir[PATH_MAX] holds the model's folder): the model's folder,
 * our key, or --insecure in a lab's namespaces, where they listen beyond
 * loopback. 0, or -1 with err. */
static int common_args(const lp_local_workers *lw, const char *model, bool in_netns,
                       const char **extra, char *dir, lp_err *err)
{
    int k = 0;
    if (model && folder_of(model, dir, err) != 0)
        return -1;
    if (model) {
        extra[k++] = "--models-dir";
        extra[k++] = dir;
    }
    if (lw->keyed) {
        extra[k++] = "--coordinator-key";
        extra[k++] = lw->coord.pub;
    } else if (in_netns) {
        extra[k++] = "--insecure";
    }
    extra[k] = NULL;
    return 0;
}

int lp_local_workers_start_in(lp_local_workers *lw, int n, int threads, const char *mem_limit,
                              const char *model, const int *netns,
                              const char *const *listen, bool keyed, lp_err *err)
{
    char dir[PATH_MAX];
    const char *extra[6];
    memset(lw, 0, sizeof *lw);
    if (n < 1 || n > LP_LOCAL_MAX)
        return lp_err_set(err, "local workers: %d is outside 1..%d", n, LP_LOCAL_MAX);
    if ((keyed && make_keys(lw, n, err) != 0) ||
        common_args(lw, model, netns != NULL, extra, dir, err) != 0)
        return -1;
    lw->place = lp_local_workers_place(n, threads, lw->cpus);
    char **env = lw->place == LP_LOCAL_INHERIT ? NULL : env_with_no_pin();
    if (lw->place != LP_LOCAL_INHERIT && !env)
        return lp_err_set(err, "local workers: out of memory");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        child_place at = {lw->place == LP_LOCAL_OWN_CPUS ? &lw->cpus[i] : NULL, env,
                          netns ? netns[i] : -1, -1};
        rc = start_one(lw, i, threads, mem_limit, listen ? listen[i] : "tcp://127.0.0.1:0",
                       extra, at, err);
        if (rc != 0)
            lp_local_workers_stop(lw);
        else
            lw->n = i + 1;
    }
    free(env);
    return rc;
}

bool lp_local_workers_exited(lp_local_workers *lw, int i, char *why, size_t cap)
{
    int st = 0;
    if (i < 0 || i >= lw->n || lw->pid[i] <= 0 || waitpid(lw->pid[i], &st, WNOHANG) != lw->pid[i])
        return false;
    if (WIFSIGNALED(st))
        snprintf(why, cap, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(why, cap, "exited with status %d", WEXITSTATUS(st));
    lw->pid[i] = -1;
    if (lw->out_fd[i] > 0)
        close(lw->out_fd[i]);
    lw->out_fd[i] = -1;
    return true;
}

int lp_local_workers_restart(lp_local_workers *lw, int i, const char *data, int threads,
                             const char *mem_limit, const char *model, lp_err *err)
{
    char dir[PATH_MAX], name[32], control[256];
    const char *extra[6];
    if (i < 0 || i >= lw->n || lw->pid[i] > 0)
        return lp_err_set(err, "local workers: %d is not a worker that exited", i);
    if (common_args(lw, model, false, extra, dir, err) != 0)
        return -1;
    snprintf(name, sizeof name, "local-%d", i);
    pid_t pid = lp_local_worker_spawn(lw->control[i], data, threads, mem_limit, name,
                                      lw->keyed ? &lw->key[i] : NULL, extra, control,
                                      sizeof control, &lw->out_fd[i], err);
    if (pid < 0)
        return -1;
    lw->pid[i] = pid;
    return 0;
}

static bool reaped_within(pid_t pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return true;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

void lp_local_workers_stop(lp_local_workers *lw)
{
    for (int i = 0; i < lw->n; i++) {
        if (lw->pid[i] > 0 && !reaped_within(lw->pid[i], 1000)) {
            kill(lw->pid[i], SIGKILL);
            waitpid(lw->pid[i], NULL, 0);
        }
        if (lw->out_fd[i] > 0)
            close(lw->out_fd[i]);
    }
    lw->n = 0;
    explicit_bzero(lw->key, sizeof lw->key);
    explicit_bzero(&lw->coord, sizeof lw->coord);
}
