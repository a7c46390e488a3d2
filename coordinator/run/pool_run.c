#include "pool_run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_loop.h"
#include "clock.h"
#include "cluster.h"
#include "model.h"
#include "output.h"
#include "pool.h"
#include "tokenizer.h"
#include "wire.h"

/* Everything one pipeline run holds; all owned here. */
typedef struct pool_ctx {
    coord_pool pool;
    lp_config *cfg;       /* until handed to coord_pool_up */
    out_stream out;
    const run_opts *o;
    lp_gen *gen;          /* the turn's generation, owned while it runs */
    run_tokens *reply;    /* the turn's tokens are collected here, if set */
    long n_gen;
    double t_start, t_first, t_end;
    char error[512];
    bool done;
} pool_ctx;

/* Each token goes through the turn's generation, which says whether the
 * session goes on. */
static bool on_token(void *user, uint64_t session, const lp_sampled *s, const char *error)
{
    pool_ctx *p = user;
    lp_err err = {0};
    lp_gen_step st;
    (void)session;
    if (!s) {
        p->done = true;
        p->t_end = lp_now_s();
        if (error)
            snprintf(p->error, sizeof p->error, "%s", error);
        return false;
    }
    if (p->n_gen == 0)
        p->t_first = lp_now_s();
    if (lp_gen_push(p->gen, s->token, &st, &err) != 0) {
        snprintf(p->error, sizeof p->error, "%s", err.msg);
        return false;
    }
    if (!st.counted)
        return false;
    p->n_gen++;
    out_token(&p->out, s->token, &st);
    if (p->reply && run_tokens_push(p->reply, s->token) != 0) {
        snprintf(p->error, sizeof p->error, "out of memory");
        return false;
    }
    return st.go_on;
}

/* The pool to run on: the config file, or a local one from the flags. */
static int pool_config(pool_ctx *p, lp_err *err)
{
    const run_opts *o = p->o;
    if (!(p->cfg = calloc(1, sizeof *p->cfg)))
        return lp_err_set(err, "out of memory");
    if (o->config) {
        if (lp_config_load(o->config, p->cfg, err) != 0)
            return -1;
    } else {
        lp_config_defaults(p->cfg, "--local-workers");
        p->cfg->local = true;
        p->cfg->n_workers = o->local_workers;
        p->cfg->ctx = o->shard.n_ctx;
        p->cfg->sessions = 1;
        p->cfg->batch = o->shard.n_batch;
        p->cfg->threads = o->shard.n_threads;
    }
    if (o->model)
        snprintf(p->cfg->model_path, sizeof p->cfg->model_path, "%s", o->model);
    return 0;
}

static int prompt_tokens(pool_ctx *p, lp_token **ids, size_t *n, lp_err *err)
{
    const run_opts *o = p->o;
    if (o->tokens) {
        *n = (size_t)o->n_tokens;
        *ids = malloc(sizeof **ids * *n);
        if (!*ids)
            return lp_err_set(err, "out of memory");
        memcpy(*ids, o->tokens, sizeof **ids * *n);
        return 0;
    }
    size_t len = strlen(o->prompt), bad;
    if (!lp_utf8_valid(o->prompt, len, &bad))
        return lp_err_set(err, "the prompt is not valid UTF-8 (byte %zu)", bad);
    if (lp_tokenize(p->pool.tok, o->prompt, len, true, true, ids, n, err) != 0)
        return -1;
    return *n ? 0 : lp_err_set(err, "the prompt is empty");
}

/* One session through the pipeline: the prompt, then tokens until the
 * budget, an end-of-generation token or a stop string. */
