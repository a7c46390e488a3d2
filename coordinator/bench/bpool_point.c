/* bpool_point.c — one measured point of coord bench-pool (bpool_point.h). */
#include "bpool_point.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

enum { SHORT_PROMPT = 16, MAX_SESSIONS = 64 };

/* What one session saw. */
typedef struct sess {
    double t_start, t_first, t_last;
    double *t;   /* [want] when each token came (bpool_point_run's) */
    int n, want;
    bool done;
    char error[256];
} sess;

static bool on_token(void *user, uint64_t session, const lp_sampled *s, const char *error)
{
    sess *x = user;
    (void)session;
    double now = lp_now_s();
    if (!s) {
        x->done = true;
        if (error)
            snprintf(x->error, sizeof x->error, "%s", error);
        return false;
    }
    if (x->t && x->n < x->want)
        x->t[x->n] = now;
    if (x->n++ == 0)
        x->t_first = now;
    x->t_last = now;
    return x->n < x->want;
}

/* Seeded ids below n_vocab (a xorshift: the same prompts every run). */
static void fill_prompt(int32_t *ids, int n, uint32_t n_vocab, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ids[i] = (int32_t)(x % (n_vocab > 1000 ? 1000 + (n_vocab - 1000) / 2 : n_vocab));
    }
}

/* n sessions of n_prompt tokens each, want tokens each, all at once. */
static int run_sessions(coord_pool *p, sess *ss, int n, int n_prompt, int want, uint64_t seed,
                        double *times, lp_err *err)
{
    int32_t *ids = malloc(sizeof *ids * (size_t)n_prompt);
    if (!ids)
        return lp_err_set(err, "out of memory");
    lp_session_req req = {.n_prompt = n_prompt, .sampling = lp_sampler_params_default(),
                          .cb = on_token};
    req.sampling.temp = 0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        fill_prompt(ids, n_prompt, p->hp.n_vocab, seed + (uint64_t)i);
        ss[i] = (sess){.want = want, .t_start = lp_now_s(), .t = times ? times + i * want : NULL};
        req.prompt = ids;
        req.user = &ss[i];
        if (!lp_cluster_start(p->cl, &req, err))
            rc = -1;
    }
    free(ids);
    for (bool all = false; rc == 0 && !all;) {
        if (lp_cluster_poll(p->cl, 100, err) < 0)
            return -1;
        all = true;
        for (int i = 0; i < n; i++)
            all = all && ss[i].done;
    }
    for (int i = 0; rc == 0 && i < n; i++)
        if (ss[i].error[0] || ss[i].n < want)
            rc = lp_err_set(err, "session %d: %s", i,
                            ss[i].error[0] ? ss[i].error : "ended early");
    return rc;
}

/* Tokens per second of all sessions together while all of them were in
 * flight: from the last session's first token to the first one's last
 * (the prompts go one after another, so sessions start apart; before and
 * after that window fewer than all decode). One session: its own rate. */
static double in_flight(const sess *ss, int S, int n_gen)
{
    double t0 = ss[0].t_first, t1 = ss[0].t_last, first = t0, last = t1;
    for (int i = 1; i < S; i++) {
        t0 = fmax(t0, ss[i].t_first), t1 = fmin(t1, ss[i].t_last);
        first = fmin(first, ss[i].t_first), last = fmax(last, ss[i].t_last);
    }
    long tokens = 0;
    for (int i = 0; i < S; i++)
        for (int k = 0; k < n_gen; k++)
            tokens += ss[i].t[k] > t0 && ss[i].t[k] <= t1;
    if (t1 > t0 && tokens >= S)
        return tokens / (t1 - t0);
    return S * (n_gen - 1) / (last - first); /* barely overlapping: all of it */
}

/* Counters of every worker, to subtract. */
typedef struct snap {
    lp_cluster_worker w[LP_CLUSTER_MAX_WORKERS];
    int n;
} snap;

static int take_snap(coord_pool *p, snap *s, lp_err *err)
{
    if (lp_cluster_refresh_stats(p->cl, err) != 0)
        return -1;
    s->n = lp_cluster_n_workers(p->cl);
    for (int i = 0; i < s->n; i++)
        s->w[i] = *lp_cluster_get_worker(p->cl, i);
    return 0;
}

