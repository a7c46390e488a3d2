#include "plan_live.h"

#include <stdio.h>

#include "cluster.h"
#include "wire.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a && (!b || a < b) ? a : b;
}

int plan_live_workers(const lp_config *cfg, lp_plan_worker *w, const char **names,
                      lp_err *err)
{
    if (cfg->local)
        return lp_err_set(err, "%s: a [local] pool has no workers to ask before a run",
                          cfg->file);
    lp_cluster_opts co;
    lp_cluster_opts_default(&co);
    co.dead_after_ms = 1000; /* a worker that is up answers Hello at once */
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
    lp_cluster_free(cl);
    lp_wire_free(wire);
    return n;
}
