/* gen.c — one generation's end and text (gen.h). */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

struct lp_gen {
    lp_gen_opts o;
    lp_detok_stream *detok; /* text mode, owned */
    lp_stopstr stop;        /* owned; its strings point at stops[] */
    char *stops[LP_STOPSTR_MAX]; /* copies, owned */
    long count;
    lp_gen_end end;
    char *tail;             /* flushed text, owned */
    size_t tail_len;
};

void lp_gen_free(lp_gen *g)
{
    if (!g)
        return;
    lp_detok_stream_free(g->detok);
    lp_stopstr_free(&g->stop);
    for (size_t i = 0; i < LP_STOPSTR_MAX; i++)
        free(g->stops[i]);
    free(g->tail);
    free(g);
}

static int copy_stops(lp_gen *g, lp_err *err)
{
    if (g->o.n_stops > LP_STOPSTR_MAX)
        return lp_err_set(err, "at most %d stop strings", LP_STOPSTR_MAX);
    for (size_t i = 0; i < g->o.n_stops; i++)
        if (!(g->stops[i] = strdup(g->o.stops[i])))
            return lp_err_set(err, "out of memory");
    g->o.stops = NULL; /* the caller's: not kept */
    return lp_stopstr_init(&g->stop, (const char *const *)g->stops, g->o.n_stops) == 0
               ? 0
               : lp_err_set(err, "at most %d stop strings", LP_STOPSTR_MAX);
}

lp_gen *lp_gen_new(const lp_gen_opts *o, lp_err *err)
{
    lp_gen *g = calloc(1, sizeof *g);
    if (!g) {
        lp_err_set(err, "out of memory");
        return NULL;
    }
    g->o = *o;
    if (g->o.n_predict <= 0)
        g->end = LP_GEN_BUDGET; /* nothing to generate */
    if (!g->o.text || !g->o.tok)
        g->o.n_stops = 0; /* stop strings match text; ids-only has none */
    int rc = copy_stops(g, err);
    if (rc == 0 && g->o.text && !g->o.tok)
        rc = lp_err_set(err, "text needs a tokenizer");
    if (rc == 0 && g->o.text &&
        !(g->detok = lp_detok_stream_new(g->o.tok, false, g->o.strip_first_space, err)))
        rc = -1;
    if (rc != 0) {
        lp_gen_free(g);
        return NULL;
    }
    return g;
}

static bool is_eog(const lp_gen *g, int32_t t)
{
    if (g->o.tok)
        return lp_tokenizer_is_eog(g->o.tok, t);
    return g->o.eos >= 0 && t == g->o.eos;
}

/* The token's text, through the stop strings. */
static int show(lp_gen *g, int32_t t, lp_gen_step *out, lp_err *err)
{
    size_t n = 0;
    const char *piece = lp_detok_stream_push(g->detok, t, &n);
    const char *shown = piece ? lp_stopstr_feed(&g->stop, piece, n, &out->len) : NULL;
    if (!shown)
        return lp_err_set(err, "out of memory, or token %d is not in the vocabulary", t);
    out->text = shown;
    if (g->stop.hit)
        g->end = LP_GEN_STOPSTR;
    return 0;
}

int lp_gen_push(lp_gen *g, int32_t token, lp_gen_step *out, lp_err *err)
{
    *out = (lp_gen_step){.text = ""};
    if (g->end != LP_GEN_GOING)
        return 0;
    if (is_eog(g, token) && !g->o.ignore_eos) {
        g->end = LP_GEN_EOG;
        return 0;
    }
    out->counted = true;
    g->count++;
    if (g->o.text && show(g, token, out, err) != 0) {
        g->end = LP_GEN_STOPSTR;
        return -1;
    }
    if (g->end == LP_GEN_GOING && g->count >= g->o.n_predict)
        g->end = LP_GEN_BUDGET;
    else if (g->end == LP_GEN_GOING && g->count >= g->o.n_ctx - g->o.n_prompt + 1)
        g->end = LP_GEN_CONTEXT;
    out->go_on = g->end == LP_GEN_GOING;
    return 0;
}

static void tail_add(lp_gen *g, const char *s, size_t n)
{
    char *t = n ? realloc(g->tail, g->tail_len + n + 1) : NULL;
    if (!t)
        return; /* out of memory: the tail is cut, nothing worse */
    memcpy(t + g->tail_len, s, n);
    g->tail = t;
    g->tail_len += n;
    t[g->tail_len] = 0;
}

const char *lp_gen_flush(lp_gen *g, size_t *len)
{
    size_t n = 0;
    g->tail_len = 0;
    if (g->o.text) {
        const char *t = lp_detok_stream_flush(g->detok, &n);
        const char *shown = t && n ? lp_stopstr_feed(&g->stop, t, n, &n) : NULL;
        if (shown)
            tail_add(g, shown, n);
        const char *rest = lp_stopstr_flush(&g->stop, &n);
        if (rest)
            tail_add(g, rest, n);
    }
    *len = g->tail_len;
    return g->tail_len ? g->tail : "";
}

lp_gen_end lp_gen_why(const lp_gen *g)
{
    return g->end;
}

long lp_gen_count(const lp_gen *g)
{
    return g->count;
}

const char *lp_gen_finish_reason(const lp_gen *g)
{
    switch (g->end) {
    case LP_GEN_EOG:
    case LP_GEN_STOPSTR: return "stop";
    case LP_GEN_BUDGET:
    case LP_GEN_CONTEXT: return "length";
    default: return NULL;
    }
}
