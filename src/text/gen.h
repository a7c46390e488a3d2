/* gen.h — the course of one generation, wherever its tokens are sampled
 * (in this process, or on the pool's last worker): which token ends it and
 * why, and the text each token releases.
 *
 * Every sampled token goes through lp_gen_push, which decides, in this
 * order: an end-of-generation token (unless ignored) ends it, uncounted and
 * unshown, as llama.cpp does; otherwise the token counts, its text goes
 * through the streaming detokenizer and then the stop strings (text that
 * may begin one is held back; a completed one ends the generation, itself
 * never shown); the budget (n_predict) and the room left in the context
 * end it after the token that fills them. `coord run` in one process,
 * `coord run` on a pool and `coord serve` all feed their tokens through
 * one, so a generation ends the same way everywhere, and the cluster just
 * does what the callback holding the lp_gen says.
 *
 * Ownership: lp_gen_new returns a generation the caller owns (lp_gen_free);
 * it borrows the tokenizer and copies the stop strings. Text returned
 * points into it and is valid until the next call. */
#ifndef LP_GEN_H
#define LP_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "stopstr.h"
#include "tokenizer.h"

typedef enum lp_gen_end {
    LP_GEN_GOING = 0,
    LP_GEN_EOG,     /* an end-of-generation token */
    LP_GEN_STOPSTR, /* a stop string completed */
    LP_GEN_BUDGET,  /* n_predict tokens */
    LP_GEN_CONTEXT, /* the context is full */
} lp_gen_end;

typedef struct lp_gen_opts {
    const lp_tokenizer *tok;   /* NULL: ids only (no text, no stop strings) */
    int32_t eos;               /* the end token when tok is NULL (-1: none) */
    bool ignore_eos;           /* an end token is a token like any other */
    bool text;                 /* make text (tok needed); false: ids only */
    bool strip_first_space;    /* a chat reply's leading SPM space goes */
    long n_predict;            /* tokens at most (0: none, it starts over) */
    long n_ctx, n_prompt;      /* the context, and the prompt in it: a token
                                  can be generated while its predecessor
                                  still fits (n_ctx - n_prompt + 1 of them) */
    const char *const *stops;  /* stop strings (text mode), copied */
    size_t n_stops;
} lp_gen_opts;

typedef struct lp_gen lp_gen;

/* A generation that may start over at once (n_predict 0): check
 * lp_gen_why before the first sample. */
lp_gen *lp_gen_new(const lp_gen_opts *o, lp_err *err);
void lp_gen_free(lp_gen *g);

/* What one token did. */
typedef struct lp_gen_step {
    bool go_on;       /* feed the token back and sample another */
    bool counted;     /* part of the output (an end token is not) */
    const char *text; /* what it releases to show, len bytes (maybe none) */
    size_t len;
} lp_gen_step;

/* Take one sampled token. 0, or -1 with err (out of memory, or a token the
 * tokenizer does not know): the generation is then over. */
int lp_gen_push(lp_gen *g, int32_t token, lp_gen_step *out, lp_err *err);

/* The generation is over (go_on was false, or the caller stops it): the
 * text still held back (the detokenizer's tail, then the stop strings'
 * unless one completed). */
const char *lp_gen_flush(lp_gen *g, size_t *len);

lp_gen_end lp_gen_why(const lp_gen *g);
long lp_gen_count(const lp_gen *g);     /* tokens counted so far */
/* OpenAI's finish_reason: "stop" (end token or stop string), "length"
 * (budget or context), or NULL while it goes on. */
const char *lp_gen_finish_reason(const lp_gen *g);

#endif
