/* bench_time.c — pp/tg timing for coord bench-node. */
#include "bench_time.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "generate.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_stats_of(double *xs, int n, bench_stats *st)
{
    qsort(xs, (size_t)n, sizeof *xs, cmp_double);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++)
        sum += xs[i];
    st->mean = sum / n;
    for (int i = 0; i < n; i++)
        sum2 += (xs[i] - st->mean) * (xs[i] - st->mean);
    st->sd = n > 1 ? sqrt(sum2 / (n - 1)) : 0; /* as llama-bench: sample sd */
    st->median = n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    st->min = xs[0];
    st->max = xs[n - 1];
    st->n = n;
}

/* Random ids, the same for every run (llama-bench also feeds random ids:
 * speed does not depend on which tokens they are). */
static int32_t *random_tokens(int n, int n_vocab)
{
    int32_t *t = malloc(sizeof *t * (size_t)(n > 0 ? n : 1));
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; t && i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (int32_t)((x >> 33) % (uint64_t)n_vocab);
    }
    return t;
}

/* n decode steps, idle_ms asleep after each (if > 0); the steps' own
 * time in *secs. */
static int decode_steps(lp_shard *s, int slot, const int32_t *toks, int n, int idle_ms,
                        double *secs, lp_err *err)
{
    const struct timespec pause = {idle_ms / 1000, (long)(idle_ms % 1000) * 1000000L};
    const float *logits;
    int rc = 0;
    *secs = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        double t0 = lp_now_s();
        rc = lp_decode_one(s, slot, toks[i], &logits, err);
        *secs += lp_now_s() - t0;
        if (idle_ms > 0)
            nanosleep(&pause, NULL);
    }
    return rc;
}

/* One run in a fresh slot; its time in *secs. */
static int run_once(lp_shard *s, bool gen, const int32_t *toks, int n, int idle_ms,
                    double *secs, lp_err *err)
{
    int slot = lp_kv_open(s->kv, 1, err), rc = slot < 0 ? -1 : 0;
    const float *logits;
    double t0 = lp_now_s();
    if (rc == 0 && !gen)
        rc = lp_prefill(s, slot, toks, n, &logits, err);
    *secs = lp_now_s() - t0;
    if (rc == 0 && gen)
        rc = decode_steps(s, slot, toks, n, idle_ms, secs, err);
    if (slot >= 0)
        lp_kv_close(s->kv, slot);
    return rc;
}

int bench_time_tokens(lp_shard *s, bool gen, int n, int reps, int idle_ms, bench_stats *st,
                      lp_err *err)
{
    if (n < 1 || reps < 1 || reps > BENCH_MAX_REPS)
        return lp_err_set(err, "bench: %d tokens x %d runs is out of range", n, reps);
    int32_t *toks = random_tokens(n, (int)s->model->hp.n_vocab);
    double *tps = malloc(sizeof *tps * (size_t)reps), secs;
    int rc = toks && tps ? 0 : lp_err_set(err, "bench: out of memory");
    if (rc == 0) /* warm-up: pages the weights in, settles the clocks */
        rc = run_once(s, gen, toks, n, idle_ms, &secs, err);
    for (int r = 0; rc == 0 && r < reps; r++) {
        rc = run_once(s, gen, toks, n, idle_ms, &secs, err);
        tps[r] = n / (secs > 0 ? secs : 1e-9);
    }
    if (rc == 0)
        bench_stats_of(tps, reps, st);
    free(tps);
    free(toks);
    return rc;
}
