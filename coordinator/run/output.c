#include "output.h"

#include <string.h>

void out_open(out_stream *s, FILE *f, bool ids)
{
    *s = (out_stream){.f = f, .ids = ids};
}

lp_gen *out_gen(const run_opts *o, const lp_tokenizer *tok, int32_t eos, long n_ctx,
                long n_prompt, lp_err *err)
{
    const lp_gen_opts go = {.tok = tok, .eos = eos, .ignore_eos = o->ignore_eos,
                            .text = !o->ids, .strip_first_space = o->chat,
                            .n_predict = o->n_predict, .n_ctx = n_ctx, .n_prompt = n_prompt,
                            .stops = o->stops, .n_stops = o->n_stops};
    return lp_gen_new(&go, err);
}

void out_token(out_stream *s, lp_token t, const lp_gen_step *st)
{
    if (s->ids)
        fprintf(s->f, "%s%d", s->n ? "," : "", t);
    else if (st->len)
        fwrite(st->text, 1, st->len, s->f);
    s->n++;
    fflush(s->f);
}

void out_end(out_stream *s, lp_gen *g)
{
    size_t len = 0;
    const char *tail = g ? lp_gen_flush(g, &len) : "";
    if (!s->ids && len)
        fwrite(tail, 1, len, s->f);
    fputc('\n', s->f);
    fflush(s->f);
    s->n = 0;
}
