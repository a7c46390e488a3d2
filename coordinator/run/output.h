/* output.h — how generated tokens reach the terminal: comma-separated ids,
 * or the text the generation releases (gen.h decides what that is: the
 * streaming detokenizer and the stop strings live there). Shared by the
 * one-process run, the chat loop and the pipeline run, which each make a
 * reply's generation with out_gen. */
#ifndef LP_COORD_OUTPUT_H
#define LP_COORD_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "gen.h"
#include "run_opts.h"
#include "tokenizer.h"

typedef struct out_stream {
    FILE *f;
    bool ids;
    long n;                 /* tokens printed in this reply */
} out_stream;

void out_open(out_stream *s, FILE *f, bool ids);

/* The generation of one reply under o's options (budget -n, --stop,
 * --ignore-eos, ids or text, a chat reply's first space): the context has
 * n_ctx positions, n_prompt of them taken. tok NULL: ids only, eos the end
 * token (-1: none). NULL with err on failure; the caller frees it. */
lp_gen *out_gen(const run_opts *o, const lp_tokenizer *tok, int32_t eos, long n_ctx,
                long n_prompt, lp_err *err);

/* Print one token the generation counted (its id, or what st released). */
void out_token(out_stream *s, lp_token t, const lp_gen_step *st);

/* End of a reply: the text the generation still held, a newline; ready
 * for the next. */
void out_end(out_stream *s, lp_gen *g);

#endif
