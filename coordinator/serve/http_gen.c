#include "http_gen.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

enum { WAIT_SLICE_MS = 200 };

int sv_gen_start(sv_gen *g, sv_hub *hub, const lp_tokenizer *tok, const sv_gen_req *r,
                 bool *busy, lp_err *err)
{
    memset(g, 0, sizeof *g);
    g->tok = tok;
    g->sock = r->sock;
    g->stopping = r->stopping;
    g->n_prompt = r->n_prompt;
    g->n_predict = r->n_predict;
    g->t_start = lp_now_s();
    *busy = false;
    sv_job_req jr = {.prompt = r->prompt, .n_prompt = r->n_prompt, .n_predict = r->n_predict,
                     .sampling = r->sampling, .logprob = r->logprob,
                     .top_logprobs = r->top_logprobs,
                     .stops = r->stops, .n_stops = r->n_stops};
    if (!(g->job = sv_hub_submit(hub, &jr, busy, err)))
        return -1;
    return 0;
}

void sv_gen_free(sv_gen *g)
{
    if (g->job) {
        if (!g->ended)
            sv_job_cancel(g->job);
        sv_job_release(g->job);
    }
    memset(g, 0, sizeof *g);
}

/* The client closed its end (or the connection broke). */
static bool hung_up(int sock)
{
    if (sock < 0)
        return false;
    struct pollfd p = {.fd = sock, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

sv_gen_ev sv_gen_next(sv_gen *g, const char **text, size_t *len)
{
    *text = "";
    *len = 0;
    if (g->ended)
        return SV_GEN_END;
    size_t piece_len = 0;
    if (g->n_gen > 0 && lp_token_piece(g->tok, g->last.token, false, &piece_len))
        g->piece_bytes += piece_len;
    for (;;) {
        if (hung_up(g->sock) || (g->stopping && atomic_load(g->stopping)))
            return SV_GEN_GONE;
        switch (sv_job_next(g->job, &g->last, text, len, WAIT_SLICE_MS)) {
        case SV_TOKEN:
            if (g->n_gen++ == 0)
                g->t_first = lp_now_s();
            return SV_GEN_TOKEN;
        case SV_END:
            g->ended = true;
            g->finish = sv_job_finish_reason(g->job);
            return SV_GEN_END;
        case SV_FAILED:
            g->ended = true;
            snprintf(g->error, sizeof g->error, "%s", sv_job_error(g->job));
            return SV_GEN_FAILED;
        case SV_TIMEOUT:
            break;
        }
    }
}
