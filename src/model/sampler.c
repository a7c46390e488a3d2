/* sampler.c — penalties, truncation, temperature and a seeded draw.
 * The contract and the exact definition of every step are in sampler.h. */
#include "sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct lp_sampler {
    lp_sampler_params p;
    uint64_t seed;          /* resolved: never LP_SAMPLER_SEED_RANDOM's meaning */
    int32_t n_vocab;
    lp_rng rng;
    lp_token_prob *cand;    /* [n_vocab] working candidates */
    size_t n_cand;          /* how many of cand the last sample left */
    int32_t *count;         /* [n_vocab] occurrences of each id in the window */
    int32_t *ring;          /* [penalty_last_n] the window, oldest at head once full */
    int32_t ring_len;
    int32_t ring_head;      /* next slot to write */
};

/* ---- RNG ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void lp_rng_seed(lp_rng *r, uint64_t seed)
{
    /* splitmix64 is a bijection of its counter, so four consecutive outputs
     * are never all zero: the xoshiro state is always valid. */
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t lp_rng_next(lp_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double lp_rng_uniform(lp_rng *r)
{
    return (double)(lp_rng_next(r) >> 11) * 0x1.0p-53;
}

static uint64_t seed_from_os(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed)
        return seed;
    /* No getrandom (old kernel, seccomp): mix the clock and an address;
     * good enough to make sessions differ, which is all this is for. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * UINT64_C(1000000007) + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)(uintptr_t)salt;
    return splitmix64(&x);
}

/* ---- parameters --------------------------------------------------------- */

lp_sampler_params lp_sampler_params_default(void)
{
    return (lp_sampler_params){
        .seed = LP_SAMPLER_SEED_RANDOM,
        .temp = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .penalty_last_n = 64,
    };
}

int lp_sampler_params_validate(const lp_sampler_params *p, lp_err *err)
{
    if (!p)
        return lp_err_set(err, "sampler: no parameters given");
    if (!isfinite(p->temp) || p->temp < 0.0f)
        return lp_err_set(err, "sampler: temperature %g must be a finite number >= 0 (0 = greedy)",
                          (double)p->temp);
    if (p->top_k < 0)
        return lp_err_set(err, "sampler: top_k %d must be >= 0 (0 = off)", (int)p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) /* also rejects NaN */
        return lp_err_set(err, "sampler: top_p %g must be in (0, 1] (1 = off)", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return lp_err_set(err, "sampler: min_p %g must be in [0, 1] (0 = off)", (double)p->min_p);
    if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f)
        return lp_err_set(err, "sampler: repeat_penalty %g must be a finite number > 0 (1 = off)",
                          (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty))
        return lp_err_set(err, "sampler: frequency_penalty must be finite");
    if (!isfinite(p->presence_penalty))
        return lp_err_set(err, "sampler: presence_penalty must be finite");
    if (p->penalty_last_n < 0 || p->penalty_last_n > LP_SAMPLER_MAX_LAST_N)
        return lp_err_set(err, "sampler: penalty_last_n %d must be in [0, %d] "
                          "(resolve -1 to the context size first)",
                          (int)p->penalty_last_n, LP_SAMPLER_MAX_LAST_N);
    return 0;
}

/* ---- lifetime ------------------------------------------------------------ */

lp_sampler *lp_sampler_new(const lp_sampler_params *params, int32_t n_vocab, lp_err *err)
{
    if (lp_sampler_params_validate(params, err) < 0)
        return NULL;
    if (n_vocab < 1 || n_vocab > LP_SAMPLER_MAX_VOCAB) {
        lp_err_set(err, "sampler: n_vocab %d must be in [1, %d]", (int)n_vocab,
                   LP_SAMPLER_MAX_VOCAB);
        return NULL;
    }
    lp_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        lp_err_set(err, "sampler: out of memory");
        return NULL;
    }
    s->p = *params;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->count = calloc((size_t)n_vocab, sizeof *s->count);
    /* +1 so a zero-length window still gets a valid (unused) allocation */
    s->ring = malloc(((size_t)params->penalty_last_n + 1) * sizeof *s->ring);
    if (!s->cand || !s->count || !s->ring) {
        lp_sampler_free(s);
        lp_err_set(err, "sampler: out of memory for a vocabulary of %d", (int)n_vocab);
        return NULL;
    }
    s->seed = params->seed == LP_SAMPLER_SEED_RANDOM ? seed_from_os(s) : params->seed;
    lp_rng_seed(&s->rng, s->seed);
    return s;
}

void lp_sampler_free(lp_sampler *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->count);
    free(s->ring);
    free(s);
}

void lp_sampler_reset(lp_sampler *s)
{
    memset(s->count, 0, (size_t)s->n_vocab * sizeof *s->count);
    s->ring_len = 0;
    s->ring_head = 0;
    s->n_cand = 0;
    lp_rng_seed(&s->rng, s->seed);
}

