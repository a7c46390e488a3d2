/* wire_sampling.c — sampling settings to and from the wire (wire_sampling.h). */
#include "wire_sampling.h"

void lp_wire_sampling_from(Lp__SamplingParams *out, const lp_sampler_params *p)
{
    lp__sampling_params__init(out);
    out->seed = p->seed;
    out->temp = p->temp;
    out->top_k = p->top_k;
    out->top_p = p->top_p;
    out->min_p = p->min_p;
    out->repeat_penalty = p->repeat_penalty;
    out->frequency_penalty = p->frequency_penalty;
    out->presence_penalty = p->presence_penalty;
    out->penalty_last_n = p->penalty_last_n;
}

int lp_wire_sampling_to(const Lp__SamplingParams *sp, lp_sampler_params *out, lp_err *err)
{
    if (!sp) {
        *out = (lp_sampler_params){.seed = 0, .temp = 0, .top_k = 0, .top_p = 1, .min_p = 0,
                                   .repeat_penalty = 1, .penalty_last_n = 0};
        return 0;
    }
    *out = (lp_sampler_params){.seed = sp->seed, .temp = sp->temp, .top_k = sp->top_k,
                               .top_p = sp->top_p, .min_p = sp->min_p,
                               .repeat_penalty = sp->repeat_penalty,
                               .frequency_penalty = sp->frequency_penalty,
                               .presence_penalty = sp->presence_penalty,
                               .penalty_last_n = sp->penalty_last_n};
    return lp_sampler_params_validate(out, err);
}
