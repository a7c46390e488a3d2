/* score.c — scoring steps on the last worker (score.h). The arithmetic is
 * perplexity.c's, the same the coordinator uses in one process, so a pool
 * reports the same figures bit for bit. */
#include "score.h"

#include <stdio.h>
#include <stdlib.h>

#include "perplexity.h"

int wk_score_check(const Lp__Forward *f, uint32_t n_vocab, char *why, size_t cap)
{
    for (size_t i = 0; i < f->n_score_targets; i++)
        if (f->score_targets[i] < 0 || (uint32_t)f->score_targets[i] >= n_vocab) {
            snprintf(why, cap, "scoring target %d outside the vocabulary of %u",
                     f->score_targets[i], n_vocab);
            return -1;
        }
    return 0;
}

int wk_score_n_logits(const Lp__Forward *f)
{
    if (f->n_score_targets == 0)
        return 0;
    return (int)(f->pos0 + f->n_tokens - f->score_pos);
}

/* Rows per Result: at most WK_SCORE_ROWS_PER_MSG, and at most a quarter of
 * the wire's cap, so a large vocabulary still fits (one row at least). */
static size_t rows_per_msg(uint32_t n_vocab)
{
    const size_t row = (size_t)n_vocab * sizeof(float), fit = (LP_WIRE_MAX_MSG / 4) / row;
    const size_t n = fit < WK_SCORE_ROWS_PER_MSG ? fit : WK_SCORE_ROWS_PER_MSG;
    return n ? n : 1;
}

static int send_rows(const Lp__Forward *f, const float *logits, uint32_t n_vocab,
                     const Lp__Result *base, int (*send)(void *, Lp__Result *), void *ctx)
{
    const size_t n = f->n_score_targets, per = rows_per_msg(n_vocab);
    for (size_t done = 0; done < n;) {
        const size_t k = n - done < per ? n - done : per;
        Lp__Result r = *base;
        r.score_pos = f->score_pos + (uint32_t)done;
        r.score_rows = (ProtobufCBinaryData){k * n_vocab * sizeof(float),
                                             (uint8_t *)(logits + done * n_vocab)};
        done += k;
        r.more = done < n;
        int rc = send(ctx, &r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int wk_score_answer(const Lp__Forward *f, const float *logits, uint32_t n_vocab,
                    const Lp__Result *base, int (*send)(void *ctx, Lp__Result *r), void *ctx)
{
    if (f->score_rows)
        return send_rows(f, logits, n_vocab, base, send, ctx);
    const size_t n = f->n_score_targets;
    double *nll = malloc(sizeof *nll * n);
    int32_t *top = malloc(sizeof *top * n);
    Lp__Result r = *base;
    int rc = -2;
    if (nll && top) {
        for (size_t i = 0; i < n; i++)
            lp_ppl_score_row(logits + i * n_vocab, (int)n_vocab, f->score_targets[i], &nll[i],
                             &top[i]);
        r.score_pos = f->score_pos;
        r.n_score_nll = r.n_score_top = n;
        r.score_nll = nll;
        r.score_top = top;
        rc = send(ctx, &r);
    }
    free(nll);
    free(top);
    return rc;
}
