/* support_worker.c — worker processes and a test coordinator's sockets
 * (support_worker.h). */
#include "support_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "model_id.h"
#include "support.h"

enum { MAX_ARGS = 32, START_TIMEOUT_MS = 30000 };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int split_args(char *buf, char **argv, int argc)
{
    for (char *tok = strtok(buf, " "); tok && argc < MAX_ARGS - 1; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    return argc;
}

static void exec_worker(int out_fd, int netns, char **argv)
{
    /* A test that fails half way leaves no worker behind once it exits. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (netns >= 0 && setns(netns, CLONE_NEWNET) != 0)
        _exit(126);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    execv(argv[0], argv);
    _exit(127);
}

/* Read one line (up to cap - 1 bytes) from fd within the deadline. */
static int read_line(int fd, char *line, size_t cap, int64_t deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        ssize_t got = read(fd, line + n, 1);
        if (got <= 0)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    return 0;
}

int lp_test_worker_start(lp_test_worker *w, const char *args)
{
    return lp_test_worker_start_in(w, -1, "tcp://127.0.0.1:0", args);
}

int lp_test_worker_start_in(lp_test_worker *w, int netns, const char *listen, const char *args)
{
    memset(w, 0, sizeof *w);
    char bin[4096], extra[8192], ep[256], models[4096];
    /* Tests load the shared models and files they write under TMPDIR by
     * path: those folders, unless the test names its own. */
    const char *t = getenv("TMPDIR");
    if (args && strstr(args, "--models-dir"))
        snprintf(extra, sizeof extra, "%s", args);
    else
        snprintf(extra, sizeof extra, "--models-dir %s --models-dir %s %s",
                 lp_test_shared(models, sizeof models, "models"), t && *t ? t : "/tmp",
                 args ? args : "");
    snprintf(ep, sizeof ep, "%s", listen);
    char *argv[MAX_ARGS] = {lp_test_bin(bin, sizeof bin, "worker"), "--listen", ep, "-t", "1"};
    split_args(extra, argv, 5);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        exec_worker(fds[1], netns, argv);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    w->pid = pid;
    char line[1024];
    int rc = read_line(fds[0], line, sizeof line, now_ms() + START_TIMEOUT_MS);
    close(fds[0]);
    if (rc != 0 || sscanf(line, "worker %63s listening control=%255s data=%255s", w->name,
                          w->control, w->data) != 3) {
        fprintf(stderr, "worker did not start (line: '%s')\n", rc == 0 ? line : "");
        lp_test_worker_kill(w);
        return -1;
    }
    return 0;
}

int lp_test_worker_wait(lp_test_worker *w, int timeout_ms)
{
    if (w->pid <= 0)
        return -1;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(w->pid, &st, WNOHANG);
        if (r == w->pid) {
            w->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        if (r < 0 || now_ms() >= deadline)
            return -1;
        usleep(10000);
    }
}

void lp_test_worker_kill(lp_test_worker *w)
{
    if (w->pid <= 0)
        return;
    kill(w->pid, SIGKILL);
    waitpid(w->pid, NULL, 0);
    w->pid = 0;
}

/* ---- the test coordinator --------------------------------------------- */

int lp_test_coord_open(lp_test_coord *c)
{
    memset(c, 0, sizeof *c);
    lp_err err = {0};
    if (!(c->wire = lp_wire_new(&err)) ||
        !(c->results = lp_wire_socket(c->wire, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err)) ||
        lp_wire_endpoint(c->results, c->result_ep, sizeof c->result_ep, &err) != 0) {
        fprintf(stderr, "test coordinator: %s\n", err.msg);
        return -1;
    }
    return 0;
}

void lp_test_coord_close(lp_test_coord *c)
{
    for (int i = 0; i < 4; i++)
        lp_wire_close(c->ctl[i]);
    lp_wire_close(c->push);
    lp_wire_close(c->results);
    lp_wire_free(c->wire);
    memset(c, 0, sizeof *c);
}

int lp_test_coord_connect(lp_test_coord *c, int i, const char *control)
{
    lp_err err = {0};
    lp_wire_close(c->ctl[i]);
    c->ctl[i] = lp_wire_socket(c->wire, LP_SOCK_DEALER, control, &err);
    return c->ctl[i] ? 0 : -1;
}

int lp_test_coord_push_to(lp_test_coord *c, const char *data)
{
    lp_err err = {0};
    lp_wire_close(c->push);
    c->push = lp_wire_socket(c->wire, LP_SOCK_PUSH, data, &err);
    return c->push ? 0 : -1;
}

static Lp__Envelope *await(void *sock, uint64_t id, bool any, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return NULL;
        Lp__Envelope *env;
        lp_err err = {0};
        int rc = lp_wire_recv(sock, NULL, &env, left, &err);
        if (rc < 0)
            fprintf(stderr, "test coordinator: %s\n", err.msg);
        if (rc != 0)
            continue;
        if (any || env->request_id == id)
            return env;
        lp_wire_env_free(env);
    }
}

Lp__Envelope *lp_test_request(lp_test_coord *c, int i, Lp__Envelope *env, int timeout_ms)
{
    env->request_id = ++c->next_id;
    lp_err err = {0};
    if (lp_wire_send(c->ctl[i], NULL, env, timeout_ms, &err) != 0)
        return NULL;
    return await(c->ctl[i], env->request_id, false, timeout_ms);
}

Lp__Envelope *lp_test_request_raw(lp_test_coord *c, int i, const void *data, size_t len,
                                  int timeout_ms)
{
    lp_err err = {0};
    if (lp_wire_send_raw(c->ctl[i], NULL, data, len, timeout_ms, &err) != 0)
        return NULL;
    return await(c->ctl[i], 0, true, timeout_ms);
}

Lp__Envelope *lp_test_result(lp_test_coord *c, int timeout_ms)
{
    return await(c->results, 0, true, timeout_ms);
}

void lp_test_model_id(const char *stem, uint8_t id[32])
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    memset(id, 0, 32);
    if (g)
        lp_model_id(g, id, &err);
    lp_gguf_close(g);
}
