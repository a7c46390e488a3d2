/* ppl_pool.c — scoring windows through a pool of workers: each window is a
 * scoring session (cluster.h), its chunks pipelined across the workers;
 * the last worker scores the positions (or, for the KL divergence, returns
 * their logit rows), so the coordinator never holds a layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "ppl.h"

/* One window in flight: its session's callbacks get this. */
typedef struct pool_window {
    const ppl_sink *sink;
    bool done;
    char error[600];
} pool_window;

/* Windows at once: as many as the workers hold sessions for, at most this. */
#define PPL_POOL_MAX_WINDOWS PPL_MAX_GROUP

struct ppl_pool {
    coord_pool pool;
    pool_window w[PPL_POOL_MAX_WINDOWS];
};

/* As ppl_local.c: the context rounded up to llama.cpp's KV padding. */
static int padded_ctx(int n_ctx)
{
    return (n_ctx + 31) / 32 * 32;
}

static int make_config(const ppl_opts *o, lp_config **out, lp_err *err)
{
    lp_config *cfg = calloc(1, sizeof *cfg);
    if (!(*out = cfg))
        return lp_err_set(err, "out of memory");
    if (o->config) {
        if (lp_config_load(o->config, cfg, err) != 0)
            return -1;
    } else {
        lp_config_defaults(cfg, "--local-workers");
        cfg->local = true;
        cfg->n_workers = o->local_workers;
        cfg->ctx = padded_ctx(o->n_ctx);
        cfg->sessions = 2 * o->local_workers; /* windows in flight: every stage busy */
        cfg->batch = o->n_batch < o->n_ctx ? o->n_batch : o->n_ctx;
        cfg->threads = o->n_threads;
    }
    if (o->model)
        snprintf(cfg->model_path, sizeof cfg->model_path, "%s", o->model);
    return 0;
}

ppl_pool *ppl_pool_open(const ppl_opts *o, lp_err *err)
{
    ppl_pool *p = calloc(1, sizeof *p);
    lp_config *cfg = NULL;
    if (!p) {
        lp_err_set(err, "out of memory");
        return NULL;
    }
    if (make_config(o, &cfg, err) != 0) {
        free(cfg);
        free(p);
        return NULL;
    }
    if (coord_pool_up(&p->pool, cfg, o->n_threads, err) != 0) { /* the pool owns cfg now */
        ppl_pool_close(p);
        return NULL;
    }
    return p;
}

void ppl_pool_close(ppl_pool *p)
{
    if (!p)
        return;
    coord_pool_down(&p->pool);
    free(p);
}

static bool on_end(void *user, uint64_t session, const lp_sampled *s, const char *error)
{
    pool_window *w = user;
    (void)session;
    if (s)
        return false; /* a scoring session samples nothing */
    w->done = true;
    if (error && !w->error[0])
        snprintf(w->error, sizeof w->error, "%s", error);
    return false;
}

static bool on_scored(void *user, uint64_t session, const lp_scored *sc)
{
    pool_window *w = user;
    lp_err err = {0};
    (void)session;
    int rc = sc->rows ? w->sink->rows(w->sink->user, sc->pos, sc->n, sc->rows, &err)
                      : w->sink->scores(w->sink->user, sc->pos, sc->n, sc->nll, sc->top, &err);
    if (rc != 0)
        snprintf(w->error, sizeof w->error, "%s", err.msg);
    return rc == 0;
}

static bool all_done(const ppl_pool *p, int n)
{
    for (int i = 0; i < n; i++)
        if (!p->w[i].done)
            return false;
    return true;
}

/* Every window a scoring session, all started at once: while worker 1
 * runs window A, worker 0 runs window B. */
static int pool_windows(void *self, const int32_t *const *wins, int n, int n_ctx,
                        const ppl_sink *sinks, lp_err *err)
{
    ppl_pool *p = self;
    if (n > PPL_POOL_MAX_WINDOWS)
        return lp_err_set(err, "%d windows at once, at most %d", n, PPL_POOL_MAX_WINDOWS);
    lp_err start = {0};
    for (int i = 0; i < n; i++) {
        /* after a failed start, the windows already started still run out */
        p->w[i] = (pool_window){.sink = &sinks[i], .done = start.msg[0] != 0};
        lp_session_req req = {.prompt = wins[i], .n_prompt = n_ctx, .cb = on_end,
                              .user = &p->w[i], .score_cb = on_scored,
                              .score_from = n_ctx / 2, .score_rows = sinks[i].rows != NULL};
        if (!p->w[i].done && !lp_cluster_start(p->pool.cl, &req, &start))
            p->w[i].done = true;
    }
    while (!all_done(p, n))
        if (lp_cluster_poll(p->pool.cl, 100, err) < 0)
            return -1;
    if (start.msg[0])
        return lp_err_set(err, "%s", start.msg);
    for (int i = 0; i < n; i++)
        if (p->w[i].error[0])
            return lp_err_set(err, "%s", p->w[i].error);
    return 0;
}

ppl_source ppl_pool_source(ppl_pool *p)
{
    const int slots = p->pool.cfg->sessions;
    return (ppl_source){.windows = pool_windows, .self = p, .hp = &p->pool.hp,
                        .max_windows = slots < PPL_POOL_MAX_WINDOWS ? slots : PPL_POOL_MAX_WINDOWS};
}

const lp_gguf *ppl_pool_gguf(const ppl_pool *p)
{
    return p->pool.g;
}

const lp_tokenizer *ppl_pool_tokenizer(const ppl_pool *p)
{
    return p->pool.tok;
}

int ppl_pool_n_ctx(const ppl_pool *p)
{
    return coord_pool_n_ctx(&p->pool);
}
