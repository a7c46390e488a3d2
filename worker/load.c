/* load.c — LoadShard: find the weights (the worker's own GGUF, or a shard
 * file in the cache), check they are the model the coordinator means and
 * that the shard fits the memory limit, open it, and connect the sockets
 * its position in the pipeline needs (checked to answer before anything
 * is loaded). The check runs on the header alone
 * (lp_plan_*: the planner's own arithmetic), before anything is allocated,
 * so a shard too big for this machine is refused with the numbers instead
 * of failing half way. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "compute.h"
#include "plan.h"
#include "shard_cache.h"
#include "shard_mem.h"
#include "size.h"

static int resolve_path(const wk_compute *c, const Lp__LoadShard *ls, char *path, size_t cap,
                        uint32_t *code, lp_err *err)
{
    if (ls->model_path[0]) {
        *code = LP_WIRE_ELOAD;
        return wk_models_dir_check(&c->ctx->opts, ls->model_path, path, cap, err);
    }
    int rc = lp_cache_path(c->ctx->opts.cache_dir, ls->shard_id.data, path, cap, err);
    if (rc == 1) {
        char hex[2 * LP_SHA256_BYTES + 1];
        lp_model_id_hex(ls->shard_id.data, hex);
        lp_err_set(err, "shard %s is not in this worker's cache (%s): send it first", hex,
                   c->ctx->opts.cache_dir);
    }
    *code = LP_WIRE_ELOAD;
    return rc == 0 ? 0 : -1;
}

static int resolve_ctx(const lp_plan_model *pm, uint32_t n_ctx)
{
    if (n_ctx > 0)
        return (int)n_ctx;
    return pm->n_ctx_train > 0 && pm->n_ctx_train < 4096 ? (int)pm->n_ctx_train : 4096;
}

typedef struct shard_need {
    uint64_t weights, kv, buffers;
    int n_ctx, n_threads;
    lp_attn_opts attn; /* the worker's -fa, -ctk, -ctv */
    bool ends_model;   /* holds the last layer: samples, sends no hidden states on */
} shard_need;

static int check_model(const lp_gguf *g, const Lp__LoadShard *ls, const char *path,
                       uint32_t *code, lp_err *err)
{
    uint8_t id[LP_SHA256_BYTES];
    if (lp_model_id(g, id, err) != 0)
        return -1;
    if (memcmp(id, ls->model_id.data, LP_SHA256_BYTES) != 0) {
        /* The file's own id goes to our log only: a peer that could read
         * it from the answer would learn what this machine holds. */
        char have[2 * LP_SHA256_BYTES + 1], want[2 * LP_SHA256_BYTES + 1];
        lp_model_id_hex(id, have);
        lp_model_id_hex(ls->model_id.data, want);
        fprintf(stderr, "LoadShard refused: %s has model id %s, the request asked for %s\n",
                path, have, want);
        *code = LP_WIRE_EMODEL;
        return lp_err_set(err, "this worker's file %s holds another model than the one asked "
                               "for", path);
    }
    return 0;
}

