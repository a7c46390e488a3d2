/* logprob.h — log-probabilities of the raw logits (before any sampler
 * step), as OpenAI-style APIs report them: log softmax(logits).
 * Allocates nothing. */
#ifndef WK_LOGPROB_H
#define WK_LOGPROB_H

#include <stdint.h>

/* log(sum(exp(logits))), computed stably; NaN logits count as -inf. */
double wk_log_sum_exp(const float *logits, int n);

/* The k tokens of highest logit, best first (ties: lower id first), with
 * their log-probabilities (logit - lse). ids/lp have room for k; returns
 * how many were written (min(k, n)). */
int wk_top_logprobs(const float *logits, int n, double lse, int k, int32_t *ids, float *lp);

#endif
