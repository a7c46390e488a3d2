/* bpool_rpc.c — llama.cpp's rpc-servers on the lab's hosts (bpool_rpc.h). */
#include "bpool_rpc.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "route.h"

enum { RPC_PORT = 50052, START_MS = 20000 };

static pid_t spawn_server(const char *exe, const lp_lab *lab, int host, const char *addr,
                          int port, int threads)
{
    char p[16], t[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(t, sizeof t, "%d", threads);
    char *argv[] = {(char *)exe, "-H", (char *)addr, "-p", p, "-t", t, NULL};
    return lp_lab_spawn(lab, lab ? host : -1, argv);
}

int bpool_rpc_start(bpool_rpc *r, const char *exe, const lp_lab *lab, int n, int threads,
                    lp_err *err)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n && i < LP_LAB_MAX; i++) {
        const char *host = lab ? lab->addr[i] : "127.0.0.1";
        int port = lab ? RPC_PORT : RPC_PORT + i;
        if ((r->pid[i] = spawn_server(exe, lab, i, host, port, threads)) < 0) {
            bpool_rpc_stop(r);
            return lp_err_set(err, "fork failed");
        }
        r->n = i + 1;
        char ep[64], why[256];
        snprintf(ep, sizeof ep, "tcp://%s:%d", host, port);
        snprintf(r->servers + strlen(r->servers), sizeof r->servers - strlen(r->servers),
                 "%s%s:%d", i ? "," : "", host, port);
        int64_t until = lp_now_ms() + START_MS;
        while (lp_route_probe(ep, 500, why, sizeof why) != 0) {
            if (lp_now_ms() > until || waitpid(r->pid[i], NULL, WNOHANG) == r->pid[i]) {
                bpool_rpc_stop(r);
                return lp_err_set(err, "%s did not start on %s: %s", exe, ep, why);
            }
            usleep(100 * 1000);
        }
    }
    return 0;
}

void bpool_rpc_stop(bpool_rpc *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->pid[i] > 0) {
            kill(r->pid[i], SIGKILL);
            waitpid(r->pid[i], NULL, 0);
            r->pid[i] = 0;
        }
    r->n = 0;
}

int bpool_rpc_bench(const bpool_rpc *r, const char *llama_bench, const char *model,
                    int n_prompt, int n_gen, int threads, int reps, bench_stats *pp,
                    bench_stats *tg, lp_err *err)
{
    const char *extra[] = {"--rpc", r->servers, "-ngl", "99", NULL};
    lp_attn_opts attn = {0};
    bench_llama b;
    if (bench_llama_run_with(llama_bench, model, n_prompt, n_gen, &threads, 1, reps, &attn,
                             extra, &b, err) != 0)
        return -1;
    const bench_llama_row *p = bench_llama_find(&b, threads, n_prompt, 0);
    const bench_llama_row *g = bench_llama_find(&b, threads, 0, n_gen);
    if (!p || !g)
        return lp_err_set(err, "llama-bench gave no pp%d/tg%d rows", n_prompt, n_gen);
    *pp = p->st;
    *tg = g->st;
    return 0;
}