static int check_fit(const wk_compute *c, const lp_plan_model *pm, const Lp__LoadShard *ls,
                     shard_need *need, uint32_t *code, lp_err *err)
{
    int first = (int)ls->first_layer, last = (int)ls->last_layer;
    if (ls->last_layer > pm->n_layer) {
        *code = LP_WIRE_EMODEL;
        return lp_err_set(err, "layers [%d, %d) are outside the model's %u layers", first, last,
                          pm->n_layer);
    }
    if (lp_wire_hidden_bytes(ls->wire_dtype, 1, pm->n_embd) == 0) {
        *code = LP_WIRE_ELOAD;
        return lp_err_set(err, "wire dtype %d cannot carry %u-wide hidden states (f32, f16, "
                          "bf16 take any width, q8_0 a multiple of 32)",
                          (int)ls->wire_dtype, pm->n_embd);
    }
    /* A full step of hidden states must fit one message (wire.h's cap,
     * less room for the envelope around it). */
    uint64_t step_bytes = (uint64_t)ls->n_batch * pm->n_embd * sizeof(float);
    if (step_bytes > LP_WIRE_MAX_MSG - (1u << 20)) {
        *code = LP_WIRE_ELOAD;
        return lp_err_set(err, "n_batch %u x n_embd %u f32 hidden states are %llu bytes per "
                          "step, over the wire's %u MiB message cap: use a smaller n_batch",
                          ls->n_batch, pm->n_embd, (unsigned long long)step_bytes,
                          LP_WIRE_MAX_MSG >> 20);
    }
    need->ends_model = ls->last_layer == pm->n_layer;
    if (!need->ends_model && !ls->next_endpoint[0]) {
        *code = LP_WIRE_ELOAD;
        return lp_err_set(err, "layers [%d, %d) do not end the model, so next_endpoint is needed",
                          first, last);
    }
    need->n_ctx = resolve_ctx(pm, ls->n_ctx);
    need->n_threads = ls->n_threads ? (int)ls->n_threads : c->ctx->opts.n_threads;
    need->weights = lp_plan_weight_bytes(pm, first, last);
    need->attn = c->ctx->opts.attn;
    need->kv = lp_plan_kv_bytes_attn(pm, first, last, need->n_ctx, (int)ls->n_slots,
                                     &need->attn);
    need->buffers = lp_plan_run_bytes_attn(pm, first, last, (int)ls->n_batch, need->n_ctx,
                                           need->n_threads, &need->attn);
    uint64_t limit = c->ctx->opts.mem_limit;
    const char *what = "--mem-limit";
    lp_sysinfo si;
    if (limit == 0 && lp_sysinfo_read(&si, NULL) == 0)
        limit = si.ram_available, what = "the RAM available";
    uint64_t total = need->weights + need->kv;
    if (total < need->weights || total + need->buffers < total || need->buffers == UINT64_MAX)
        total = UINT64_MAX;
    else
        total += need->buffers;
    if (limit > 0 && total > limit) {
        char t[32], w[32], k[32], b[32], l[32];
        *code = LP_WIRE_ELOAD;
        return lp_err_set(err, "layers [%d, %d) need %s (weights %s + KV %s for %d x %u positions "
                          "+ buffers %s), over %s of %s", first, last,
                          lp_size_format(total, t, sizeof t), lp_size_format(need->weights, w, sizeof w),
                          lp_size_format(need->kv, k, sizeof k), need->n_ctx, ls->n_slots,
                          lp_size_format(need->buffers, b, sizeof b), what,
                          lp_size_format(limit, l, sizeof l));
    }
    return 0;
}

/* Identity and size checks from the header alone. */
static int probe(const wk_compute *c, const Lp__LoadShard *ls, const char *path, shard_need *need,
                 uint32_t *code, lp_err *err)
{
    *code = LP_WIRE_ELOAD;
    lp_gguf *g = lp_gguf_open(path, err);
    if (!g)
        return -1;
    lp_plan_model pm = {0};
    int rc = check_model(g, ls, path, code, err);
    if (rc == 0)
        rc = lp_plan_model_from_gguf(g, &pm, err);
    if (rc == 0)
        rc = check_fit(c, &pm, ls, need, code, err);
    lp_plan_model_free(&pm);
    lp_gguf_close(g);
    return rc;
}

/* The links this shard sends on, checked before any weight is touched:
 * ZeroMQ would queue for an address nobody answers at, so a wrong one
 * (127.0.0.1 given to a worker on another machine, an advertise that is
 * not ours) fails the load here, naming it, instead of a step that never
 * arrives. links[0]: the coordinator's result endpoint; links[1]: the
 * next worker's data endpoint, NULL on the last shard. */
enum { LINK_CHECK_MS = 5000 };

static int open_links(wk_compute *c, const Lp__LoadShard *ls, const shard_need *need,
                      void *links[2], uint32_t *code, lp_err *err)
{
    const char *eps[2] = {ls->result_endpoint, need->ends_model ? "" : ls->next_endpoint};
    const wk_ctx *x = c->ctx;
    /* With CURVE: results to the coordinator's key, hidden states to the
     * next worker's, as the (authenticated) coordinator named it. */
    const lp_curve curves[2] = {
        {.pub = x->key.pub, .sec = x->key.sec, .server_pub = x->opts.coordinator_key},
        {.pub = x->key.pub, .sec = x->key.sec, .server_pub = ls->next_public_key}};
    const bool curve = x->zap != NULL;
    if (curve && !need->ends_model && !ls->next_public_key[0]) {
        *code = LP_WIRE_ELOAD;
        return lp_err_set(err, "this worker's links are CURVE: the LoadShard must name the next "
                               "worker's public key");
    }
    int failed;
    lp_err e = {{0}};
    if (lp_wire_push_checked(x->wire, 2, eps, curve ? curves : NULL, LINK_CHECK_MS, links,
                             &failed, &e) == 0)
        return 0;
    *code = LP_WIRE_ELOAD;
    return lp_err_set(err, "%s: %s", failed == 0 ? "the coordinator's result endpoint"
                                                 : "the next worker's data endpoint",
                      e.msg);
}

