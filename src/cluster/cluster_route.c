/* cluster_route.c — the addresses each worker is given, each one it can
 * reach: where its results go (our result PULL, listening on our address
 * on the interface that faces that worker, or on [server] advertise) and
 * where its hidden states go (the next worker's data endpoint as we reach
 * it, unless that worker shares our machine and we reach it over
 * loopback: then our address facing the sender). */
#include "cluster_internal.h"

#include <stdio.h>
#include <string.h>

#include "route.h"

int cl_route_via(cl_worker *w, lp_err *err)
{
    char host[LP_ROUTE_HOST_MAX];
    int port;
    lp_err e = {{0}};
    if (lp_route_split(w->info.control, host, sizeof host, &port, &e) != 0 ||
        lp_route_source(host, w->info.via, sizeof w->info.via, &e) != 0)
        return lp_err_set(err, "worker %s: %s", w->info.control, e.msg);
    return 0;
}

void cl_route_data(cl_worker *w, const char *reported)
{
    char host[LP_ROUTE_HOST_MAX], at[LP_ROUTE_HOST_MAX];
    int port, ctl_port;
    snprintf(w->info.data, sizeof w->info.data, "%s", reported);
    if (lp_route_split(reported, host, sizeof host, &port, NULL) == 0 &&
        lp_route_is_wildcard(host) &&
        lp_route_split(w->info.control, at, sizeof at, &ctl_port, NULL) == 0)
        lp_route_join(at, port, w->info.data, sizeof w->info.data);
}

/* The host worker w is told to reach us at. */
static const char *reply_host(const lp_cluster *c, const cl_worker *w, char *adv, size_t cap,
                              int *port)
{
    *port = 0;
    if (c->o.advertise[0] && lp_route_split_host(c->o.advertise, adv, cap, port, NULL) == 0)
        return adv;
    return w->info.via;
}

/* The result socket is readable: Results and Errors of sessions. */
static void on_results(void *cluster)
{
    lp_cluster *c = cluster;
    Lp__Envelope *env;
    lp_err err = {0};
    lp_wire_info info;
    while (lp_wire_recv_info(c->result_pull, NULL, &env, 0, &info, &err) == 0) {
        cl_on_result(c, env, info.user_id);
        lp_wire_env_free(env);
    }
}

/* The result PULL, bound later (bound_at), served by the loop. */
static int open_results(lp_cluster *c, lp_err *err)
{
    const lp_curve cv = {.pub = c->o.key ? c->o.key->pub : NULL,
                         .sec = c->o.key ? c->o.key->sec : NULL, .zap_domain = "result"};
    if (!(c->result_pull = lp_wire_socket_curve(c->wire, LP_SOCK_PULL, NULL,
                                                c->o.key ? &cv : NULL, err)))
        return -1;
    return lp_loop_watch(c->loop, c->result_pull, -1, on_results, c, err);
}

/* Listen for results where workers dialling host reach us, once per host:
 * on host itself when it is ours, else (advertise behind NAT) on every
 * interface. */
static const char *bound_at(lp_cluster *c, const char *host, int port, lp_err *err)
{
    for (int k = 0; k < c->n_bound; k++)
        if (!strcmp(c->bound[k].host, host))
            return c->bound[k].endpoint;
    if (c->n_bound == LP_CLUSTER_MAX_WORKERS) {
        lp_err_set(err, "cluster: more than %d result addresses", LP_CLUSTER_MAX_WORKERS);
        return NULL;
    }
    char ep[300], got[300], h[LP_ROUTE_HOST_MAX];
    int got_port;
    bool ours = lp_route_is_loopback(host) || lp_route_is_local(host);
    lp_route_join(ours ? host : "*", port, ep, sizeof ep);
    if ((!c->result_pull && open_results(c, err) != 0) ||
        lp_wire_bind(c->result_pull, ep, err) != 0 ||
        lp_wire_endpoint(c->result_pull, got, sizeof got, err) != 0 ||
        lp_route_split(got, h, sizeof h, &got_port, err) != 0)
        return NULL;
    cl_bound *b = &c->bound[c->n_bound++];
    snprintf(b->host, sizeof b->host, "%s", host);
    lp_route_join(host, got_port, b->endpoint, sizeof b->endpoint);
    return b->endpoint;
}

/* Where worker i sends hidden states: worker i+1's data endpoint, seen
 * from worker i. */
static void next_hop(const lp_cluster *c, int i, const char *us, char *out, size_t cap)
{
    const char *data = c->w[i + 1].info.data;
    char host[LP_ROUTE_HOST_MAX];
    int port;
    snprintf(out, cap, "%s", data);
    if (lp_route_split(data, host, sizeof host, &port, NULL) == 0 &&
        lp_route_is_loopback(host) && !lp_route_is_loopback(c->w[i].info.via))
        lp_route_join(us, port, out, cap);
}

int cl_route_all(lp_cluster *c, lp_err *err)
{
    for (int i = 0; i < c->n_workers; i++) {
        cl_worker *w = &c->w[i];
        char adv[LP_ROUTE_HOST_MAX];
        int port;
        const char *us = reply_host(c, w, adv, sizeof adv, &port);
        const char *ep = bound_at(c, us, port, err);
        if (!ep)
            return -1;
        snprintf(w->info.result, sizeof w->info.result, "%s", ep);
        w->info.sends_to[0] = 0;
        if (i + 1 < c->n_workers)
            next_hop(c, i, us, w->info.sends_to, sizeof w->info.sends_to);
    }
    return 0;
}
