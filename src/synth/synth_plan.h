/* synth_plan.h — planning a model that is not here: one of coord synth's
 * shapes (synth.h) at one of llama.cpp's file types (quant_mix.h).
 * lp_synth_plan_model has lp_synth_new plan that file (nothing is written)
 * and hands its tensors to the planner's builder (plan.h), which counts
 * them as it counts a GGUF's: the same names, shapes and per-tensor types
 * (llama-quantize's rules), so a plan for a shape is the plan for the file
 * `coord synth` (or llama-quantize) would make. The planner itself knows
 * nothing of synth. */
#ifndef LP_SYNTH_PLAN_H
#define LP_SYNTH_PLAN_H

#include <stdio.h>

#include "err.h"
#include "plan.h"
#include "quant_mix.h"

typedef struct lp_synth_spec {
    const char *name; /* a synth shape: "llama3-70b" */
    lp_ftype ftype;   /* LP_FTYPE_Q4_K_M */
} lp_synth_spec;

/* llama3-70b at Q4_K_M (Llama 3.1 70B): 42,512,531,712 bytes of tensor
 * data, as llama.cpp's Q4_K_M file holds. */
extern const lp_synth_spec LP_SYNTH_LLAMA70B_Q4_K_M;

/* The file type a shape gets when none is named. */
#define LP_SYNTH_DEFAULT_FTYPE LP_FTYPE_Q4_K_M

/* `coord plan --shape SPEC [--type TYPE]`: SPEC is NAME or NAME:TYPE, NAME
 * a synth shape or the alias "llama70b-q4_k_m" (llama3-70b:Q4_K_M); TYPE
 * (case-insensitive, as lp_ftype_parse takes it) comes after the colon or in
 * `type` (NULL: none), not both; none at all gives LP_SYNTH_DEFAULT_FTYPE.
 * 0, or -1 with err naming what is wrong and listing the valid shapes or
 * types. out->name points at a static string. */
int lp_synth_spec_parse(const char *spec, const char *type, lp_synth_spec *out, lp_err *err);

/* The shapes a line each, a "types:" heading, the file types a line each:
 * the end of coord plan's and coord synth's help, after "shapes:". */
void lp_synth_list_shapes(FILE *f);

/* The planner's model of spec s (-1 with err for an unknown shape or a type
 * the shape's rows cannot take). */
int lp_synth_plan_model(const lp_synth_spec *s, lp_plan_model *m, lp_err *err);

#endif
