/* http_prompt.h — a completion request's tokens and budget: the chat
 * template applied to its messages (chat) or its prompt (completions),
 * tokenized as llama-server does (BOS as the model says, special tokens
 * parsed), and checked against the context: prompt + max_tokens must fit.
 *
 * Ownership: *ids is malloc'd for the caller. */
#ifndef LP_COORD_HTTP_PROMPT_H
#define LP_COORD_HTTP_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "http_json.h"
#include "tokenizer.h"

typedef struct sv_prompt_ctx {
    const lp_tokenizer *tok;
    lp_chat_tmpl tmpl;         /* resolved once at start */
    bool tmpl_ok;
    char tmpl_err[512];        /* why chat cannot be served, if !tmpl_ok */
    int n_ctx;
} sv_prompt_ctx;

/* 0, or the HTTP status to answer (400, 413, 500) with err saying why.
 * Fills *n_predict (max_tokens, or what the context leaves) and resolves
 * r->sp.penalty_last_n -1 to the context. */
int sv_prompt_build(const sv_prompt_ctx *c, sv_api_req *r, lp_token **ids, size_t *n,
                    int *n_predict, lp_err *err);

#endif