uint64_t lp_sampler_seed(const lp_sampler *s)
{
    return s->seed;
}

const lp_token_prob *lp_sampler_candidates(const lp_sampler *s, size_t *n)
{
    *n = s->n_cand;
    return s->cand;
}

/* ---- penalties ------------------------------------------------------------ */

int lp_sampler_accept(lp_sampler *s, int32_t token, lp_err *err)
{
    if (token < 0 || token >= s->n_vocab)
        return lp_err_set(err, "sampler: token %d is outside the vocabulary [0, %d)",
                          (int)token, (int)s->n_vocab);
    const int32_t cap = s->p.penalty_last_n;
    if (cap == 0)
        return 0;
    if (s->ring_len == cap)
        s->count[s->ring[s->ring_head]]--; /* the oldest leaves the window */
    else
        s->ring_len++;
    s->ring[s->ring_head] = token;
    s->count[token]++;
    s->ring_head = s->ring_head + 1 == cap ? 0 : s->ring_head + 1;
    return 0;
}

static bool penalties_active(const lp_sampler *s)
{
    const lp_sampler_params *p = &s->p;
    return p->penalty_last_n > 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f ||
            p->presence_penalty != 0.0f);
}

/* llama.cpp's rule: dividing a negative logit would raise it, so negative
 * (and zero) logits are multiplied instead. */
static float penalize(const lp_sampler_params *p, float logit, int32_t count)
{
    if (logit <= 0.0f)
        logit *= p->repeat_penalty;
    else
        logit /= p->repeat_penalty;
    return logit - ((float)count * p->frequency_penalty + p->presence_penalty);
}

void lp_sampler_apply_penalties(const lp_sampler *s, float *logits)
{
    if (!penalties_active(s))
        return;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (s->count[i] > 0)
            logits[i] = penalize(&s->p, logits[i], s->count[i]);
}

/* ---- ordering --------------------------------------------------------------- */

/* The one total order used everywhere: larger logit first, then lower id. */
static bool better(const lp_token_prob *a, const lp_token_prob *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void swap_cand(lp_token_prob *a, lp_token_prob *b)
{
    lp_token_prob t = *a;
    *a = *b;
    *b = t;
}

/* Heap of h[0..n) with the WORST element at the root. */
static void sift_down(lp_token_prob *h, size_t i, size_t n)
{
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < n && better(&h[w], &h[l]))
            w = l;
        if (l + 1 < n && better(&h[w], &h[l + 1]))
            w = l + 1;
        if (w == i)
            return;
        swap_cand(&h[i], &h[w]);
        i = w;
    }
}

/* Rearrange c[0..n) so that c[0..m) holds the m best, best first, in
 * O(n log m) without allocating: a worst-at-root heap of the first m keeps
 * the best seen so far; heapsort then orders them. */
static void select_top(lp_token_prob *c, size_t n, size_t m)
{
    if (m > n)
        m = n;
    if (m == 0)
        return;
    for (size_t i = m / 2; i-- > 0;)
        sift_down(c, i, m);
    for (size_t i = m; i < n; i++) {
        if (better(&c[i], &c[0])) {
            swap_cand(&c[i], &c[0]);
            sift_down(c, 0, m);
        }
    }
    for (size_t end = m - 1; end > 0; end--) {
        swap_cand(&c[0], &c[end]); /* the worst of the rest goes last */
        sift_down(c, 0, end);
    }
}

/* ---- the steps ---------------------------------------------------------------- */

static float max_logit(const lp_token_prob *c, size_t n)
{
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit > m)
            m = c[i].logit;
    return m;
}

/* p = exp(logit - max), unnormalized; returns the sum in double as
 * llama.cpp's dist sampler does. l == max is 1 even when max is +inf. */
static double exp_shifted(lp_token_prob *c, size_t n, float max)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = c[i].logit == max ? 1.0f : expf(c[i].logit - max);
        sum += c[i].p;
    }
    return sum;
}

/* Bins of distance below the max logit, 1/16 logit wide; the last bin
 * catches everything 32 or more below (and a NaN distance from inf - inf). */
enum { NBINS = 512 };

static size_t bin_of(float max, float logit)
{
    const float d = (max - logit) * 16.0f;
    return d >= 0.0f && d < (float)(NBINS - 1) ? (size_t)d : NBINS - 1;
}

/* Move to the front the fewest candidates that can hold top_p of the mass
 * and return their count (n if that takes the last bin). Bins are ordered
 * by logit and ties share a bin, so the front is exactly the first m of a
 * full sort: the vocabulary is never sorted, only the nucleus. One extra
 * bin absorbs the difference between these double sums and the float
 * cumulation that decides. */
