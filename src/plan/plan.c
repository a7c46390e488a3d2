/* plan.c — the shard planner: a token's cost split in proportion to speed, and when memory
 * forbids them, the split with the smallest bottleneck that fits.
 *
 * The search rests on one fact: a shard's needs only grow when it gains
 * layers (every term is a sum or a max over its layers), so the furthest
 * layer a worker can reach from a start never moves back as the start moves
 * forward. That gives each worker's reach for every start in one sweep, and
 * whether workers i.. can cover the layers from a start is one backward pass
 * over starts. */
#include "plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"
#include "size.h"

void lp_plan_opts_default(lp_plan_opts *o)
{
    *o = (lp_plan_opts){.n_ctx = 4096, .n_sessions = 1, .n_batch = 256, .n_threads = 16,
                        .reserve = LP_PLAN_RESERVE_DEFAULT};
}

/* ---- input checks ------------------------------------------------------- */

static int check_opts(const lp_plan_opts *o, lp_err *err)
{
    if (o->n_ctx < 1 || o->n_ctx > (1 << 24))
        return lp_err_set(err, "plan: context %d is not in [1, %d]", o->n_ctx, 1 << 24);
    if (o->n_sessions < 1 || o->n_sessions > 4096)
        return lp_err_set(err, "plan: sessions %d is not in [1, 4096]", o->n_sessions);
    if (o->n_batch < 1 || o->n_batch > 65536)
        return lp_err_set(err, "plan: batch %d is not in [1, 65536]", o->n_batch);
    if (o->n_threads < 1 || o->n_threads > 1024)
        return lp_err_set(err, "plan: threads %d is not in [1, 1024]", o->n_threads);
    return 0;
}

static int check_inputs(const lp_plan_model *m, const lp_plan_worker *w, int n,
                        const lp_plan_opts *o, lp_err *err)
{
    if (m->n_layer == 0 || m->n_layer > 4096 || !m->layer_bytes || !m->layer_dot_row)
        return lp_err_set(err, "plan: the model has no layers");
    if (n < 1 || n > LP_PLAN_MAX_WORKERS)
        return lp_err_set(err, "plan: %d workers (1 to %d can be planned)", n,
                          LP_PLAN_MAX_WORKERS);
    if (n > (int)m->n_layer)
        return lp_err_set(err, "plan: %d workers for %u layers: every worker needs a layer, "
                          "so use at most %u workers", n, m->n_layer, m->n_layer);
    for (int i = 0; i < n; i++) {
        if (w[i].budget == 0)
            return lp_err_set(err, "plan: worker %d has a memory budget of 0", i);
        if (!(w[i].speed > 0.0 && w[i].speed <= 1e12))
            return lp_err_set(err, "plan: worker %d has speed %g (it must be > 0)", i,
                              w[i].speed);
    }
    if (check_opts(o, err) != 0)
        return -1;
    /* Every shard needs at most this; if it fits 64 bits, so does every sum
     * the search makes without checking. */
    const int L = (int)m->n_layer;
    uint64_t bound = lp_plan_weight_bytes(m, 0, L);
    bound = lp_plan_sat_add(bound, m->embed_bytes);
    bound = lp_plan_sat_add(bound,
                            lp_plan_kv_bytes_attn(m, 0, L, o->n_ctx, o->n_sessions, &o->attn));
    bound = lp_plan_sat_add(bound, lp_plan_run_bytes_attn(m, 0, L, o->n_batch, o->n_ctx,
                                                          o->n_threads, &o->attn));
    bound = lp_plan_sat_add(bound, o->reserve);
    if (bound >= UINT64_MAX / 2)
        return lp_err_set(err, "plan: the model's sizes overflow 64 bits");
    return 0;
}

/* ---- proportional split ------------------------------------------------ */

/* What a token costs a layer: decoding reads each weight once, so its
 * bytes; the last layer carries the head (output.weight, or token_embd
 * when tied), which on a large vocabulary weighs as much as several
 * layers (Llama 3 1B: 7 of its 16), so equal layer counts would leave the
 * last worker the pipeline's bottleneck. The embedding costs one row. */
static double layer_cost(const lp_plan_model *m, int l)
{
    double c = (double)m->layer_bytes[l];
    if (l + 1 == (int)m->n_layer)
        c += (double)(m->output_tied ? m->embed_bytes : m->output_bytes);
    return c;
}

/* Worker i's layers end where the cost so far comes closest to its share
 * of the total by speed (ties to the later end: the earlier worker takes
 * the layer), at least one layer each. */
