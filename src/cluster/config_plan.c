/* config_plan.c — a cluster file as planner inputs (config_plan.h). */
#include "config_plan.h"

#include <assert.h>

static_assert(LP_CONFIG_MAX_WORKERS == LP_PLAN_MAX_WORKERS, "one pool size limit");

int lp_config_plan_workers(const lp_config *c, lp_plan_worker *out, const char **names)
{
    for (int i = 0; i < c->n_workers; i++) {
        out[i] = (lp_plan_worker){.budget = c->workers[i].mem, .speed = c->workers[i].speed};
        if (names)
            names[i] = c->workers[i].name;
    }
    return c->n_workers;
}

void lp_config_plan_opts(const lp_config *c, const lp_plan_model *m, lp_plan_opts *o)
{
    lp_plan_opts_default(o);
    o->n_ctx = c->ctx;
    if (!o->n_ctx)
        o->n_ctx = m->n_ctx_train > 0 && m->n_ctx_train < 4096 ? (int)m->n_ctx_train : 4096;
    o->n_sessions = c->sessions;
    o->n_batch = c->batch;
    if (c->threads)
        o->n_threads = c->threads;
}
