/* plan_internal.h — pieces of plan_model.c the planner (plan.c) reuses so
 * that its fast search and the public per-shard functions count the same
 * bytes. Not part of the public API. */
#ifndef LP_PLAN_INTERNAL_H
#define LP_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"

uint64_t lp_plan_sat_add(uint64_t a, uint64_t b);
uint64_t lp_plan_sat_mul(uint64_t a, uint64_t b);

/* Embedding / head bytes of shard [first, last) (weights minus its layers
 * and rope_freqs). */
uint64_t lp_plan_ends_bytes(const lp_plan_model *m, int first, int last);

/* lp_run_new's buffers apart from the matmul scratch (which depends on the
 * shard's layers; attention's as flash attention or not), and that scratch
 * given the widest layer dot row. */
uint64_t lp_plan_run_fixed_bytes(const lp_plan_model *m, int n_batch, int n_ctx,
                                 int n_threads, bool flash);
uint64_t lp_plan_scratch_bytes(const lp_plan_model *m, uint64_t widest_layer_row, int n_batch,
                               bool has_head);

#endif
