/* config_plan.h — a cluster file's workers and model options as the
 * planner's inputs (plan.h), kept apart from the file's parser (config.h),
 * which knows nothing of planning. */
#ifndef LP_CONFIG_PLAN_H
#define LP_CONFIG_PLAN_H

#include "config.h"
#include "plan.h"

/* Planner inputs as the config states them: budgets from mem, speeds from
 * speed. The coordinator, once workers answer, replaces these with what
 * they report (e.g. budget = min(mem, reported limit), speed = measured
 * GFLOP/s) before lp_plan_make. Returns n_workers; names[i] (may be NULL)
 * get pointers into c. */
int lp_config_plan_workers(const lp_config *c, lp_plan_worker *out, const char **names);

/* Plan options from the config (ctx 0 resolved as lp_shard does: the
 * model's training context, at most 4096; threads 0 planned as 16). */
void lp_config_plan_opts(const lp_config *c, const lp_plan_model *m, lp_plan_opts *o);

#endif
