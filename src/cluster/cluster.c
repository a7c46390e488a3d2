/* cluster.c — workers and loading: connect, Hello, LoadShard, the poll
 * loop and teardown. Sessions are in cluster_session.c, heartbeats and
 * lost workers in cluster_health.c. */
#include "cluster_internal.h"

#include "transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "clock.h"

void lp_cluster_opts_default(lp_cluster_opts *o)
{
    *o = (lp_cluster_opts){.n_ctx = 2048, .n_slots = 4, .n_batch = 256, .n_threads = 0,
                           .heartbeat_ms = 500, .dead_after_ms = 3000, .recover_ms = 60000,
                           .step_timeout_ms = 30000,
                           .load_timeout_ms = 600000};
}

void cl_log(const lp_cluster *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!c->o.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->o.log(c->o.log_user, line);
}

lp_cluster *lp_cluster_new(lp_wire *w, const lp_cluster_opts *o, lp_err *err)
{
    lp_cluster *c = calloc(1, sizeof *c);
    if (!c) {
        lp_err_set(err, "cluster: out of memory");
        return NULL;
    }
    c->wire = w;
    c->o = *o;
    if ((c->o.key && !(c->zap = lp_zap_start(w, "coordinator", err))) ||
        !(c->loop = lp_loop_new(err)) ||
        !lp_loop_timer(c->loop, c->o.heartbeat_ms, cl_heartbeat_timer, c, err)) {
        lp_cluster_free(c);
        return NULL;
    }
    return c; /* the result PULL is bound once we know where workers are */
}

void lp_cluster_free(lp_cluster *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_s; i++) {
        free(c->s[i].prompt);
        free(c->s[i].gen);
    }
    free(c->s);
    free(c->closing);
    for (int i = 0; i < c->n_workers + c->n_spares; i++)
        lp_wire_close(c->w[i].ctl);
    lp_wire_close(c->data_push);
    lp_wire_close(c->result_pull);
    lp_loop_free(c->loop);
    lp_zap_stop(c->zap);
    free(c);
}

int lp_cluster_n_workers(const lp_cluster *c)
{
    return c->n_workers;
}

const lp_cluster_worker *lp_cluster_get_worker(const lp_cluster *c, int i)
{
    return i >= 0 && i < c->n_workers ? &c->w[i].info : NULL;
}

/* Wait for the reply to request_id on worker i's control socket; other
 * traffic meanwhile goes to cl_on_control. */
static int await_reply(lp_cluster *c, int i, uint64_t request_id, int timeout_ms,
                       Lp__Envelope **out, lp_err *err)
{
    int64_t deadline = lp_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - lp_now_ms());
        if (left <= 0)
            return lp_err_set(err, "worker %s (%s) did not answer within %d s",
                              c->w[i].info.name[0] ? c->w[i].info.name : "?",
                              c->w[i].info.control, timeout_ms / 1000);
        Lp__Envelope *env;
        int rc = lp_wire_recv(c->w[i].ctl, NULL, &env, left, err);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        c->w[i].info.last_seen_ms = lp_now_ms();
        if (env->request_id == request_id) {
            *out = env;
            return 0;
        }
        cl_on_control(c, i, env);
        lp_wire_env_free(env);
    }
}

static void take_capabilities(cl_worker *w, const Lp__Capabilities *cap)
{
    lp_cluster_worker *in = &w->info;
    snprintf(in->name, sizeof in->name, "%s", cap->name ? cap->name : "");
    cl_route_data(w, cap->data_endpoint ? cap->data_endpoint : "");
    snprintf(in->isa, sizeof in->isa, "%s", cap->isa ? cap->isa : "");
    in->ram_total = cap->ram_total;
    in->ram_available = cap->ram_available;
    in->mem_limit = cap->mem_limit;
    in->cores = cap->cores;
    in->gflops = cap->matmul_gflops;
    w->incarnation = cap->incarnation;
}

