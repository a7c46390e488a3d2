/* lab.h — a few hosts on this machine, joined by real links, for the
 * tests of a pool that must cross a network and for `coord bench-pool`:
 * 127.0.0.1 is one host, and a pool tested there hides every addressing
 * bug (an address that only means something on the coordinator's machine
 * works for workers that share it) and every cost of a real link. The
 * links can be capped to a home network's speed (lp_lab_rate).
 *
 * lp_lab_open moves the calling process into a network namespace of its
 * own (the coordinator's host: loopback and the links below, nothing
 * else) and starts n hosts, each a network namespace held by a child
 * process, joined to ours by a veth pair:
 *
 *   LP_LAB_SWITCH  every host on one bridge in our namespace, as machines
 *                  on a home switch: 10.77.0.0/24, we are 10.77.0.1, host
 *                  i is 10.77.0.(11 + i); also IPv6, fd77::/64, we are
 *                  fd77::1, host i fd77::(11 + i), where the kernel has
 *                  IPv6 (addr6 "" where not); hosts reach each other.
 *   LP_LAB_ROUTED  host i on a link of its own, 10.77.(1 + i).0/24 (we are
 *                  .1, it is .2), and we route between them: hosts reach
 *                  each other through us, and each reaches us at another
 *                  of our addresses (a coordinator with several
 *                  interfaces).
 *   LP_LAB_APART   the same links, nothing forwarded: hosts reach us but
 *                  not each other.
 *
 * Cleanup cannot be forgotten: the namespaces have no names (nothing in
 * /run/netns), and every process in them (holders, workers started with
 * lp_test_worker_start_in) dies with this process (PR_SET_PDEATHSIG), so
 * the namespaces, links and bridge vanish with us, also when a test fails
 * or is killed. lp_lab_close tears them down earlier.
 *
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2's `ip`; where
 * either is missing lp_lab_open says so and the caller skips. */
#ifndef LP_LAB_H
#define LP_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LP_LAB_MAX 4

typedef enum lp_lab_mode { LP_LAB_SWITCH, LP_LAB_ROUTED, LP_LAB_APART } lp_lab_mode;

typedef struct lp_lab {
    int n;
    lp_lab_mode mode;
    pid_t holder[LP_LAB_MAX];  /* keeps host i's namespace alive; 0 once gone */
    int netns[LP_LAB_MAX];     /* its namespace (open fd), for setns */
    char addr[LP_LAB_MAX][32]; /* host i's address */
    char addr6[LP_LAB_MAX][32]; /* its IPv6 address (LP_LAB_SWITCH), else "" */
    bool v6;                    /* IPv6 too (a kernel may have it off) */
    char us[LP_LAB_MAX][32];   /* our address on the link to host i */
} lp_lab;

/* 0: ready. 1: cannot on this machine (the reason printed: not root, no
 * `ip`, namespaces refused), so the caller skips. -1 on any other error
 * (the failing `ip` command printed). */
int lp_lab_open(lp_lab *lab, int n, lp_lab_mode mode);

/* Fill host i's addr and us as lp_lab_open gives them in this mode. */
void lp_lab_addr(lp_lab *lab, lp_lab_mode mode, int i);

/* Run `ip ARGS` (ARGS split on spaces) in host i's namespace (-1: ours);
 * its exit status. */
int lp_lab_ip(const lp_lab *lab, int host, const char *args);

/* Start argv (argv[0] looked up in PATH) in host's namespace (-1: ours;
 * lab may then be NULL), its output discarded; it dies with us
 * (PR_SET_PDEATHSIG). Its pid (the caller reaps it), or -1. */
pid_t lp_lab_spawn(const lp_lab *lab, int host, char *const argv[]);

/* Cap host i's link to bits_per_s in each direction (0: no cap), with
 * tc's token bucket filter on both ends of its veth; a burst of 1 ms at
 * that rate (at least 16 KiB) keeps each packet's queueing as a real link
 * of that speed would. Needs tc (iproute2); 0, or -1 with the failing
 * command printed. */
int lp_lab_rate(const lp_lab *lab, int host, uint64_t bits_per_s);

/* Stop the hosts (their workers must be gone or go with them). Our own
 * namespace stays, with only loopback, until the next lp_lab_open. */
void lp_lab_close(lp_lab *lab);

#endif