static void proportional(const lp_plan_model *m, const lp_plan_worker *w, int n, int *count)
{
    const int L = (int)m->n_layer;
    double total = 0.0, speed = 0.0, done = 0.0, at = 0.0; /* at: cost of layers < a */
    for (int l = 0; l < L; l++)
        total += layer_cost(m, l);
    for (int i = 0; i < n; i++)
        speed += w[i].speed;
    for (int i = 0, a = 0; i < n; i++) {
        done += w[i].speed;
        const double target = total * (done / speed);
        const int hi = i + 1 == n ? L : L - (n - 1 - i); /* the last takes the rest */
        int e = a + 1;
        at += layer_cost(m, a);
        while (e < hi && (i + 1 == n || fabs(at + layer_cost(m, e) - target) <= fabs(at - target)))
            at += layer_cost(m, e++);
        count[i] = e - a;
        a = e;
    }
}

/* ---- the search --------------------------------------------------------- */

typedef struct planner {
    const lp_plan_model *m;
    const lp_plan_worker *w;
    const lp_plan_opts *o;
    int L, n, levels;
    uint64_t kv_layer, run_fixed;
    uint64_t *prefix;   /* [L + 1] layer bytes before layer i */
    uint64_t *rmq;      /* [levels][L] max dot row of layers [a, a + 2^k) */
    int *reach;         /* [n][L] furthest end worker i can hold from start a */
    unsigned char *ok;  /* [n + 1][L + 1] workers i.. can cover [a, L) */
    int *cnt;           /* [L + 2] prefix counts of one ok row */
    double *tok_cost;   /* [L + 1] layer_cost of the layers before layer i */
} planner;

static uint64_t range_max(const planner *p, int a, int e)
{
    int k = 31 - __builtin_clz((unsigned)(e - a));
    uint64_t x = p->rmq[(size_t)k * p->L + a], y = p->rmq[(size_t)k * p->L + e - (1 << k)];
    return x > y ? x : y;
}

/* What a worker holding [a, e) needs; agrees with the public per-shard
 * functions (fill_shard), without their loops. */
static uint64_t cost(const planner *p, int a, int e)
{
    const lp_plan_model *m = p->m;
    uint64_t wt = p->prefix[e] - p->prefix[a] + m->rope_freqs_bytes +
                  lp_plan_ends_bytes(m, a, e);
    uint64_t kv = (uint64_t)(e - a) * p->kv_layer;
    uint64_t run = p->run_fixed +
                   lp_plan_scratch_bytes(m, range_max(p, a, e), p->o->n_batch, e == p->L);
    return wt + kv + run + p->o->reserve;
}

static void planner_free(planner *p)
{
    free(p->prefix);
    free(p->rmq);
    free(p->reach);
    free(p->ok);
    free(p->cnt);
    free(p->tok_cost);
}

static void compute_reach(planner *p)
{
    for (int i = 0; i < p->n; i++) {
        int *r = p->reach + (size_t)i * p->L;
        int e = 0;
        for (int a = 0; a < p->L; a++) {
            if (e < a)
                e = a;
            while (e < p->L && cost(p, a, e + 1) <= p->w[i].budget)
                e++;
            r[a] = e;
        }
    }
}

static int planner_init(planner *p, const lp_plan_model *m, const lp_plan_worker *w, int n,
                        const lp_plan_opts *o, lp_err *err)
{
    const int L = (int)m->n_layer;
    *p = (planner){.m = m, .w = w, .o = o, .L = L, .n = n};
    while ((1 << p->levels) <= L)
        p->levels++;
    p->prefix = calloc((size_t)L + 1, sizeof *p->prefix);
    p->rmq = calloc((size_t)p->levels * L, sizeof *p->rmq);
    p->reach = calloc((size_t)n * L, sizeof *p->reach);
    p->ok = calloc((size_t)(n + 1) * (L + 1), 1);
    p->cnt = calloc((size_t)L + 2, sizeof *p->cnt);
    p->tok_cost = calloc((size_t)L + 1, sizeof *p->tok_cost);
    if (!p->prefix || !p->rmq || !p->reach || !p->ok || !p->cnt || !p->tok_cost) {
        planner_free(p);
        return lp_err_set(err, "plan: out of memory");
    }
    for (int i = 0; i < L; i++) {
        p->prefix[i + 1] = p->prefix[i] + m->layer_bytes[i];
        p->tok_cost[i + 1] = p->tok_cost[i] + layer_cost(m, i);
        p->rmq[i] = m->layer_dot_row[i];
    }
    for (int k = 1; k < p->levels; k++)
        for (int a = 0; a + (1 << k) <= L; a++) {
            uint64_t x = p->rmq[(size_t)(k - 1) * L + a],
                     y = p->rmq[(size_t)(k - 1) * L + a + (1 << (k - 1))];
            p->rmq[(size_t)k * L + a] = x > y ? x : y;
        }
    p->kv_layer = lp_plan_kv_bytes_attn(m, 0, 1, o->n_ctx, o->n_sessions, &o->attn);
    p->run_fixed = lp_plan_run_fixed_bytes(m, o->n_batch, o->n_ctx, o->n_threads,
                                           o->attn.flash);
    compute_reach(p);
    return 0;
}