/* The worker's control line is readable: its answers and heartbeats. */
static void on_control_line(void *worker)
{
    cl_worker *w = worker;
    Lp__Envelope *env;
    lp_err err = {0};
    while (lp_wire_recv(w->ctl, NULL, &env, 0, &err) == 0) {
        w->info.last_seen_ms = lp_now_ms();
        cl_on_control(w->c, w->index, env);
        lp_wire_env_free(env);
    }
}

static int hello(lp_cluster *c, cl_worker *w, const char *endpoint, lp_err *err)
{
    Lp__Hello hello = LP__HELLO__INIT;
    hello.coordinator = "coord";
    Lp__Envelope env = LP__ENVELOPE__INIT, *reply = NULL;
    env.request_id = ++c->hb_seq;
    env.body_case = LP__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    int rc = lp_wire_send(w->ctl, NULL, &env, 5000, err);
    if (rc == 0)
        rc = await_reply(c, w->index, env.request_id, 3 * c->o.dead_after_ms, &reply, err);
    if (rc == 0 && reply->body_case == LP__ENVELOPE__BODY_ERROR)
        rc = lp_err_set(err, "worker %s refused: %s", endpoint, reply->error->message);
    else if (rc == 0 && reply->body_case != LP__ENVELOPE__BODY_CAPABILITIES)
        rc = lp_err_set(err, "worker %s answered Hello with something else", endpoint);
    if (rc == 0) {
        take_capabilities(w, reply->capabilities);
        w->info.alive = true;
        w->info.last_seen_ms = lp_now_ms();
    }
    lp_wire_env_free(reply);
    return rc;
}

int lp_cluster_add_worker(lp_cluster *c, const char *endpoint, lp_err *err)
{
    return lp_cluster_add_worker_keyed(c, endpoint, NULL, err);
}

/* With CURVE, worker w may send results (its stage as its user id). */
static int allow_results(lp_cluster *c, const cl_worker *w, lp_err *err)
{
    char stage[16];
    snprintf(stage, sizeof stage, "%d", w->index);
    return lp_zap_allow(c->zap, "result", w->pub, stage, err);
}

/* Connect to the worker at endpoint as entry idx of c->w (counted by the
 * caller already) and say Hello. */
static int add_at(lp_cluster *c, int idx, const char *endpoint, const char *pub, lp_err *err)
{
    if (!c->o.key != !pub)
        return lp_err_set(err, "cluster: worker %s: %s", endpoint,
                          pub ? "a public key for a pool without our own key"
                              : "no public key, and this pool's links are CURVE");
    if (pub && !lp_key_valid(pub))
        return lp_err_set(err, "cluster: worker %s: '%s' is not a public key", endpoint, pub);
    cl_worker *w = &c->w[idx];
    memset(w, 0, sizeof *w);
    *w = (cl_worker){.c = c, .index = idx};
    snprintf(w->info.control, sizeof w->info.control, "%s", endpoint);
    snprintf(w->pub, sizeof w->pub, "%s", pub ? pub : "");
    const lp_curve cv = {.pub = pub ? c->o.key->pub : NULL, .sec = pub ? c->o.key->sec : NULL,
                         .server_pub = pub};
    if (cl_route_via(w, err) != 0 || (pub && allow_results(c, w, err) != 0) ||
        !(w->ctl = lp_wire_socket_curve(c->wire, LP_SOCK_DEALER, endpoint, pub ? &cv : NULL,
                                        err)))
        return -1;
    int rc = hello(c, w, endpoint, err);
    if (rc == 0)
        rc = lp_loop_watch(c->loop, w->ctl, -1, on_control_line, w, err);
    if (rc != 0)
        lp_wire_close(w->ctl);
    return rc;
}

int lp_cluster_add_worker_keyed(lp_cluster *c, const char *endpoint, const char *pub,
                                lp_err *err)
{
    if (c->n_workers == LP_CLUSTER_MAX_WORKERS)
        return lp_err_set(err, "cluster: at most %d workers", LP_CLUSTER_MAX_WORKERS);
    if (c->n_spares)
        return lp_err_set(err, "cluster: the pipeline's workers come before the spares");
    int rc = add_at(c, c->n_workers++, endpoint, pub, err);
    c->n_workers -= rc != 0;
    return rc;
}

