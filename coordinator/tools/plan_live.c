#include "plan_live.h"

#include <stdio.h>

#include "cluster.h"
#include "wire.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a && (!b || a < b) ? a : b;
}

static void take_routes(const lp_cluster *cl, plan_route *r, int n)
{
    for (int i = 0; i < n; i++) {
        const lp_cluster_worker *cw = lp_cluster_get_worker(cl, i);
        snprintf(r[i].control, sizeof r[i].control, "%s", cw->control);
        snprintf(r[i].via, sizeof r[i].via, "%s", cw->via);
        snprintf(r[i].data, sizeof r[i].data, "%s", cw->data);
        snprintf(r[i].sends_to, sizeof r[i].sends_to, "%s", cw->sends_to);
        snprintf(r[i].result, sizeof r[i].result, "%s", cw->result);
    }
}

int plan_live_workers(const lp_config *cfg, lp_plan_worker *w, const char **names,
                      plan_route *routes, lp_err *err)
{
    if (cfg->local)
        return lp_err_set(err, "%s: a [local] pool has no workers to ask before a run",
                          cfg->file);
    lp_cluster_opts co;
    lp_cluster_opts_default(&co);
    co.dead_after_ms = 1000; /* a worker that is up answers Hello at once */
    snprintf(co.advertise, sizeof co.advertise, "%s", cfg->advertise);
    lp_wire *wire = lp_wire_new(err);
    lp_cluster *cl = wire ? lp_cluster_new(wire, &co, err) : NULL;
    if (!cl) {
        lp_wire_free(wire);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < cfg->n_workers; i++) {
        const lp_config_worker *cw = &cfg->workers[i];
        lp_err e = {0};
        if (lp_cluster_add_worker(cl, cw->endpoint, &e) != 0) {
            fprintf(stderr, "worker %s (%s) left out: %s\n", cw->name, cw->endpoint, e.msg);
            continue;
        }
        const lp_cluster_worker *cap = lp_cluster_get_worker(cl, n);
        uint64_t can = cap->mem_limit ? cap->mem_limit : cap->ram_available;
        w[n] = (lp_plan_worker){.budget = min_u64(cw->mem, can),
                                .speed = cap->gflops > 0 ? cap->gflops : cw->speed};
        names[n++] = cw->name;
    }
    if (n > 0 && lp_cluster_routes(cl, err) != 0)
        n = -1;
    else
        take_routes(cl, routes, n);
    lp_cluster_free(cl);
    lp_wire_free(wire);
    return n;
}

void plan_live_print_routes(FILE *f, const char *const *names, const plan_route *r, int n,
                            const char *advertise)
{
    fprintf(f, "\naddresses: where we reach each worker, and where it is told to send\n");
    fprintf(f, "  %-12s %-28s %-16s %-28s %s\n", "worker", "reached at", "from (ours)",
            "sends hidden states to", "sends results to");
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-12s %-28s %-16s %-28s %s\n", names[i], r[i].control, r[i].via,
                r[i].sends_to[0] ? r[i].sends_to : "-", r[i].result);
    fprintf(f, "%s\n", advertise[0] ? "results go to [server] advertise"
                                     : "results go to our address facing each worker; the "
                                       "port is picked when the pool loads");
}
