/* wire_sampling.h — the sampler's settings (sampler.h) as the wire carries
 * them (Forward.sampling), in one place for both ends: the coordinator
 * sends them, the last worker builds its sampler from them. wire.h itself
 * knows nothing of sampling. */
#ifndef LP_WIRE_SAMPLING_H
#define LP_WIRE_SAMPLING_H

#include "err.h"
#include "layerpool.pb-c.h"
#include "sampler.h"

/* SamplingParams <-> lp_sampler_params (sampler.h), field by field. A
 * Forward without SamplingParams (NULL) samples greedily: temp 0, no
 * truncation, no penalties. _to validates (lp_sampler_params_validate). */
void lp_wire_sampling_from(Lp__SamplingParams *out, const lp_sampler_params *p);
int lp_wire_sampling_to(const Lp__SamplingParams *sp, lp_sampler_params *out, lp_err *err);

#endif