/* Furthest end worker i may take from start a within a token cost of cap
 * (and its memory). */
static int max_end(const planner *p, int i, int a, double cap)
{
    int e = p->reach[(size_t)i * p->L + a];
    if (p->tok_cost[e] - p->tok_cost[a] <= cap)
        return e;
    int lo = a, hi = e; /* cost(a, lo) <= cap < cost(a, hi) */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (p->tok_cost[mid] - p->tok_cost[a] <= cap)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Fill ok[] for cost caps cap[i]; true if worker 0 can start the cover. */
static bool feasible(planner *p, const double *cap)
{
    const int L = p->L, W = L + 1;
    memset(p->ok, 0, (size_t)(p->n + 1) * W);
    p->ok[(size_t)p->n * W + L] = 1;
    for (int i = p->n - 1; i >= 0; i--) {
        const unsigned char *next = p->ok + (size_t)(i + 1) * W;
        p->cnt[0] = 0;
        for (int x = 0; x <= L; x++)
            p->cnt[x + 1] = p->cnt[x] + next[x];
        for (int a = 0; a < L; a++) {
            int hi = max_end(p, i, a, cap[i]);
            p->ok[(size_t)i * W + a] = hi > a && p->cnt[hi + 1] - p->cnt[a + 1] > 0;
        }
    }
    return p->ok[0];
}

static void caps_for(const planner *p, double t, double *cap)
{
    for (int i = 0; i < p->n; i++)
        cap[i] = t * p->w[i].speed;
}

/* The smallest bottleneck T (a token's cost per unit of speed) that fits,
 * by bisection; leaves ok[] for that T. False if nothing fits at all. */
static bool search(planner *p, double *cap)
{
    double lo = 0.0, hi = 0.0;
    for (int i = 0; i < p->n; i++)
        if (p->tok_cost[p->L] / p->w[i].speed > hi)
            hi = p->tok_cost[p->L] / p->w[i].speed;
    caps_for(p, hi, cap);
    if (!feasible(p, cap))
        return false;
    for (int it = 0; it < 200; it++) {
        double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi)
            break;
        caps_for(p, mid, cap);
        if (feasible(p, cap))
            hi = mid;
        else
            lo = mid;
    }
    caps_for(p, hi, cap);
    return feasible(p, cap);
}

/* Walk forward, each worker ending as close as it can to the proportional
 * boundary while the rest can still be covered. */
static void choose(const planner *p, const double *cap, const int *prop, int *first, int *last)
{
    const int W = p->L + 1;
    int a = 0, target = 0;
    for (int i = 0; i < p->n; i++) {
        target += prop[i];
        int hi = max_end(p, i, a, cap[i]), best = -1;
        for (int e = a + 1; e <= hi; e++)
            if (p->ok[(size_t)(i + 1) * W + e] &&
                (best < 0 || abs(e - target) < abs(best - target)))
                best = e;
        first[i] = a;
        last[i] = best;
        a = best;
    }
}

/* ---- results ------------------------------------------------------------ */

static void fill_shard(const lp_plan_model *m, const lp_plan_worker *w, const lp_plan_opts *o,
                       int first, int last, lp_plan_shard *s)
{
    *s = (lp_plan_shard){.first = first, .last = last, .has_embed = first == 0,
                         .has_head = last == (int)m->n_layer, .reserve = o->reserve,
                         .budget = w->budget};
    s->weight_bytes = lp_plan_weight_bytes(m, first, last);
    s->kv_bytes = lp_plan_kv_bytes_attn(m, first, last, o->n_ctx, o->n_sessions, &o->attn);
    s->buffer_bytes = lp_plan_run_bytes_attn(m, first, last, o->n_batch, o->n_ctx, o->n_threads,
                                             &o->attn);
    s->total = lp_plan_sat_add(lp_plan_sat_add(s->weight_bytes, s->kv_bytes),
                               lp_plan_sat_add(s->buffer_bytes, s->reserve));
    s->fits = s->total <= s->budget;
}

