#include "local.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "generate.h"
#include "vec.h"

int run_tokens_push(run_tokens *l, lp_token t)
{
    lp_token *ids = lp_vec_reserve(l->ids, &l->cap, l->n, 1, sizeof *ids);
    if (!ids)
        return -1;
    l->ids = ids;
    l->ids[l->n++] = t;
    return 0;
}

int run_local_open(run_local *s, const run_opts *o, lp_err *err)
{
    memset(s, 0, sizeof *s);
    s->opts = o;
    if (!(s->shard = lp_shard_open(o->model, &o->shard, err)))
        return -1;
    if (lp_gguf_find(s->shard->gguf, "tokenizer.ggml.model") &&
        !(s->tok = lp_tokenizer_load(s->shard->gguf, err)))
        return -1;
    if (!s->tok && (o->prompt || o->chat || !o->ids))
        return lp_err_set(err, "this model has no tokenizer: use --tokens and --ids");
    out_open(&s->out, stdout, o->ids);
    s->cap_past = (size_t)s->shard->opts.n_ctx;
    if (!(s->past = malloc(s->cap_past * sizeof *s->past)))
        return lp_err_set(err, "out of memory");
    if (!(s->sampler = lp_sampler_new(&o->sampling, (int32_t)s->shard->model->hp.n_vocab, err)))
        return -1;
    return (s->slot = lp_kv_open(s->shard->kv, 1, err)) < 0 ? -1 : 0;
}

void run_local_close(run_local *s)
{
    free(s->past);
    lp_sampler_free(s->sampler);
    lp_tokenizer_free(s->tok);
    lp_shard_close(s->shard);
    memset(s, 0, sizeof *s);
}

int run_local_set_context(run_local *s, const lp_token *toks, size_t n, const float **logits,
                        lp_err *err)
{
    if (n == 0)
        return lp_err_set(err, "the prompt is empty");
    if (n > s->cap_past)
        return lp_err_set(err, "the prompt (%zu tokens) does not fit the context of %zu "
                          "(raise -c)", n, s->cap_past);
    size_t keep = 0;
    while (keep < s->n_past && keep < n && s->past[keep] == toks[keep])
        keep++;
    if (keep == n) /* logits of the last token must be recomputed */
        keep--;
    if (lp_kv_set_len(s->shard->kv, s->slot, (int)keep, err) != 0)
        return -1;
    s->n_past = keep;
    for (size_t i = keep; i < n; i++)
        if (lp_sampler_accept(s->sampler, toks[i], err) != 0)
            return -1;
    double t0 = lp_now_s();
    if (lp_prefill(s->shard, s->slot, toks + keep, (int)(n - keep), logits, err) != 0)
        return -1;
    s->t_prompt += lp_now_s() - t0;
    s->n_prompt_eval += (long)(n - keep);
    memcpy(s->past + keep, toks + keep, (n - keep) * sizeof *toks);
    s->n_past = n;
    return 0;
}

/* The end token of a model without a tokenizer (ids only), or -1. */
static int32_t bare_eos(const run_local *s)
{
    uint32_t eos;
    return !s->tok && lp_gguf_get_u32(s->shard->gguf, "tokenizer.ggml.eos_token_id", &eos) == 0 &&
                   eos <= INT32_MAX
               ? (int32_t)eos
               : -1;
}

int run_local_generate(run_local *s, const run_opts *o, const float *logits, run_tokens *reply,
                     lp_err *err)
{
    double t0 = lp_now_s();
    lp_gen *g = out_gen(o, s->tok, bare_eos(s), (long)s->cap_past, (long)s->n_past, err);
    lp_gen_step st = {.go_on = g && lp_gen_why(g) == LP_GEN_GOING};
    int rc = g ? 0 : -1;
    while (rc == 0 && st.go_on) {
        lp_token t = lp_sampler_sample(s->sampler, logits, err);
        if (t < 0 || lp_sampler_accept(s->sampler, t, err) != 0 ||
            lp_gen_push(g, t, &st, err) != 0) {
            rc = -1;
            break;
        }
        if (st.counted) {
            out_token(&s->out, t, &st);
            if (reply && run_tokens_push(reply, t) != 0)
                rc = lp_err_set(err, "out of memory");
        }
        if (rc == 0 && st.go_on && (rc = lp_decode_one(s->shard, s->slot, t, &logits, err)) == 0)
            s->past[s->n_past++] = t;
    }
    out_end(&s->out, g);
    s->t_gen += lp_now_s() - t0;
    s->n_gen += g ? lp_gen_count(g) : 0;
    lp_gen_free(g);
    return rc;
}

void run_local_report_speed(const run_local *s)
{
    fprintf(stderr, "prompt eval: %ld tokens in %.2f ms (%.2f tok/s)\n", s->n_prompt_eval,
            s->t_prompt * 1e3, s->t_prompt > 0 ? s->n_prompt_eval / s->t_prompt : 0.0);
    fprintf(stderr, "generation:  %ld tokens in %.2f ms (%.2f tok/s)\n", s->n_gen,
            s->t_gen * 1e3, s->n_gen > 0 && s->t_gen > 0 ? s->n_gen / s->t_gen : 0.0);
}
