/* ppl_pool.c — scoring windows through a pool of workers: each window is a
 * scoring session (cluster.h), its chunks pipelined across the workers;
 * the last worker scores the positions (or, for the KL divergence, returns
 * their logit rows), so the coordinator never holds a layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "ppl.h"

struct ppl_pool {
    pool pool;
    /* the window in flight */
    const ppl_sink *sink;
    bool done;
    char error[600];
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
        cfg->local = true;
        cfg->n_workers = o->local_workers;
        cfg->ctx = padded_ctx(o->n_ctx);
        cfg->sessions = 1;
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
    if (pool_up(&p->pool, cfg, o->n_threads, err) != 0) { /* the pool owns cfg now */
        ppl_pool_close(p);
        return NULL;
    }
    return p;
}

void ppl_pool_close(ppl_pool *p)
{
    if (!p)
        return;
    pool_down(&p->pool);
    free(p);
}

static bool on_end(void *user, uint64_t session, const lp_sampled *s, const char *error)
{
    ppl_pool *p = user;
    (void)session;
    if (s)
        return false; /* a scoring session samples nothing */
    p->done = true;
    if (error && !p->error[0])
        snprintf(p->error, sizeof p->error, "%s", error);
    return false;
}

static bool on_scored(void *user, uint64_t session, const lp_scored *sc)
{
    ppl_pool *p = user;
    lp_err err = {0};
    (void)session;
    int rc = sc->rows ? p->sink->rows(p->sink->user, sc->pos, sc->n, sc->rows, &err)
                      : p->sink->scores(p->sink->user, sc->pos, sc->n, sc->nll, sc->top, &err);
    if (rc != 0)
        snprintf(p->error, sizeof p->error, "%s", err.msg);
    return rc == 0;
}

static int pool_window(void *self, const int32_t *win, int n_ctx, const ppl_sink *sink,
                       lp_err *err)
{
    ppl_pool *p = self;
    lp_session_req req = {.prompt = win, .n_prompt = n_ctx, .cb = on_end, .user = p,
                          .score_cb = on_scored, .score_from = n_ctx / 2,
                          .score_rows = sink->rows != NULL};
    p->sink = sink;
    p->done = false;
    p->error[0] = 0;
    if (!lp_cluster_start(p->pool.cl, &req, err))
        return -1;
    while (!p->done)
        if (lp_cluster_poll(p->pool.cl, 100, err) < 0)
            return -1;
    return p->error[0] ? lp_err_set(err, "%s", p->error) : 0;
}

ppl_source ppl_pool_source(ppl_pool *p)
{
    return (ppl_source){.window = pool_window, .self = p, .hp = &p->pool.hp};
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
    return pool_n_ctx(&p->pool);
}
