/* score.h — the last worker's side of scoring (coord perplexity): per
 * scored position, -log p(next token) and the top token, or the logit rows,
 * sent back as one or more Results (Forward.score_targets in the proto). */
#ifndef WK_SCORE_H
#define WK_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Why a scoring step cannot run on a shard of n_vocab tokens (a target
 * outside the vocabulary), written to why; 0 when it can. */
int wk_score_check(const Lp__Forward *f, uint32_t n_vocab, char *why, size_t cap);

/* Rows of logits the forward pass must return for the step: those of every
 * position from score_pos to the step's end, as llama.cpp computes outputs
 * for every position from the first scored one (the step's last position
 * included), so the last layer runs on the same rows. 0 when not scoring. */
int wk_score_n_logits(const Lp__Forward *f);

/* Answer a scoring step: logits holds wk_score_n_logits(f) rows of
 * n_vocab. Each Result is `base` (session, pos, compute times filled by the
 * caller) plus this step's scores, handed to send(ctx, result); rows go at
 * most WK_SCORE_ROWS_PER_MSG (and far less than the wire's size cap) per
 * Result. Returns send's first non-zero result, -2 when out of memory
 * (nothing sent), else 0. */
#define WK_SCORE_ROWS_PER_MSG 64
int wk_score_answer(const Lp__Forward *f, const float *logits, uint32_t n_vocab,
                    const Lp__Result *base, int (*send)(void *ctx, Lp__Result *r), void *ctx);

#endif
