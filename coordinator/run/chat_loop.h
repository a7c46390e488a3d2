/* chat_loop.h — `coord run --chat`: read one user turn per line, format the
 * whole conversation with the model's chat template, let an engine produce
 * the reply (streaming it), keep the reply as the assistant's turn. Ends at
 * end of input. The engine is a callback, so the one-process run (which
 * keeps the conversation's KV and feeds only new tokens) and the pipeline
 * (a session per turn) share the loop. */
#ifndef LP_COORD_CHAT_LOOP_H
#define LP_COORD_CHAT_LOOP_H

#include <stdio.h>

#include "gguf.h"
#include "run_opts.h"
#include "local.h"
#include "tokenizer.h"

/* Generate a reply to the conversation whose tokens are ids[0..n) (the
 * assistant's turn opened), printing it as it comes; append its tokens to
 * reply. */
typedef int (*chat_turn_fn)(void *engine, const lp_token *ids, size_t n, run_tokens *reply,
                            lp_err *err);

typedef struct chat_engine {
    const lp_gguf *gguf;       /* for tokenizer.chat_template */
    const lp_tokenizer *tok;
    chat_turn_fn turn;
    void *ctx;
} chat_engine;

int chat_loop(const chat_engine *e, const run_opts *o, FILE *in, lp_err *err);

/* The one-process engine: s keeps the conversation's KV between turns. */
int chat_turn_local(void *session_ptr, const lp_token *ids, size_t n, run_tokens *reply,
                    lp_err *err);

#endif
