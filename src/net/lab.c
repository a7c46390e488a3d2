/* lab.c — hosts in network namespaces (lab.h). */
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_ARGS = 24 };

static void split(char *buf, char **argv)
{
    int argc = 1;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok && argc < MAX_ARGS - 1;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
}

pid_t lp_lab_spawn(const lp_lab *lab, int host, char *const argv[])
{
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || (host >= 0 && setns(lab->netns[host], CLONE_NEWNET) != 0))
            _exit(126);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO); /* a failure is reported by the caller */
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* `prog ARGS` in host's namespace (-1: ours): its exit status. */
static int run_in(const lp_lab *lab, int host, const char *prog, const char *args)
{
    char buf[512];
    char *argv[MAX_ARGS] = {(char *)prog};
    snprintf(buf, sizeof buf, "%s", args);
    split(buf, argv);
    pid_t pid = lp_lab_spawn(lab, host, argv);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int lp_lab_ip(const lp_lab *lab, int host, const char *args)
{
    return run_in(lab, host, "ip", args);
}

int lp_lab_rate(const lp_lab *lab, int host, uint64_t bits_per_s)
{
    char ours[32], cmd[256];
    snprintf(ours, sizeof ours, "lph%d", host);
    const struct { int ns; const char *dev; } end[2] = {{-1, ours}, {host, "eth0"}};
    uint64_t burst = bits_per_s / 8 / 1000;
    burst = burst < 16384 ? 16384 : burst;
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "qdisc del dev %s root", end[k].dev);
        run_in(lab, end[k].ns, "tc", cmd); /* none there yet is fine */
        if (!bits_per_s)
            continue;
        snprintf(cmd, sizeof cmd, "qdisc add dev %s root tbf rate %llubit burst %llu latency 50ms",
                 end[k].dev, (unsigned long long)bits_per_s, (unsigned long long)burst);
        if (run_in(lab, end[k].ns, "tc", cmd) != 0) {
            fprintf(stderr, "lab: 'tc %s' failed\n", cmd);
            return -1;
        }
    }
    return 0;
}

/* A child that makes a namespace of its own and waits there until we go
 * (PR_SET_PDEATHSIG) or lp_lab_close kills it. */
