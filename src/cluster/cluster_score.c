/* cluster_score.c — scoring sessions (coord perplexity) on the data path:
 * which positions each prompt chunk asks the last worker to score, and the
 * scores that come back, checked and handed to the session's score_cb. */
#include "cluster_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl_score_fill(const cl_session *s, Lp__Forward *f, int pos0, int n)
{
    if (!s->score_cb)
        return;
    /* positions of this chunk that have a next prompt token to score */
    const int from = pos0 > s->score_from ? pos0 : s->score_from;
    const int to = pos0 + n < s->n_prompt - 1 ? pos0 + n : s->n_prompt - 1;
    if (to <= from)
        return;
    f->score_pos = (uint32_t)from;
    f->n_score_targets = (size_t)(to - from);
    f->score_targets = s->prompt + from + 1;
    f->score_rows = s->score_rows;
}

/* The Result must cover positions the session asked for, in the form it
 * asked for, and nothing else: it comes from the network. */
static int check_scores(const lp_cluster *c, const cl_session *s, const Lp__Result *r,
                        size_t *n, char *why, size_t cap)
{
    const size_t row = (size_t)c->n_vocab * sizeof(float);
    *n = s->score_rows ? (row ? r->score_rows.len / row : 0) : r->n_score_nll;
    if (s->score_rows && (r->n_score_nll || r->score_rows.len % row))
        snprintf(why, cap, "scoring: %zu bytes of rows are not whole rows of %u logits",
                 r->score_rows.len, c->n_vocab);
    else if (!s->score_rows && r->score_rows.len)
        snprintf(why, cap, "scoring: rows came back where scores were asked for");
    else if (*n && (r->score_pos < (uint32_t)s->score_from ||
                    r->score_pos + *n > (size_t)(s->n_prompt - 1)))
        snprintf(why, cap, "scoring: positions %u..%zu are outside the scored %d..%d",
                 r->score_pos, r->score_pos + *n - 1, s->score_from, s->n_prompt - 2);
    else
        return 0;
    return -1;
}

int cl_score_deliver(lp_cluster *c, cl_session *s, const Lp__Result *r, char *why, size_t cap)
{
    size_t n;
    if (check_scores(c, s, r, &n, why, cap) != 0)
        return -1;
    if (n == 0)
        return 0;
    lp_scored sc = {.pos = (int)r->score_pos, .n = (int)n, .nll = r->score_nll,
                    .top = r->score_top};
    float *rows = NULL;
    if (s->score_rows) {
        /* protobuf-c's bytes carry no alignment promise: copy to floats */
        if (!(rows = malloc(r->score_rows.len))) {
            snprintf(why, cap, "scoring: out of memory for %zu rows", n);
            return -1;
        }
        memcpy(rows, r->score_rows.data, r->score_rows.len);
        sc = (lp_scored){.pos = (int)r->score_pos, .n = (int)n, .rows = rows};
    }
    bool go_on = s->score_cb(s->user, s->id, &sc);
    free(rows);
    return go_on ? 0 : 1;
}
