/* pool.c — bringing a pool up: workers, plan, weights, load. */
#include "pool.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_id.h"
#include "plan.h"
#include "shard_supply.h"

int coord_pool_n_ctx(const coord_pool *p)
{
    if (p->cfg->ctx)
        return p->cfg->ctx;
    return p->hp.n_ctx_train && p->hp.n_ctx_train < 4096 ? (int)p->hp.n_ctx_train : 4096;
}

/* Layer ranges for the workers that answered, from their budgets. */
static int plan_layers(coord_pool *p, const lp_cluster_opts *co, int *first, int *last,
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
    po.n_threads = p->cfg->threads ? p->cfg->threads : p->local_threads;
    int rc = lp_plan_make(&pm, pw, n, &po, shards, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        first[i] = shards[i].first;
        last[i] = shards[i].last;
    }
    lp_plan_model_free(&pm);
    return rc == 0 ? 0 : -1;
}

/* A local pool's workers, started before the cluster exists: their fresh
 * keys are the cluster's. */
static int start_local(coord_pool *p, lp_err *err)
{
    const lp_config *cfg = p->cfg;
    char mem[32] = "";
    if (!cfg->local)
        return 0;
    if (cfg->workers[0].mem)
        snprintf(mem, sizeof mem, "%llu", (unsigned long long)cfg->workers[0].mem);
    return lp_local_workers_start(&p->lw, cfg->n_workers,
                                  cfg->threads ? cfg->threads : p->local_threads,
                                  mem[0] ? mem : NULL, cfg->model_path, err);
}

static int add_workers(coord_pool *p, bool keyed, lp_err *err)
{
    const lp_config *cfg = p->cfg;
    for (int i = 0; i < cfg->n_workers; i++) {
        const char *pub = !keyed ? NULL : cfg->local ? p->lw.key[i].pub
                                                     : cfg->workers[i].public_key;
        if (lp_cluster_add_worker_keyed(p->cl, cfg->local ? p->lw.control[i]
                                                          : cfg->workers[i].endpoint,
                                        pub, err) != 0)
            return -1;
    }
    return 0;
}

/* Each worker reads the model from its own copy (the config's model_path
 * for that worker, or, in a local pool, the coordinator's file); a worker
 * without one gets its layers as a shard streamed into its cache. */
static int weights_for_workers(coord_pool *p, const uint8_t id[LP_SHA256_BYTES],
                               const int *first, const int *last, const char **paths,
                               const uint8_t **shard_ids, uint8_t (*ids)[LP_SHA256_BYTES], char *abs_model,
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

/* The cluster's events, in coord's log. */
static void pool_log(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "pool: %s\n", line);
}

static int connect_and_load(coord_pool *p, lp_err *err)
{
    const lp_config *cfg = p->cfg;
    lp_cluster_opts co;
    lp_cluster_opts_default(&co);
    co.n_ctx = coord_pool_n_ctx(p);
    co.n_slots = cfg->sessions;
    co.n_batch = cfg->batch;
    co.prompt_chunk = cfg->prompt_chunk;
    co.n_threads = cfg->threads;
    co.wire_dtype = (int)cfg->wire_dtype; /* lp_config_dtype is proto's numbering */
    co.recover_ms = cfg->recover_s * 1000;
    co.log = pool_log;
    co.step_timeout_ms = cfg->step_timeout_s * 1000;
    snprintf(co.advertise, sizeof co.advertise, "%s", cfg->advertise);
    if ((cfg->key_file[0] && lp_keypair_read(cfg->key_file, &p->key, err) != 0) ||
        start_local(p, err) != 0)
        return -1;
    co.key = cfg->key_file[0] ? &p->key : p->lw.keyed ? &p->lw.coord : NULL;
    int first[LP_CLUSTER_MAX_WORKERS], last[LP_CLUSTER_MAX_WORKERS];
    const char *paths[LP_CLUSTER_MAX_WORKERS];
    const uint8_t *shard_ids[LP_CLUSTER_MAX_WORKERS];
    uint8_t ids[LP_CLUSTER_MAX_WORKERS][LP_SHA256_BYTES];
    char abs_model[PATH_MAX];
    uint8_t id[LP_SHA256_BYTES];
    if (!(p->wire = lp_wire_new(err)) || !(p->cl = lp_cluster_new(p->wire, &co, err)) ||
        add_workers(p, co.key != NULL, err) != 0 || lp_model_id(p->g, id, err) != 0 ||
        plan_layers(p, &co, first, last, err) != 0 ||
        weights_for_workers(p, id, first, last, paths, shard_ids, ids, abs_model, err) != 0 ||
        lp_cluster_routes(p->cl, err) != 0)
        return -1;
    for (int i = 0; i < cfg->n_workers; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(p->cl, i);
        fprintf(stderr, "loading layers %d-%d on %s (%s, reached from %s)%s, sends to %s\n",
                first[i], last[i] - 1, w->name, w->control, w->via,
                shard_ids[i] ? " from its shard cache" : "",
                w->sends_to[0] ? w->sends_to : w->result);
    }
    if (lp_cluster_load(p->cl, id, paths, shard_ids, first, last, p->hp.n_vocab, err) != 0)
        return -1;
    for (int i = 0; i < cfg->n_workers; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(p->cl, i);
        fprintf(stderr, "%s: %s in %.2f s\n", w->name,
                w->kept ? "held these layers already (kept, relinked)" : "loaded",
                w->load_ms / 1000.0);
    }
    fprintf(stderr, "all %d workers ready\n", cfg->n_workers);
    for (int k = cfg->n_workers; k < cfg->n_workers + cfg->n_spares; k++) {
        const lp_config_worker *sw = &cfg->workers[k];
        if (lp_cluster_add_spare(p->cl, sw->endpoint, co.key ? sw->public_key : NULL,
                                 sw->model_path, err) != 0)
            return -1;
        fprintf(stderr, "spare %s (%s) standing by\n", sw->name, sw->endpoint);
    }
    return p->lw.n ? coord_pool_tend_start(p, err) : 0;
}

int coord_pool_up(coord_pool *p, lp_config *cfg, int local_threads, lp_err *err)
{
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->local_threads = local_threads;
    if (!(p->g = lp_gguf_open(cfg->model_path, err)) || lp_hparams_read(p->g, &p->hp, err) != 0)
        return -1;
    if (lp_gguf_find(p->g, "tokenizer.ggml.model") && !(p->tok = lp_tokenizer_load(p->g, err)))
        return -1;
    return connect_and_load(p, err);
}

void coord_pool_down(coord_pool *p)
{
    if (p->cl && p->cfg && p->cfg->local)
        lp_cluster_shutdown_workers(p->cl); /* workers of a config's pool keep serving */
    lp_local_workers_stop(&p->lw);
    lp_cluster_free(p->cl);
    lp_wire_free(p->wire);
    lp_tokenizer_free(p->tok);
    lp_gguf_close(p->g);
    free(p->cfg);
    memset(p, 0, sizeof *p);
}