static size_t nucleus_front(lp_token_prob *c, size_t n, float max, float top_p)
{
    double mass[NBINS] = {0};
    for (size_t i = 0; i < n; i++)
        mass[bin_of(max, c[i].logit)] += c[i].p;
    double cum = 0.0;
    size_t b = 0;
    for (; b < NBINS - 1; b++) {
        cum += mass[b];
        if (cum >= top_p)
            break;
    }
    if (b + 1 >= NBINS - 1)
        return n;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (bin_of(max, c[i].logit) <= b + 1)
            swap_cand(&c[m++], &c[i]);
    return m;
}

/* Index past the first c[i] at which the float cumulative p reaches
 * top_p, or 0 if c[0..n) never gets there. */
static size_t reach(const lp_token_prob *c, size_t n, float top_p)
{
    float cum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (cum >= top_p)
            return i + 1;
    }
    return 0;
}

/* Returns the new candidate count; *sorted tells whether c is in order. */
static size_t apply_top_p(lp_token_prob *c, size_t n, float top_p, bool *sorted)
{
    if (top_p >= 1.0f)
        return n;
    /* softmax at temperature 1, float sums as in llama.cpp's top-p */
    const float max = *sorted ? c[0].logit : max_logit(c, n);
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        c[i].p = c[i].logit == max ? 1.0f : expf(c[i].logit - max);
        sum += c[i].p;
    }
    for (size_t i = 0; i < n; i++)
        c[i].p /= sum;
    size_t m = n, k;
    if (!*sorted) {
        m = nucleus_front(c, n, max, top_p);
        select_top(c, m, m);
    }
    *sorted = true;
    if ((k = reach(c, m, top_p)) > 0)
        return k;
    if (m < n) { /* the front fell short by rounding: order everything */
        select_top(c, n, n);
        if ((k = reach(c, n, top_p)) > 0)
            return k;
    }
    return n; /* rounding kept the sum below top_p: keep all */
}

static size_t apply_min_p(lp_token_prob *c, size_t n, float min_p, bool sorted)
{
    if (min_p <= 0.0f || n == 0)
        return n;
    if (sorted) {
        const float thr = c[0].logit + logf(min_p);
        size_t i = 1; /* the best always stays */
        while (i < n && c[i].logit >= thr)
            i++;
        return i;
    }
    const float thr = max_logit(c, n) + logf(min_p);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit >= thr)
            c[k++] = c[i];
    return k;
}

/* Softmax over c[0..n) and one draw; normalizes p in place. */
static size_t draw(lp_sampler *s, lp_token_prob *c, size_t n)
{
    const double sum = exp_shifted(c, n, max_logit(c, n));
    const double target = sum * lp_rng_uniform(&s->rng);
    double run = 0.0;
    size_t chosen = n, last_nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].p > 0.0f) {
            run += c[i].p;
            last_nonzero = i;
            if (chosen == n && run >= target)
                chosen = i;
        }
        c[i].p = (float)(c[i].p / sum);
    }
    /* target < sum in exact arithmetic; rounding can push it to sum */
    return chosen < n ? chosen : last_nonzero;
}

int32_t lp_sampler_sample(lp_sampler *s, const float *logits, lp_err *err)
{
    const lp_sampler_params *p = &s->p;
    const bool pen = penalties_active(s);
    lp_token_prob *c = s->cand;
    size_t n = (size_t)s->n_vocab;
    int32_t best = -1;
    float best_logit = -INFINITY;

    /* Greedy needs only the best: writing 128k candidates it never reads
     * cost a 1B model's decode step half a percent. */
    const bool greedy = p->temp <= 0.0f;
    s->n_cand = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float l = isnan(logits[i]) ? -INFINITY : logits[i];
        if (pen && s->count[i] > 0)
            l = penalize(p, l, s->count[i]);
        if (!greedy)
            c[i] = (lp_token_prob){.id = i, .logit = l, .p = 0.0f};
        if (l > best_logit) {
            best_logit = l;
            best = i;
        }
    }
    if (best < 0)
        return lp_err_set(err, "sampler: no token has a finite logit (all -inf or NaN)");

    if (greedy) {
        c[0] = (lp_token_prob){.id = best, .logit = best_logit, .p = 1.0f};
        s->n_cand = 1;
        return best;
    }

    bool sorted = false;
    if (p->top_k > 0) {
        select_top(c, n, (size_t)p->top_k);
        n = (size_t)p->top_k < n ? (size_t)p->top_k : n;
        sorted = true;
    }
    n = apply_top_p(c, n, p->top_p, &sorted);
    n = apply_min_p(c, n, p->min_p, sorted);
    for (size_t i = 0; i < n; i++)
        c[i].logit /= p->temp;

    size_t k = draw(s, c, n);
    s->n_cand = n;
    return c[k].id;
}