/* With CURVE, who may send to our data endpoint from now on: the worker
 * before us, or the coordinator when we are first, as the latest LoadShard
 * says (also when that load then fails: it is the coordinator's plan). A
 * connection made before stays: ZAP judges a peer once, when it connects. */
static void allow_sender(wk_compute *c, const Lp__LoadShard *ls)
{
    lp_zap *z = c->ctx->zap;
    lp_err err = {0};
    if (!z)
        return;
    lp_zap_forget(z, "data");
    if (ls->prev_public_key[0] ? lp_zap_allow(z, "data", ls->prev_public_key, "prev", &err)
                               : lp_zap_allow(z, "data", c->ctx->opts.coordinator_key,
                                              "coordinator", &err))
        fprintf(stderr, "worker %s: %s\n", c->ctx->opts.name, err.msg);
}

static void use_links(wk_compute *c, const Lp__LoadShard *ls, void *links[2])
{
    lp_wire_close(c->result);
    lp_wire_close(c->next);
    c->result = links[0];
    c->next = links[1];
    snprintf(c->result_ep, sizeof c->result_ep, "%s", ls->result_endpoint);
    snprintf(c->next_ep, sizeof c->next_ep, "%s", links[1] ? ls->next_endpoint : "");
}

void wk_unload(wk_compute *c)
{
    if (c->shard && c->sessions)
        for (int i = 0; i < c->sessions->n; i++)
            wk_sessions_close(c->sessions, c->shard->kv, i);
    wk_sessions_free(c->sessions);
    lp_shard_close(c->shard);
    free(c->wire_buf);
    c->sessions = NULL;
    c->shard = NULL;
    c->wire_buf = NULL;
}

/* Room to convert a step's hidden states to the wire dtype: none for f32,
 * which goes as it is, nor on the last shard, which sends no hidden states. */
static int wire_buffer(const Lp__LoadShard *ls, const lp_shard *s, uint8_t **buf, lp_err *err)
{
    *buf = NULL;
    if (ls->wire_dtype == LP__HIDDEN_DTYPE__HIDDEN_F32 || s->model->has_head)
        return 0;
    *buf = malloc(lp_wire_hidden_bytes(ls->wire_dtype, ls->n_batch, s->model->hp.n_embd));
    return *buf ? 0 : lp_err_set(err, "out of memory for the wire buffer");
}

static lp_shard *open_shard(const Lp__LoadShard *ls, const char *path, const shard_need *need,
                            wk_sessions **sessions, lp_err *err)
{
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.prefault = true; /* ready means resident: the first step does not fault */
    o.first = (int)ls->first_layer;
    o.last = (int)ls->last_layer;
    o.n_threads = need->n_threads;
    o.n_ctx = need->n_ctx;
    o.n_batch = (int)ls->n_batch;
    o.n_slots = (int)ls->n_slots;
    o.attn = need->attn;
    lp_shard *s = lp_shard_open(path, &o, err);
    if (!s)
        return NULL;
    if (!(*sessions = wk_sessions_new(o.n_slots, err))) {
        lp_shard_close(s);
        return NULL;
    }
    return s;
}

/* What the shard's memory is made of, next to what the kernel says we
 * hold: weights are used in place from the mapping, so RSS should stay
 * near weights + KV + buffers, and a copy would show here at once. */
static void report_memory(const wk_compute *c, const lp_shard *s)
{
    lp_shard_mem mem;
    lp_proc_mem pm;
    char line[256];
    if (lp_shard_mem_of(s, &mem, NULL) != 0)
        return;
    fprintf(stderr, "worker %s: layers %d-%d, %d threads: %s\n", c->ctx->opts.name,
            s->model->first, s->model->last - 1, s->opts.n_threads,
            lp_shard_mem_line(&mem, lp_proc_mem_read(0, &pm) == 0 ? &pm : NULL, line,
                              sizeof line));
}

