/* output.h — how generated tokens reach the terminal: comma-separated ids,
 * or text through the streaming detokenizer and the stop-string filter.
 * Shared by the one-process run, the chat loop and the pipeline run. */
#ifndef LP_COORD_OUTPUT_H
#define LP_COORD_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "run_opts.h"
#include "stopstr.h"
#include "tokenizer.h"

typedef struct out_stream {
    FILE *f;
    bool ids;
    long n;                 /* tokens printed in this reply */
    lp_detok_stream *detok; /* text mode, owned */
    lp_stopstr stop;        /* owned */
} out_stream;

/* tok may be NULL in ids mode. strip_first_space: chat replies. */
int out_open(out_stream *s, FILE *f, const lp_tokenizer *tok, const run_opts *o,
             bool strip_first_space, lp_err *err);
void out_close(out_stream *s);

/* Print one token; true once a stop string has completed (stop then). */
bool out_token(out_stream *s, lp_token t);

/* End of a reply: flush what is held, a newline; ready for the next. */
void out_end(out_stream *s);

#endif