/* Bytes, compute and batches between two snapshots of the decode runs. */
static void counters(const snap *a, const snap *b, double tokens, bool one, bpool_result *r)
{
    double hop = 0, bytes = 0, in_batch = 0, steps = 0;
    r->n_workers = b->n;
    for (int i = 0; i < b->n; i++) {
        const lp_cluster_worker *x = &a->w[i], *y = &b->w[i];
        double msgs = (double)(y->decode_msgs_out - x->decode_msgs_out);
        double per = msgs > 0 ? (double)(y->decode_bytes_out - x->decode_bytes_out) / msgs : 0;
        if (i + 1 < b->n)
            hop += per / (b->n - 1);
        else
            r->result_bytes = per;
        bytes += (double)(y->bytes_out - x->bytes_out);
        /* one session: its decode steps' own times; several: the worker's
         * busy time (a batch once) over the tokens, prompts included */
        uint64_t steps_1 = y->decode_steps - x->decode_steps;
        r->stage_ms[i] = one && steps_1 ? (double)(y->decode_us - x->decode_us) / 1e3 / steps_1
                         : tokens > 0   ? (double)(y->busy_us - x->busy_us) / 1e3 / tokens
                                        : 0;
        in_batch += (double)(y->batched_steps - x->batched_steps);
        steps += msgs;
    }
    r->hop_bytes = hop;
    r->total_mb = bytes / 1e6;
    r->batched = steps > 0 ? in_batch / steps : 0;
}

int bpool_point_run(coord_pool *p, const bpool_point_opts *o, bpool_result *r, lp_err *err)
{
    memset(r, 0, sizeof *r);
    const int S = o->sessions, reps = o->reps;
    if (S < 1 || S > MAX_SESSIONS || reps < 1 || reps > BENCH_MAX_REPS || o->n_gen < 2)
        return lp_err_set(err, "bench-pool: sessions 1..%d, reps 1..%d, n_gen >= 2", MAX_SESSIONS,
                          BENCH_MAX_REPS);
    sess ss[MAX_SESSIONS];
    double *one = malloc(sizeof(double) * (size_t)(S * reps + 2 * reps));
    if (!one)
        return lp_err_set(err, "out of memory");
    double *total = one + S * reps, *ttft = total + reps;
    snap a, b;
    double *times = malloc(sizeof(double) * (size_t)S * (size_t)o->n_gen);
    if (!times) {
        free(one);
        return lp_err_set(err, "out of memory");
    }
    int rc = run_sessions(p, ss, S, SHORT_PROMPT, 2, 7, NULL, err); /* warm-up */
    rc = rc ? rc : take_snap(p, &a, err);
    for (int k = 0; rc == 0 && k < reps; k++) {
        if ((rc = run_sessions(p, ss, S, SHORT_PROMPT, o->n_gen, 100 + (uint64_t)k * S, times,
                               err)))
            break;
        double tt = 0;
        for (int i = 0; i < S; i++) {
            one[k * S + i] = (o->n_gen - 1) / (ss[i].t_last - ss[i].t_first);
            tt += (ss[i].t_first - ss[i].t_start) * 1e3 / S;
        }
        total[k] = in_flight(ss, S, o->n_gen);
        ttft[k] = tt;
    }
    rc = rc ? rc : take_snap(p, &b, err);
    if (rc == 0) {
        counters(&a, &b, (double)S * reps * (o->n_gen - 1), S == 1, r);
        bench_stats_of(one, S * reps, &r->tg_session);
        bench_stats_of(total, reps, &r->tg_total);
        bench_stats_of(ttft, reps, &r->ttft_ms);
        double compute = 0;
        for (int i = 0; i < r->n_workers; i++)
            compute += r->stage_ms[i];
        r->compute_share = S == 1 ? compute * r->tg_session.median / 1e3 : 0;
    }
    for (int k = 0; rc == 0 && o->n_prompt > 0 && k < reps; k++) {
        r->prompt_chunk = lp_cluster_prompt_chunk(p->cl, o->n_prompt); /* what it is sent in */
        if ((rc = run_sessions(p, ss, 1, o->n_prompt, 1, 900 + (uint64_t)k, NULL, err)))
            break;
        one[k] = o->n_prompt / (ss[0].t_first - ss[0].t_start);
    }
    if (rc == 0 && o->n_prompt > 0)
        bench_stats_of(one, reps, &r->pp);
    free(one);
    free(times);
    return rc;
}
