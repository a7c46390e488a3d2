#include "http_prompt.h"

#include <stdlib.h>
#include <string.h>

static int tokenize(const sv_prompt_ctx *c, const sv_api_req *r, lp_token **ids, size_t *n,
                    lp_err *err)
{
    if (r->kind == SV_API_COMPLETION)
        return lp_tokenize(c->tok, r->prompt, strlen(r->prompt), true, true, ids, n, err);
    if (!c->tmpl_ok)
        return lp_err_set(err, "%s", c->tmpl_err);
    lp_chat_buf buf = {0};
    /* The template's text never holds BOS (chat.h): the tokenizer adds it
     * as the model says, and parses the template's control tokens. */
    int rc = lp_chat_apply(c->tmpl, r->msgs, r->n_msgs, true, &buf, err);
    if (rc == 0)
        rc = lp_tokenize(c->tok, buf.data, buf.len, true, true, ids, n, err);
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
    if (tokenize(c, r, ids, n, err) != 0)
        return refuse(ids, n, r->kind == SV_API_CHAT && !c->tmpl_ok ? 500 : 400);
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
