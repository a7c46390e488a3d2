/* plan_live.h — `coord plan --config FILE --live`: plan for the workers of
 * a cluster file that answer now, with what they report (memory they may
 * use, measured speed) instead of what the file says. */
#ifndef LP_COORD_PLAN_LIVE_H
#define LP_COORD_PLAN_LIVE_H

#include <stdio.h>

#include "config.h"
#include "plan.h"

/* The addresses of one answering worker (cluster.h's fields): as we
 * reach it, from which of our addresses, and where it would be told to
 * send hidden states (the next answering worker) and results. */
typedef struct plan_route {
    char control[256], via[64], data[256], sends_to[256], result[256];
} plan_route;

/* Ask each [worker.*] of cfg for its capabilities (a few seconds at most
 * each). w/names get the ones that answered, in the file's order: budget
 * = the smaller of the file's mem and what the worker may use, speed =
 * its measured matmul rate; routes the addresses above (the result
 * ports are ours for the moment only: a load binds its own). Those that
 * did not answer are named on
 * stderr. Returns how many answered, or -1 (err) if the file is a
 * [local] pool (its workers do not exist until a run starts them). */
int plan_live_workers(const lp_config *cfg, lp_plan_worker *w, const char **names,
                      plan_route *routes, lp_err *err);

/* The address table of n answering workers, for a user to see a wrong
 * route at a glance. */
void plan_live_print_routes(FILE *f, const char *const *names, const plan_route *r, int n,
                            const char *advertise);

#endif