/* The LoadShard asks for the shard we hold, as we hold it? */
static bool same_shard(const wk_compute *c, const Lp__LoadShard *ls, const char *path,
                       const shard_need *need)
{
    const lp_shard *s = c->shard;
    return s && !strcmp(path, c->shard_path) &&
           !memcmp(ls->model_id.data, c->model_id, LP_SHA256_BYTES) &&
           s->opts.first == (int)ls->first_layer && s->opts.last == (int)ls->last_layer &&
           s->opts.n_ctx == need->n_ctx && s->opts.n_batch == (int)ls->n_batch &&
           s->opts.n_slots == (int)ls->n_slots && s->opts.n_threads == need->n_threads &&
           c->shard_dtype == ls->wire_dtype;
}

/* The same shard again (a neighbour was restarted, or a new coordinator
 * took over): the weights stay, the links are made anew (a CURVE peer
 * that restarted refused our old one until its load, and ZeroMQ does not
 * try again after a refusal), and every session ends: whoever sends this
 * starts them afresh. */
static void relink(wk_compute *c, const Lp__LoadShard *ls, void *links[2])
{
    for (int i = 0; i < c->sessions->n; i++)
        wk_sessions_close(c->sessions, c->shard->kv, i);
    use_links(c, ls, links);
    fprintf(stderr, "worker %s: layers %u-%u kept; links made again to %s%s%s\n",
            c->ctx->opts.name, ls->first_layer, ls->last_layer - 1, c->result_ep,
            c->next_ep[0] ? " and " : "", c->next_ep);
}

static void fill_ready(wk_compute *c, const Lp__LoadShard *ls, const shard_need *need,
                       Lp__ShardReady *ready, int64_t t0)
{
    wk_publish_stats(c);
    ready->model_id = (ProtobufCBinaryData){LP_SHA256_BYTES, c->model_id};
    ready->first_layer = ls->first_layer;
    ready->last_layer = ls->last_layer;
    ready->weight_bytes = need->weights;
    ready->kv_bytes = need->kv;
    ready->buffer_bytes = need->buffers;
    ready->load_ms = (uint32_t)(lp_now_ms() - t0);
}


int wk_load(wk_compute *c, const Lp__LoadShard *ls, Lp__ShardReady *ready, uint32_t *code,
            lp_err *err)
{
    int64_t t0 = lp_now_ms();
    char path[4096];
    shard_need need = {0};
    void *links[2];
    /* First, before anything slow: the worker before us links to our data
     * endpoint while loading at the same time, and ZeroMQ retries its
     * handshake until we let it in. */
    allow_sender(c, ls);
    if (resolve_path(c, ls, path, sizeof path, code, err) != 0 ||
        probe(c, ls, path, &need, code, err) != 0 ||
        open_links(c, ls, &need, links, code, err) != 0)
        return -1;
    *code = LP_WIRE_ELOAD;
    if (same_shard(c, ls, path, &need)) {
        relink(c, ls, links);
        fill_ready(c, ls, &need, ready, t0);
        ready->kept = true;
        return 0;
    }
    wk_sessions *sessions = NULL;
    uint8_t *wire_buf = NULL;
    lp_shard *s = open_shard(ls, path, &need, &sessions, err);
    if (s && wire_buffer(ls, s, &wire_buf, err) != 0) {
        wk_sessions_free(sessions);
        lp_shard_close(s);
        s = NULL;
    }
    if (!s) {
        lp_wire_close(links[0]);
        lp_wire_close(links[1]);
        return -1;
    }
    wk_unload(c);
    c->wire_buf = wire_buf;
    c->wire_dtype = ls->wire_dtype;
    use_links(c, ls, links);
    c->shard = s;
    c->sessions = sessions;
    report_memory(c, s);
    memcpy(c->model_id, ls->model_id.data, LP_SHA256_BYTES);
    snprintf(c->shard_path, sizeof c->shard_path, "%s", path);
    c->shard_dtype = ls->wire_dtype;
    fill_ready(c, ls, &need, ready, t0);
    return 0;
}