static pid_t start_holder(int *netns)
{
    int fds[2];
    char ok = 0, path[64];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        ok = unshare(CLONE_NEWNET) == 0 ? 'R' : 'E';
        if (write(fds[1], &ok, 1) != 1 || ok != 'R')
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    bool ready = pid > 0 && read(fds[0], &ok, 1) == 1 && ok == 'R';
    close(fds[0]);
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    if (!ready || (*netns = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    return pid;
}

/* Run each of cmds in host's namespace (-1: ours); the first failure's
 * command is reported. */
static int ip_all(const lp_lab *lab, int host, const char *const *cmds, int n)
{
    for (int i = 0; i < n; i++)
        if (cmds[i][0] && lp_lab_ip(lab, host, cmds[i]) != 0) {
            fprintf(stderr, "lab: 'ip %s' failed\n", cmds[i]);
            return -1;
        }
    return 0;
}

void lp_lab_addr(lp_lab *lab, lp_lab_mode mode, int i)
{
    if (mode == LP_LAB_SWITCH) {
        snprintf(lab->us[i], sizeof lab->us[i], "10.77.0.1");
        snprintf(lab->addr[i], sizeof lab->addr[i], "10.77.0.%d", 11 + i);
    } else {
        snprintf(lab->us[i], sizeof lab->us[i], "10.77.%d.1", 1 + i);
        snprintf(lab->addr[i], sizeof lab->addr[i], "10.77.%d.2", 1 + i);
    }
}

static int link_host(lp_lab *lab, int i)
{
    char veth[128], ours[128], up[64], master[64], theirs[128], route[64], theirs6[128];
    snprintf(veth, sizeof veth, "link add lph%d type veth peer name eth0 netns %d", i,
             (int)lab->holder[i]);
    snprintf(up, sizeof up, "link set lph%d up", i);
    lp_lab_addr(lab, lab->mode, i);
    if (lab->mode == LP_LAB_SWITCH) {
        if (lab->v6)
            snprintf(lab->addr6[i], sizeof lab->addr6[i], "fd77::%d", 11 + i);
        snprintf(master, sizeof master, "link set lph%d master lpbr", i);
        ours[0] = 0;
    } else {
        snprintf(ours, sizeof ours, "addr add %s/24 dev lph%d", lab->us[i], i);
        master[0] = 0;
    }
    snprintf(theirs, sizeof theirs, "addr add %s/24 dev eth0", lab->addr[i]);
    snprintf(route, sizeof route, "route add default via %s", lab->us[i]);
    /* nodad: the address is usable at once, not "tentative" for a second */
    snprintf(theirs6, sizeof theirs6, "addr add %s/64 dev eth0 nodad", lab->addr6[i]);
    const char *here[] = {veth, master, ours, up};
    const char *there[] = {"link set lo up", theirs, "link set eth0 up",
                           lab->mode == LP_LAB_ROUTED ? route : ""};
    if (ip_all(lab, -1, here, 4) || ip_all(lab, i, there, 4))
        return -1;
    if (lab->addr6[i][0] && lp_lab_ip(lab, i, theirs6) != 0)
        lab->addr6[i][0] = 0; /* a kernel without IPv6: the lab is IPv4 only */
    return 0;
}

/* IPv4 forwarding in our namespace (each namespace has its own). */
static int forward(void)
{
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, "1", 1) == 1;
    if (fd >= 0)
        close(fd);
    if (!ok)
        fprintf(stderr, "lab: cannot turn on forwarding\n");
    return ok ? 0 : -1;
}

int lp_lab_open(lp_lab *lab, int n, lp_lab_mode mode)
{
    memset(lab, 0, sizeof *lab);
    for (int i = 0; i < LP_LAB_MAX; i++)
        lab->netns[i] = -1;
    lab->mode = mode;
    if (geteuid() != 0) {
        fprintf(stderr, "lab: network namespaces need root: skipped\n");
        return 1;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "lab: cannot make a network namespace (%s): skipped\n",
                strerror(errno));
        return 1;
    }
    int rc = lp_lab_ip(lab, -1, "link set lo up");
    if (rc == 127) {
        fprintf(stderr, "lab: iproute2's `ip` is not installed: skipped\n");
        return 1;
    }
    const char *bridge[] = {"link add lpbr type bridge", "addr add 10.77.0.1/24 dev lpbr",
                            "link set lpbr up"};
    if (rc != 0 || (mode == LP_LAB_SWITCH && ip_all(lab, -1, bridge, 3) != 0) ||
        (mode == LP_LAB_ROUTED && forward() != 0))
        return -1;
    lab->v6 = mode == LP_LAB_SWITCH &&
              lp_lab_ip(lab, -1, "addr add fd77::1/64 dev lpbr nodad") == 0;
    for (int i = 0; i < n && i < LP_LAB_MAX; i++) {
        if ((lab->holder[i] = start_holder(&lab->netns[i])) < 0)
            return -1;
        lab->n = i + 1;
        if (link_host(lab, i) != 0)
            return -1;
    }
    return n <= LP_LAB_MAX ? 0 : -1;
}

void lp_lab_close(lp_lab *lab)
{
    for (int i = 0; i < lab->n; i++) {
        if (lab->holder[i] > 0) {
            kill(lab->holder[i], SIGKILL);
            waitpid(lab->holder[i], NULL, 0);
        }
        if (lab->netns[i] >= 0)
            close(lab->netns[i]);
        lab->holder[i] = 0;
        lab->netns[i] = -1;
    }
    lab->n = 0;
    if (lab->mode == LP_LAB_SWITCH)
        lp_lab_ip(lab, -1, "link del lpbr");
}
