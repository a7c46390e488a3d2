/* sampler.h — choose the next token from a logit vector.
 *
 * The sampler runs where the logits are: in a pipeline, on the last worker.
 * Its settings are therefore a plain value (lp_sampler_params: fixed size,
 * no pointers) that the coordinator fills in and a wire message carries;
 * its state (RNG, recent-token window, scratch sized to n_vocab) is a
 * separate object created once per session and reused for every token
 * without allocating.
 *
 * What one lp_sampler_sample does, in llama.cpp's common-sampler order:
 *   penalties -> top_k -> top_p -> min_p -> temperature -> softmax -> draw
 * with llama.cpp's definitions of each step (src/llama-sampling.cpp):
 *   penalties: for every token seen c > 0 times in the last penalty_last_n
 *     accepted tokens, logit = logit <= 0 ? logit * repeat : logit / repeat,
 *     then logit -= c * frequency + presence.
 *   top_k: keep the k largest logits (k = 0: keep all).
 *   top_p: softmax (at temperature 1) over what is left, keep the smallest
 *     prefix of the descending order whose cumulative p reaches top_p.
 *   min_p: keep tokens whose logit >= max logit + log(min_p), i.e. whose
 *     p >= min_p * p_max (min_p = 0: keep all).
 *   temperature: divide the remaining logits by temp; softmax; draw one
 *     with the session's RNG.
 * temp == 0 is greedy: penalties, then argmax over all tokens (ties go to
 * the lowest id, as llama.cpp's greedy sampler does). Truncation cannot
 * change the argmax, so it is skipped.
 * Ordering among equal logits is by ascending id everywhere, so results
 * are deterministic and identical on every platform.
 *
 * The RNG is xoshiro256** seeded through splitmix64 (both by Blackman and
 * Vigna, public domain algorithms): the same seed gives the same draws
 * everywhere. We do not reproduce llama.cpp's mt19937 draws.
 *
 * Stop conditions (EOS/EOT tokens, stop strings) are the caller's job.
 *
 * Ownership: lp_sampler_new returns a sampler the caller owns and frees with
 * lp_sampler_free. The sampler does not keep the logits pointer. Not
 * thread-safe: one session's sampler is used by one thread at a time. */
#ifndef LP_SAMPLER_H
#define LP_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A seed value meaning "draw one from the OS at lp_sampler_new"; the seed
 * actually used is then reported by lp_sampler_seed. */
#define LP_SAMPLER_SEED_RANDOM UINT64_MAX

/* Upper bounds that keep a hostile message from making us allocate
 * absurd amounts: 16M-entry vocabularies, a 1M-token penalty window. */
#define LP_SAMPLER_MAX_VOCAB (1 << 24)
#define LP_SAMPLER_MAX_LAST_N (1 << 20)

typedef struct lp_sampler_params {
    uint64_t seed;           /* RNG seed; LP_SAMPLER_SEED_RANDOM = from the OS */
    float temp;              /* >= 0; 0 = greedy */
    int32_t top_k;           /* >= 0; 0 = off */
    float top_p;             /* (0, 1]; 1 = off */
    float min_p;             /* [0, 1]; 0 = off */
    float repeat_penalty;    /* > 0; 1 = off */
    float frequency_penalty; /* finite; 0 = off (OpenAI's frequency_penalty) */
    float presence_penalty;  /* finite; 0 = off (OpenAI's presence_penalty) */
    int32_t penalty_last_n;  /* window of accepted tokens, [0, MAX_LAST_N]; 0 = no penalties.
                                llama.cpp's -1 ("whole context") must be
                                resolved to n_ctx by the caller. */
} lp_sampler_params;

_Static_assert(sizeof(lp_sampler_params) == 40, "lp_sampler_params layout");

/* llama.cpp's common defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat 1.0 (off), last_n 64, frequency/presence 0, seed random. */
lp_sampler_params lp_sampler_params_default(void);

/* 0 if every field is in range, else -1 with err naming the field. */
int lp_sampler_params_validate(const lp_sampler_params *p, lp_err *err);

typedef struct lp_sampler lp_sampler;

/* Validates params and n_vocab (1..LP_SAMPLER_MAX_VOCAB) and allocates all
 * state: about 16 bytes per vocabulary entry plus 4 per window slot. */
lp_sampler *lp_sampler_new(const lp_sampler_params *params, int32_t n_vocab, lp_err *err);
void lp_sampler_free(lp_sampler *s);

/* Forget the token history and restart the RNG from the same seed. */
void lp_sampler_reset(lp_sampler *s);

/* Record a token in the penalty window: every prompt token and every token
 * kept after sampling (lp_sampler_sample does not record by itself, so the
 * caller decides what counts as history). -1 if token is not in
 * [0, n_vocab). */
int lp_sampler_accept(lp_sampler *s, int32_t token, lp_err *err);

/* Choose a token from logits[0..n_vocab). Logits are not modified. NaN
 * logits count as -inf. Returns the token id, or -1 (with err) when no
 * token has a finite logit. */
int32_t lp_sampler_sample(lp_sampler *s, const float *logits, lp_err *err);

/* The candidates the last lp_sampler_sample drew from, in draw order
 * (descending logit unless no truncation ran), with their final
 * probabilities (after temperature). After a greedy sample: the one chosen
 * token with p = 1. Points into s; valid until the next call on s. */
typedef struct lp_token_prob {
    int32_t id;
    float logit; /* after penalties and temperature */
    float p;
} lp_token_prob;
const lp_token_prob *lp_sampler_candidates(const lp_sampler *s, size_t *n);

/* Apply the penalty step alone, in place, to logits[0..n_vocab): what
 * lp_sampler_sample does first. For tests and for logprob reporting. */
void lp_sampler_apply_penalties(const lp_sampler *s, float *logits);

/* The seed in use (the drawn one if LP_SAMPLER_SEED_RANDOM was given). */
uint64_t lp_sampler_seed(const lp_sampler *s);

/* ---- the generator, exposed so its output can be pinned by tests ---- */
typedef struct lp_rng {
    uint64_t s[4];
} lp_rng;

void lp_rng_seed(lp_rng *r, uint64_t seed); /* splitmix64 fills the state */
uint64_t lp_rng_next(lp_rng *r);            /* xoshiro256** */
double lp_rng_uniform(lp_rng *r);           /* [0, 1), 53 random bits */

#endif