int lp_cluster_add_spare(lp_cluster *c, const char *endpoint, const char *pub,
                         const char *model_path, lp_err *err)
{
    if (c->n_workers + c->n_spares == LP_CLUSTER_MAX_WORKERS)
        return lp_err_set(err, "cluster: at most %d workers", LP_CLUSTER_MAX_WORKERS);
    const int idx = c->n_workers + c->n_spares++;
    int rc = add_at(c, idx, endpoint, pub, err);
    c->n_spares -= rc != 0;
    if (rc == 0)
        snprintf(c->w[idx].model_path, sizeof c->w[idx].model_path, "%s", model_path);
    return rc;
}

static int wait_ready(lp_cluster *c, int i, uint64_t request_id, lp_err *err)
{
    Lp__Envelope *reply = NULL;
    cl_worker *w = &c->w[i];
    int rc = await_reply(c, i, request_id, c->o.load_timeout_ms, &reply, err);
    if (rc == 0 && reply->body_case == LP__ENVELOPE__BODY_ERROR)
        rc = lp_err_set(err, "worker %s (%s) could not load layers %d-%d: %s%s%s%s",
                        w->info.name, w->info.control, w->info.first, w->info.last - 1,
                        reply->error->message, c->o.advertise[0] ? " ([server] advertise = " : "",
                        c->o.advertise, c->o.advertise[0] ? ")" : "");
    else if (rc == 0 && reply->body_case != LP__ENVELOPE__BODY_SHARD_READY)
        rc = lp_err_set(err, "worker %s answered LoadShard with something else", w->info.name);
    if (rc == 0) {
        w->info.load_ms = reply->shard_ready->load_ms;
        w->info.kept = reply->shard_ready->kept;
    }
    w->loaded = rc == 0;
    lp_wire_env_free(reply);
    return rc;
}

int lp_cluster_routes(lp_cluster *c, lp_err *err)
{
    return cl_route_all(c, err);
}

/* Our PUSH to worker 0's data endpoint, checked to answer (wire.h). */
static int connect_first(lp_cluster *c, lp_err *err)
{
    enum { LINK_CHECK_MS = 5000 };
    const char *ep = c->w[0].info.data;
    int failed;
    lp_err e = {{0}};
    if (c->data_push)
        return 0;
    const lp_curve cv = {.pub = c->o.key ? c->o.key->pub : NULL,
                         .sec = c->o.key ? c->o.key->sec : NULL, .server_pub = c->w[0].pub};
    if (lp_wire_push_checked(c->wire, 1, &ep, c->o.key ? &cv : NULL, LINK_CHECK_MS,
                             &c->data_push, &failed, &e) != 0)
        return lp_err_set(err, "the first worker %s's data endpoint: %s", c->w[0].info.name,
                          e.msg);
    return 0;
}

/* Worker i and spare j trade places (structs, indexes, the loop's watches
 * of their control lines, their stages for ZAP). */
static void swap_workers(lp_cluster *c, int i, int j)
{
    lp_err err = {0};
    lp_loop_unwatch(c->loop, c->w[i].ctl, -1);
    lp_loop_unwatch(c->loop, c->w[j].ctl, -1);
    cl_worker t = c->w[i];
    c->w[i] = c->w[j];
    c->w[j] = t;
    c->w[i].index = i;
    c->w[j].index = j;
    for (int k = 0; k < 2; k++) {
        cl_worker *w = &c->w[k ? j : i];
        lp_loop_watch(c->loop, w->ctl, -1, on_control_line, w, &err);
        if (w->pub[0])
            allow_results(c, w, &err);
    }
}

