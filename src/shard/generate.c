#include "generate.h"

int lp_prefill(lp_shard *s, int slot, const int32_t *tokens, int n,
               const float **logits, lp_err *err)
{
    if (n < 1)
        return lp_err_set(err, "prefill: the prompt is empty");
    if (!s->model->has_embed || !s->model->has_head)
        return lp_err_set(err, "prefill: needs a shard holding the whole model");
    for (int done = 0; done < n;) {
        int chunk = n - done < s->opts.n_batch ? n - done : s->opts.n_batch;
        lp_fwd_in in = {.n = chunk, .pos0 = lp_kv_len(s->kv, slot), .tokens = tokens + done};
        if (lp_forward(s->run, s->kv, slot, &in, logits, err) != 0)
            return -1;
        done += chunk;
    }
    return 0;
}

int lp_decode_one(lp_shard *s, int slot, int32_t token, const float **logits,
                  lp_err *err)
{
    return lp_prefill(s, slot, &token, 1, logits, err);
}

int32_t lp_argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}