static int pool_turn(void *ctx, const lp_token *ids, size_t n, run_tokens *reply, lp_err *err)
{
    pool_ctx *p = ctx;
    lp_session_req req = {.prompt = ids, .n_prompt = (int)n, .sampling = p->o->sampling,
                          .cb = on_token, .user = p};
    p->reply = reply;
    p->done = false;
    p->error[0] = 0;
    p->t_start = lp_now_s();
    if (!(p->gen = out_gen(p->o, p->pool.tok, -1, coord_pool_n_ctx(&p->pool), (long)n, err)))
        return -1;
    /* -n 0 starts no session; one that starts always ends with a last call */
    bool started = lp_gen_why(p->gen) == LP_GEN_GOING;
    int rc = started && !lp_cluster_start(p->pool.cl, &req, err) ? -1 : 0;
    while (rc == 0 && started && !p->done)
        if (lp_cluster_poll(p->pool.cl, 100, err) < 0)
            rc = -1;
    out_end(&p->out, p->gen);
    lp_gen_free(p->gen);
    p->gen = NULL;
    if (rc == 0 && p->error[0])
        rc = lp_err_set(err, "%s", p->error);
    return rc;
}

static int generate(pool_ctx *p, lp_err *err)
{
    lp_token *ids = NULL;
    size_t n = 0;
    if (p->o->chat)
        return chat_loop(&(chat_engine){p->pool.g, p->pool.tok, pool_turn, p}, p->o, stdin, err);
    if (prompt_tokens(p, &ids, &n, err) != 0)
        return -1;
    if (!p->o->ids && p->o->prompt) {
        fputs(p->o->prompt, stdout);
        fflush(stdout);
    }
    int rc = pool_turn(p, ids, n, NULL, err);
    free(ids);
    return rc;
}

/* Where the time and the bytes of a token went: each worker's compute per
 * decode step (the prompt's steps, the first of them cold, apart), the
 * rest of a step's wall time spent on the wire and in queues, and the
 * bytes each worker sent on per decode step (its hop's traffic). */
static void report(pool_ctx *p)
{
    double prompt_s = p->t_first - p->t_start, gen_s = p->t_end - p->t_first;
    long steps = p->n_gen > 1 ? p->n_gen - 1 : 0;
    double step_ms = steps ? gen_s * 1e3 / (double)steps : 0.0, compute_ms = 0;
    int n = lp_cluster_n_workers(p->pool.cl);
    lp_err err = {0};
    bool stats = lp_cluster_refresh_stats(p->pool.cl, &err) == 0;
    fprintf(stderr, "first token after %.2f ms; generation: %ld tokens in %.2f ms (%.2f tok/s)\n",
            prompt_s * 1e3, p->n_gen, gen_s * 1e3, steps && gen_s > 0 ? steps / gen_s : 0.0);
    for (int i = 0; i < n; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(p->pool.cl, i);
        uint64_t prompt_steps = w->steps - w->decode_steps;
        double ms = w->decode_steps ? w->decode_us / (double)w->decode_steps / 1e3 : 0.0;
        compute_ms += ms;
        fprintf(stderr, "worker %-10s layers %3d-%-3d compute %7.3f ms/token", w->name, w->first,
                w->last - 1, ms);
        if (prompt_steps)
            fprintf(stderr, " (prompt: %.3f ms in %llu steps)",
                    (double)(w->compute_us - w->decode_us) / 1e3,
                    (unsigned long long)prompt_steps);
        if (stats && w->decode_msgs_out)
            fprintf(stderr, ", sends %6.0f B/token to the %s",
                    (double)w->decode_bytes_out / (double)w->decode_msgs_out,
                    i + 1 < n ? "next worker" : "coordinator");
        fputc('\n', stderr);
    }
    if (steps)
        fprintf(stderr, "per token: %.3f ms, of it compute %.3f ms, network and queues %.3f ms "
                "(%d hops)\n", step_ms, compute_ms, step_ms > compute_ms ? step_ms - compute_ms : 0,
                n + 1);
}

int pool_run(const run_opts *o, lp_err *err)
{
    pool_ctx p = {.o = o};
    int rc = -1;
    if (pool_config(&p, err) == 0) {
        lp_config *cfg = p.cfg;
        p.cfg = NULL; /* the pool owns it now */
        if (coord_pool_up(&p.pool, cfg, o->shard.n_threads, err) == 0 &&
            (p.pool.tok || (o->ids && o->tokens) ||
             lp_err_set(err, "this model has no tokenizer: use --tokens and --ids") == 0) &&
            (out_open(&p.out, stdout, o->ids), generate(&p, err) == 0)) {
            report(&p);
            rc = 0;
        }
    }
    coord_pool_down(&p.pool);
    free(p.cfg);
    return rc;
}
