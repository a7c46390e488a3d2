#include "http_prompt.h"

#include <stdlib.h>
#include <string.h>

/* A text that cannot fit the context whatever its tokens are is refused
 * before it is tokenized (a 4 MiB body would take seconds). 413 with err,
 * or 0. */
static int too_long(const sv_prompt_ctx *c, const sv_api_req *r, size_t len, lp_err *err)
{
    size_t at_least = len / lp_tokenizer_max_token_bytes(c->tok);
    long long want = r->max_tokens > 0 ? r->max_tokens : 1;
    if ((long long)at_least + want <= c->n_ctx)
        return 0;
    lp_err_set(err, "the prompt (%zu bytes, so at least %zu tokens) leaves no room for %lld "
               "more in the context of %d tokens", len, at_least, want, c->n_ctx);
    return 413;
}

/* 0, or a status (400, 413, 500) with err. */
static int tokenize(const sv_prompt_ctx *c, const sv_api_req *r, lp_token **ids, size_t *n,
                    lp_err *err)
{
    if (r->kind == SV_API_COMPLETION) {
        size_t len = strlen(r->prompt);
        int st = too_long(c, r, len, err);
        return st ? st : lp_tokenize(c->tok, r->prompt, len, true, true, ids, n, err) ? 400 : 0;
    }
    if (!c->tmpl_ok)
        return lp_err_set(err, "%s", c->tmpl_err), 500;
    lp_chat_buf buf = {0};
    /* The template's text never holds BOS (chat.h): the tokenizer adds it
     * as the model says, and parses the template's control tokens. */
    int rc = lp_chat_apply(c->tmpl, r->msgs, r->n_msgs, true, &buf, err) ? 400 : 0;
    if (rc == 0)
        rc = too_long(c, r, buf.len, err);
    if (rc == 0)
        rc = lp_tokenize(c->tok, buf.data, buf.len, true, true, ids, n, err) ? 400 : 0;
    lp_chat_buf_free(&buf);
    return rc;
}

static int refuse(lp_token **ids, size_t *n, int status)
{
    free(*ids);
    *ids = NULL;
    *n = 0;
    return status;
}

int sv_prompt_build(const sv_prompt_ctx *c, sv_api_req *r, lp_token **ids, size_t *n,
                    int *n_predict, lp_err *err)
{
    *ids = NULL;
    *n = 0;
    int st = tokenize(c, r, ids, n, err);
    if (st != 0)
        return refuse(ids, n, st);
    if (*n == 0)
        return lp_err_set(err, "the prompt is empty"), refuse(ids, n, 400);
    long long want = r->max_tokens > 0 ? r->max_tokens : 1;
    if ((long long)*n + want > c->n_ctx) {
        if (r->max_tokens > 0)
            lp_err_set(err, "the prompt (%zu tokens) plus max_tokens (%d) is %lld tokens, "
                       "beyond the context of %d", *n, r->max_tokens, (long long)*n + want,
                       c->n_ctx);
        else
            lp_err_set(err, "the prompt (%zu tokens) leaves no room in the context of %d "
                       "tokens", *n, c->n_ctx);
        return refuse(ids, n, 413);
    }
    *n_predict = r->max_tokens > 0 ? r->max_tokens : c->n_ctx - (int)*n;
    if (r->sp.penalty_last_n < 0)
        r->sp.penalty_last_n = c->n_ctx;
    /* What the last worker would refuse is the request's fault: say so now. */
    if (lp_sampler_params_validate(&r->sp, err) != 0)
        return refuse(ids, n, 400);
    return 0;
}
