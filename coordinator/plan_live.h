/* plan_live.h — `coord plan --config FILE --live`: plan for the workers of
 * a cluster file that answer now, with what they report (memory they may
 * use, measured speed) instead of what the file says. */
#ifndef LP_COORD_PLAN_LIVE_H
#define LP_COORD_PLAN_LIVE_H

#include "config.h"
#include "plan.h"

/* Ask each [worker.*] of cfg for its capabilities (a few seconds at most
 * each). w/names get the ones that answered, in the file's order: budget
 * = the smaller of the file's mem and what the worker may use, speed =
 * its measured matmul rate. Those that did not answer are named on
 * stderr. Returns how many answered, or -1 (err) if the file is a
 * [local] pool (its workers do not exist until a run starts them). */
int plan_live_workers(const lp_config *cfg, lp_plan_worker *w, const char **names,
                      lp_err *err);

#endif