static bool fill_all(const lp_plan_model *m, const lp_plan_worker *w, int n,
                     const lp_plan_opts *o, const int *first, const int *last,
                     lp_plan_shard *out)
{
    bool all = true;
    for (int i = 0; i < n; i++) {
        fill_shard(m, &w[i], o, first[i], last[i], &out[i]);
        all = all && out[i].fits;
    }
    return all;
}

typedef struct msg {
    char *buf;
    size_t cap, len;
} msg;

__attribute__((format(printf, 2, 3))) static void put(msg *s, const char *fmt, ...)
{
    if (s->len >= s->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len = k < 0 ? s->cap : s->len + (size_t)k;
}

/* The least worker i needs for one layer anywhere it could sit (it starts
 * at or after layer i and leaves one layer to each worker after it), or 0
 * if it can hold one somewhere. */
static uint64_t one_layer_shortfall(const planner *p, int i)
{
    uint64_t least = UINT64_MAX;
    for (int a = i; a <= p->L - p->n + i; a++) {
        if (p->reach[(size_t)i * p->L + a] > a)
            return 0;
        uint64_t c = cost(p, a, a + 1);
        least = c < least ? c : least;
    }
    return least;
}

static int no_fit(const planner *p, const lp_plan_shard *prop, lp_err *err)
{
    char b1[32], b2[32], b3[32];
    uint64_t need = 0, offer = 0;
    for (int i = 0; i < p->n; i++) {
        need = lp_plan_sat_add(need, prop[i].total);
        offer = lp_plan_sat_add(offer, prop[i].budget);
    }
    char text[sizeof err->msg];
    msg s = {text, sizeof text, 0};
    if (need > offer)
        put(&s, "does not fit: needs %s, the %d worker%s offer%s %s (%s short)",
            lp_size_format(need, b1, sizeof b1), p->n, p->n > 1 ? "s" : "",
            p->n > 1 ? "" : "s", lp_size_format(offer, b2, sizeof b2),
            lp_size_format(need - offer, b3, sizeof b3));
    else
        put(&s, "does not fit: needs %s and the %d worker%s offer%s %s, but no split into "
            "whole layers fits every budget", lp_size_format(need, b1, sizeof b1), p->n,
            p->n > 1 ? "s" : "", p->n > 1 ? "" : "s", lp_size_format(offer, b2, sizeof b2));
    for (int i = 0; i < p->n; i++) {
        uint64_t least = one_layer_shortfall(p, i);
        if (least)
            put(&s, "; worker %d cannot hold even one layer (needs %s, has %s)", i,
                lp_size_format(least, b1, sizeof b1),
                lp_size_format(prop[i].budget, b2, sizeof b2));
        else if (!prop[i].fits)
            put(&s, "; worker %d (layers %d-%d) needs %s of its %s (%s short)", i,
                prop[i].first, prop[i].last - 1, lp_size_format(prop[i].total, b1, sizeof b1),
                lp_size_format(prop[i].budget, b2, sizeof b2),
                lp_size_format(prop[i].total - prop[i].budget, b3, sizeof b3));
    }
    lp_err_set(err, "%s", text);
    return LP_PLAN_NO_FIT;
}

int lp_plan_make(const lp_plan_model *m, const lp_plan_worker *workers, int n_workers,
                 const lp_plan_opts *o, lp_plan_shard *out, lp_err *err)
{
    if (check_inputs(m, workers, n_workers, o, err) != 0)
        return -1;
    int prop[LP_PLAN_MAX_WORKERS], first[LP_PLAN_MAX_WORKERS], last[LP_PLAN_MAX_WORKERS];
    proportional(m, workers, n_workers, prop);
    for (int i = 0, a = 0; i < n_workers; a += prop[i], i++) {
        first[i] = a;
        last[i] = a + prop[i];
    }
    if (fill_all(m, workers, n_workers, o, first, last, out))
        return 0;
    planner p;
    if (planner_init(&p, m, workers, n_workers, o, err) != 0)
        return -1;
    double cap[LP_PLAN_MAX_WORKERS] = {0};
    int rc;
    if (!search(&p, cap)) {
        rc = no_fit(&p, out, err);
    } else {
        choose(&p, cap, prop, first, last);
        lp_plan_shard tmp[LP_PLAN_MAX_WORKERS];
        rc = fill_all(m, workers, n_workers, o, first, last, tmp) ? 0 : -1;
        if (rc == 0)
            memcpy(out, tmp, sizeof tmp[0] * (size_t)n_workers);
        else
            lp_err_set(err, "plan: internal error: the search and the shard sizes disagree");
    }
    planner_free(&p);
    return rc;
}
