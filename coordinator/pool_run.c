#include "pool_run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_loop.h"
#include "cluster.h"
#include "config.h"
#include "local_workers.h"
#include "model.h"
#include "model_id.h"
#include "output.h"
#include "plan.h"
#include "shard_supply.h"
#include "tokenizer.h"
#include "wire.h"

/* Everything one pipeline run holds; all owned here. */
typedef struct pool_ctx {
    lp_config *cfg;       /* the pool: from --config, or built from the flags */
    lp_gguf *g;
    lp_tokenizer *tok;
    lp_hparams hp;
    lp_wire *wire;
    lp_cluster *cl;
    lp_local_workers lw;
    out_stream out;
    const run_opts *o;
    token_list *reply;    /* the turn's tokens are collected here, if set */
    long n_gen;
    double t_start, t_first, t_end;
    char error[512];
    bool done;
} pool_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool on_token(void *user, uint64_t session, int32_t token, bool done, const char *error)
{
    pool_ctx *p = user;
    (void)session;
    if (done) {
        p->done = true;
        p->t_end = now_s();
        if (error)
            snprintf(p->error, sizeof p->error, "%s", error);
        return false;
    }
    if (p->n_gen == 0)
        p->t_first = now_s();
    bool end = p->tok ? lp_tokenizer_is_eog(p->tok, token) : false;
    if (end && !p->o->ignore_eos)
        return false;
    p->n_gen++;
    if (p->reply && token_list_push(p->reply, token) != 0)
        return false;
    return !out_token(&p->out, token);
}

/* Layer ranges for the workers that answered, from their budgets. */
static int plan_layers(pool_ctx *p, const lp_cluster_opts *co, int *first, int *last,
                       lp_err *err)
{
    lp_plan_model pm;
    lp_plan_worker pw[LP_CLUSTER_MAX_WORKERS];
    lp_plan_shard shards[LP_CLUSTER_MAX_WORKERS];
    int n = lp_cluster_n_workers(p->cl);
    if (lp_plan_model_from_gguf(p->g, &pm, err) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(p->cl, i);
        const lp_config_worker *cw = &p->cfg->workers[i];
        uint64_t budget = w->mem_limit ? w->mem_limit : w->ram_available;
        if (!cw->mem && p->lw.n)
            budget /= (uint64_t)n; /* local workers share one machine's memory */
        pw[i] = (lp_plan_worker){.budget = cw->mem ? cw->mem : budget,
                                 .speed = p->cfg->local ? (w->gflops > 0 ? w->gflops : 1.0)
                                                        : cw->speed};
    }
    lp_plan_opts po;
    lp_plan_opts_default(&po);
    po.n_ctx = co->n_ctx;
    po.n_sessions = co->n_slots;
    po.n_batch = co->n_batch;
    po.n_threads = p->o->shard.n_threads;
    int rc = lp_plan_make(&pm, pw, n, &po, shards, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        first[i] = shards[i].first;
        last[i] = shards[i].last;
    }
    lp_plan_model_free(&pm);
    return rc == 0 ? 0 : -1;
}

static int start_workers(pool_ctx *p, lp_err *err)
{
    const lp_config *cfg = p->cfg;
    if (cfg->local) {
        char mem[32] = "";
        if (cfg->workers[0].mem)
            snprintf(mem, sizeof mem, "%llu", (unsigned long long)cfg->workers[0].mem);
        if (lp_local_workers_start(&p->lw, cfg->n_workers, p->o->shard.n_threads,
                                mem[0] ? mem : NULL, err) != 0)
            return -1;
    }
    for (int i = 0; i < cfg->n_workers; i++)
        if (lp_cluster_add_worker(p->cl, cfg->local ? p->lw.control[i] : cfg->workers[i].endpoint,
                                  err) != 0)
            return -1;
    return 0;
}

/* Each worker reads the model from its own copy (the config's model_path
 * for that worker, or, in a local pool, the coordinator's file); a worker
 * without one gets its layers as a shard streamed into its cache. */
static int weights_for_workers(pool_ctx *p, const uint8_t id[LP_MODEL_ID_BYTES],
                               const int *first, const int *last, const char **paths,
                               const uint8_t **shard_ids, uint8_t (*ids)[32], char *abs_model,
                               lp_err *err)
{
    bool need[LP_CLUSTER_MAX_WORKERS], any = false;
    if (!realpath(p->cfg->model_path, abs_model))
        return lp_err_set(err, "cannot resolve %s", p->cfg->model_path);
    for (int i = 0; i < p->cfg->n_workers; i++) {
        const lp_config_worker *w = &p->cfg->workers[i];
        need[i] = !p->cfg->local && !w->model_path[0];
        any = any || need[i];
        paths[i] = need[i] ? NULL : w->model_path[0] ? w->model_path : abs_model;
        shard_ids[i] = need[i] ? ids[i] : NULL;
    }
    if (!any)
        return 0;
    return shard_supply(p->cl, abs_model, id, first, last, need, p->cfg->n_workers, ids, err);
}

