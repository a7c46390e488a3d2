#include "local_workers.h"

#include <errno.h>
#include <libgen.h>
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

static pid_t spawn(const char *bin, char *const argv[], int *out_fd, lp_err *err)
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
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        execv(bin, argv);
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

pid_t lp_local_worker_spawn(const char *listen, const char *data, int threads,
                            const char *mem_limit, const char *name,
                            const char *const *extra_args, char *control, size_t cap,
                            int *out_fd, lp_err *err)
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
    for (int i = 0; extra_args && extra_args[i] && k < 31; i++)
        argv[k++] = (char *)extra_args[i];
    argv[k] = NULL;
    pid_t pid = spawn(bin, argv, out_fd, err);
    if (pid > 0 && read_endpoint(*out_fd, control, cap, err) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(*out_fd);
        return -1;
    }
    return pid;
}

int lp_local_workers_start(lp_local_workers *lw, int n, int threads, const char *mem_limit,
                           lp_err *err)
{
    char name[32];
    memset(lw, 0, sizeof *lw);
    if (n < 1 || n > LP_LOCAL_MAX)
        return lp_err_set(err, "local workers: %d is outside 1..%d", n, LP_LOCAL_MAX);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "local-%d", i);
        lw->pid[i] = lp_local_worker_spawn("tcp://127.0.0.1:0", NULL, threads, mem_limit, name,
                                           NULL, lw->control[i], sizeof lw->control[i],
                                           &lw->out_fd[i], err);
        if (lw->pid[i] < 0) {
            lp_local_workers_stop(lw);
            return -1;
        }
        lw->n = i + 1;
    }
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
}