bool cl_promote_spare(lp_cluster *c, int i)
{
    int j = c->n_workers;
    while (j < c->n_workers + c->n_spares && !c->w[j].info.alive)
        j++;
    if (j == c->n_workers + c->n_spares)
        return false;
    cl_worker *lost = &c->w[i], *sp = &c->w[j];
    sp->info.first = lost->info.first;
    sp->info.last = lost->info.last;
    sp->from_shard = false;
    sp->loaded = false;
    lost->info.first = lost->info.last = 0; /* a spare from now on, if it comes back */
    swap_workers(c, i, j);
    cl_log(c, "spare %s (%s) takes layers %d-%d of lost worker %s", c->w[i].info.name,
           c->w[i].info.control, c->w[i].info.first, c->w[i].info.last - 1, c->w[j].info.name);
    lp_err err = {0};
    if (cl_route_all(c, &err) != 0)
        cl_log(c, "the new routes: %s", err.msg);
    if (i == 0) { /* our data link goes to the new first worker */
        lp_wire_close(c->data_push);
        c->data_push = NULL;
        if (connect_first(c, &err) != 0)
            cl_log(c, "%s", err.msg);
    }
    return true;
}

int lp_cluster_load(lp_cluster *c, const uint8_t model_id[LP_SHA256_BYTES],
                    const char *const *model_path, const uint8_t *const *shard_id,
                    const int *first, const int *last, uint32_t n_vocab, lp_err *err)
{
    if (c->n_workers == 0)
        return lp_err_set(err, "cluster: no workers to load");
    memcpy(c->model_id, model_id, LP_SHA256_BYTES);
    c->n_vocab = n_vocab;
    for (int i = 0; i < c->n_workers; i++) {
        c->w[i].info.first = first[i];
        c->w[i].info.last = last[i];
        snprintf(c->w[i].model_path, sizeof c->w[i].model_path, "%s",
                 model_path[i] ? model_path[i] : "");
        c->w[i].from_shard = shard_id && shard_id[i];
        if (c->w[i].from_shard)
            memcpy(c->w[i].shard_id, shard_id[i], LP_SHA256_BYTES);
    }
    if (cl_route_all(c, err) != 0 || connect_first(c, err) != 0)
        return -1;
    uint64_t ids[LP_CLUSTER_MAX_WORKERS];
    for (int i = c->n_workers - 1; i >= 0; i--) /* the last first: each worker lets the
                                                    one before it in as its load starts */
        if (cl_send_load(c, i, &ids[i], err) != 0)
            return -1;
    for (int i = 0; i < c->n_workers; i++)
        if (wait_ready(c, i, ids[i], err) != 0)
            return -1;
    c->ready = true;
    return 0;
}

int lp_cluster_poll(lp_cluster *c, int timeout_ms, lp_err *err)
{
    if (cl_drive_sessions(c, err) != 0 || lp_loop_turn(c->loop, timeout_ms, err) < 0 ||
        cl_drive_sessions(c, err) != 0)
        return -1;
    return c->n_s;
}

lp_loop *lp_cluster_loop(lp_cluster *c)
{
    return c->loop;
}

void lp_cluster_shutdown_workers(lp_cluster *c)
{
    Lp__Shutdown sd = LP__SHUTDOWN__INIT;
    for (int i = 0; i < c->n_workers; i++) {
        Lp__Envelope env = LP__ENVELOPE__INIT;
        env.body_case = LP__ENVELOPE__BODY_SHUTDOWN;
        env.shutdown = &sd;
        lp_wire_send(c->w[i].ctl, NULL, &env, 1000, NULL);
    }
}

int lp_cluster_send_shard(lp_cluster *c, int i, const char *path,
                          const uint8_t shard_id[LP_SHA256_BYTES],
                          bool (*progress)(void *ctx, uint64_t done, uint64_t total, double mb_s),
                          void *ctx, lp_err *err)
{
    if (i < 0 || i >= c->n_workers)
        return lp_err_set(err, "cluster: no worker %d", i);
    int rc = lp_transfer_shard(c->w[i].ctl, path, shard_id, progress, ctx,
                               c->o.dead_after_ms * 10, &c->hb_seq, NULL, err);
    c->w[i].info.last_seen_ms = lp_now_ms();
    return rc;
}