static int connect_and_load(pool_ctx *p, lp_err *err)
{
    const lp_config *cfg = p->cfg;
    lp_cluster_opts co;
    lp_cluster_opts_default(&co);
    co.n_ctx = cfg->ctx ? cfg->ctx
                        : (p->hp.n_ctx_train && p->hp.n_ctx_train < 4096 ? (int)p->hp.n_ctx_train
                                                                         : 4096);
    co.n_slots = cfg->sessions;
    co.n_batch = cfg->batch;
    co.n_threads = cfg->threads;
    int first[LP_CLUSTER_MAX_WORKERS], last[LP_CLUSTER_MAX_WORKERS];
    const char *paths[LP_CLUSTER_MAX_WORKERS];
    const uint8_t *shard_ids[LP_CLUSTER_MAX_WORKERS];
    uint8_t ids[LP_CLUSTER_MAX_WORKERS][32];
    char abs_model[PATH_MAX];
    uint8_t id[LP_MODEL_ID_BYTES];
    if (!(p->wire = lp_wire_new(err)) || !(p->cl = lp_cluster_new(p->wire, &co, err)) ||
        start_workers(p, err) != 0 || lp_model_id(p->g, id, err) != 0 ||
        plan_layers(p, &co, first, last, err) != 0 ||
        weights_for_workers(p, id, first, last, paths, shard_ids, ids, abs_model, err) != 0)
        return -1;
    return lp_cluster_load(p->cl, id, paths, shard_ids, first, last, p->hp.n_vocab, err);
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
    if (lp_tokenize(p->tok, o->prompt, len, true, true, ids, n, err) != 0)
        return -1;
    return *n ? 0 : lp_err_set(err, "the prompt is empty");
}

/* One session through the pipeline: the prompt, then tokens until the
 * budget, an end-of-generation token or a stop string. */
static int pool_turn(void *ctx, const lp_token *ids, size_t n, token_list *reply, lp_err *err)
{
    pool_ctx *p = ctx;
    lp_session_req req = {.prompt = ids, .n_prompt = (int)n, .n_predict = (int)p->o->n_predict,
                          .sampling = p->o->sampling, .cb = on_token, .user = p};
    p->reply = reply;
    p->done = false;
    p->error[0] = 0;
    p->t_start = now_s();
    if (req.n_predict > 0 && !lp_cluster_start(p->cl, &req, err))
        return -1;
    while (req.n_predict > 0 && !p->done)
        if (lp_cluster_poll(p->cl, 100, err) < 0)
            return -1;
    out_end(&p->out);
    if (p->error[0])
        return lp_err_set(err, "%s", p->error);
    return 0;
}

static int generate(pool_ctx *p, lp_err *err)
{
    lp_token *ids = NULL;
    size_t n = 0;
    if (p->o->chat)
        return chat_loop(&(chat_engine){p->g, p->tok, pool_turn, p}, p->o, stdin, err);
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

/* Where the time and the bytes of a token went: each worker's compute, the
 * rest of a step's wall time spent on the wire and in queues, and the
 * bytes each worker sent on per step (its hop's traffic). */
static void report(pool_ctx *p)
{
    double prompt_s = p->t_first - p->t_start, gen_s = p->t_end - p->t_first;
    long steps = p->n_gen > 1 ? p->n_gen - 1 : 0;
    double step_ms = steps ? gen_s * 1e3 / (double)steps : 0.0, compute_ms = 0;
    int n = lp_cluster_n_workers(p->cl);
    lp_err err = {0};
    bool stats = lp_cluster_refresh_stats(p->cl, &err) == 0;
    fprintf(stderr, "first token after %.2f ms; generation: %ld tokens in %.2f ms (%.2f tok/s)\n",
            prompt_s * 1e3, p->n_gen, gen_s * 1e3, steps && gen_s > 0 ? steps / gen_s : 0.0);
    for (int i = 0; i < n; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(p->cl, i);
        double st = w->steps ? (double)w->steps : 1.0, ms = w->compute_us / st / 1e3;
        compute_ms += ms;
        fprintf(stderr, "worker %-10s layers %3d-%-3d compute %7.3f ms/step", w->name, w->first,
                w->last - 1, ms);
        if (stats)
            fprintf(stderr, ", sends %6.0f B/step to the %s", w->bytes_out / st,
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
    if (pool_config(&p, err) == 0 && (p.g = lp_gguf_open(p.cfg->model_path, err)) &&
        lp_hparams_read(p.g, &p.hp, err) == 0 &&
               (!lp_gguf_find(p.g, "tokenizer.ggml.model") ||
                (p.tok = lp_tokenizer_load(p.g, err))) &&
               (p.tok || (o->ids && o->tokens) ||
                lp_err_set(err, "this model has no tokenizer: use --tokens and --ids") == 0) &&
               out_open(&p.out, stdout, p.tok, o, o->chat, err) == 0 &&
               connect_and_load(&p, err) == 0 && generate(&p, err) == 0) {
        report(&p);
        rc = 0;
    }
    if (p.cl && p.cfg && p.cfg->local)
        lp_cluster_shutdown_workers(p.cl); /* workers of a config's pool keep serving */
    lp_local_workers_stop(&p.lw);
    lp_cluster_free(p.cl);
    lp_wire_free(p.wire);
    out_close(&p.out);
    lp_tokenizer_free(p.tok);
    lp_gguf_close(p.g);
    free(p.cfg);
    return rc;
}
