#include "http_gen.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WAIT_SLICE_MS = 200 };

double sv_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sv_gen_start(sv_gen *g, sv_hub *hub, const lp_tokenizer *tok, const sv_gen_req *r,
                 bool *busy, lp_err *err)
{
    memset(g, 0, sizeof *g);
    g->tok = tok;
    g->sock = r->sock;
    g->stopping = r->stopping;
    g->n_prompt = r->n_prompt;
    g->n_predict = r->n_predict;
    g->t_start = sv_now_s();
    *busy = false;
    if (lp_stopstr_init(&g->stop, r->stops, r->n_stops) != 0)
        return lp_err_set(err, "at most %d stop strings", LP_STOPSTR_MAX);
    /* Generated text keeps its leading space: it continues the prompt. */
    if (!(g->detok = lp_detok_stream_new(tok, false, false, err)))
        return -1;
    sv_job_req jr = {.prompt = r->prompt, .n_prompt = r->n_prompt, .n_predict = r->n_predict,
                     .sampling = r->sampling, .top_logprobs = r->top_logprobs};
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
    lp_detok_stream_free(g->detok);
    lp_stopstr_free(&g->stop);
    free(g->tail);
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

/* Append to the tail buffer. */
static int tail_add(sv_gen *g, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    char *t = realloc(g->tail, g->tail_len + n + 1);
    if (!t)
        return -1;
    memcpy(t + g->tail_len, s, n);
    g->tail = t;
    g->tail_len += n;
    t[g->tail_len] = 0;
    return 0;
}

/* The job ended: whatever the detokenizer and the stop filter still hold. */
static sv_gen_ev finish(sv_gen *g, const char **text, size_t *len)
{
    size_t n = 0;
    g->ended = true;
    if (!g->finish)
        g->finish = g->n_gen >= g->n_predict ? "length" : "stop";
    g->tail_len = 0;
    const char *t = lp_detok_stream_flush(g->detok, &n);
    const char *shown = t && n ? lp_stopstr_feed(&g->stop, t, n, &n) : NULL;
    int rc = shown ? tail_add(g, shown, n) : 0;
    const char *rest = lp_stopstr_flush(&g->stop, &n);
    if (rc == 0 && rest)
        rc = tail_add(g, rest, n);
    *text = g->tail ? g->tail : "";
    *len = g->tail_len;
    if (rc != 0) {
        snprintf(g->error, sizeof g->error, "out of memory");
        return SV_GEN_FAILED;
    }
    return SV_GEN_END;
}

static sv_gen_ev on_token(sv_gen *g, const char **text, size_t *len)
{
    size_t n = 0;
    if (g->n_gen++ == 0)
        g->t_first = sv_now_s();
    const char *piece = lp_detok_stream_push(g->detok, g->last.token, &n);
    const char *shown = piece ? lp_stopstr_feed(&g->stop, piece, n, len) : NULL;
    if (!shown) {
        snprintf(g->error, sizeof g->error, "out of memory, or token %d is not in the vocabulary",
                 g->last.token);
        return SV_GEN_FAILED;
    }
    *text = shown;
    if (g->stop.hit) { /* the client has what it asked for: free the pool now */
        sv_job_cancel(g->job);
        g->finish = "stop";
    }
    return SV_GEN_TOKEN;
}

sv_gen_ev sv_gen_next(sv_gen *g, const char **text, size_t *len)
{
    *text = "";
    *len = 0;
    if (g->ended)
        return SV_GEN_END;
    if (g->stop.hit)
        return finish(g, text, len);
    size_t piece_len = 0;
    if (g->n_gen > 0 && lp_token_piece(g->tok, g->last.token, false, &piece_len))
        g->piece_bytes += piece_len;
    for (;;) {
        if (hung_up(g->sock) || (g->stopping && atomic_load(g->stopping)))
            return SV_GEN_GONE;
        switch (sv_job_next(g->job, &g->last, WAIT_SLICE_MS)) {
        case SV_TOKEN:
            return on_token(g, text, len);
        case SV_END:
            return finish(g, text, len);
        case SV_FAILED:
            g->ended = true;
            snprintf(g->error, sizeof g->error, "%s", sv_job_error(g->job));
            return SV_GEN_FAILED;
        case SV_TIMEOUT:
            break;
        }
    }
}
