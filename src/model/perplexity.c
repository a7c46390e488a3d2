/* perplexity.c — llama-perplexity's arithmetic (perplexity.h). Where a
 * float appears below where a double would be more precise, it is because
 * llama.cpp computes that value in float: the point is to print its
 * numbers, not better ones. */
#include "perplexity.h"

#include <math.h>
#include <string.h>

int lp_ppl_n_windows(size_t n_tokens, int n_ctx)
{
    if (n_ctx < 2 || n_tokens < 2 * (size_t)n_ctx)
        return 0;
    size_t n = n_tokens / (size_t)n_ctx;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

int lp_ppl_first(int n_ctx)
{
    return n_ctx / 2;
}

/* Largest logit (the first on ties) and sum of expf(logit - max) in double:
 * the common start of all three of llama.cpp's log-softmaxes. */
static double sum_exp_from_max(const float *logits, int n_vocab, float *max, int32_t *top)
{
    float m = logits[0];
    int32_t t = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > m) {
            m = logits[i];
            t = i;
        }
    double sum = 0.0;
    for (int i = 0; i < n_vocab; i++)
        sum += expf(logits[i] - m);
    *max = m;
    *top = t;
    return sum;
}

void lp_ppl_score_row(const float *logits, int n_vocab, int32_t tok, double *nll, int32_t *top)
{
    float max;
    int32_t t;
    double sum = sum_exp_from_max(logits, n_vocab, &max, &t);
    /* (logit - max) in float, the log in double: llama.cpp's expression */
    const float shifted = logits[tok] - max;
    if (nll)
        *nll = -((double)shifted - log(sum));
    if (top)
        *top = t;
}

void lp_ppl_add(lp_ppl_acc *a, double nll)
{
    a->nll += nll;
    a->nll2 += nll * nll;
    a->count++;
}

void lp_ppl_add_window(lp_ppl_acc *a, const float *rows, int n_vocab, const int32_t *win,
                       int n_ctx)
{
    const int first = lp_ppl_first(n_ctx);
    for (int i = 0; i < n_ctx - 1 - first; i++) {
        double nll;
        lp_ppl_score_row(rows + (size_t)i * n_vocab, n_vocab, win[first + i + 1], &nll, NULL);
        lp_ppl_add(a, nll);
    }
}

double lp_ppl_value(const lp_ppl_acc *a)
{
    return a->count ? exp(a->nll / (double)a->count) : 0.0;
}

int lp_ppl_estimate(const lp_ppl_acc *a, double *ppl, double *err)
{
    if (a->count < 2)
        return -1;
    const double n = (double)a->count, mean = a->nll / n;
    const double var = a->nll2 / n - mean * mean;
    *ppl = exp(mean);
    if (!(var > 0))
        return -1;
    *err = sqrt(var / (n - 1)) * *ppl;
    return 0;
}

/* ---- KL divergence --------------------------------------------------- */

size_t lp_kld_row_len(int n_vocab)
{
    return 2 * (((size_t)n_vocab + 1) / 2) + 4;
}

/* Round to nearest by the float magic-number trick llama.cpp uses (its
 * ties and range are what the stored values must reproduce). */
static int nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

double lp_kld_base_row(const float *logits, int n_vocab, int32_t tok, uint16_t *row)
{
    float max, min = logits[0];
    int32_t top;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] < min)
            min = logits[i];
    double sum = sum_exp_from_max(logits, n_vocab, &max, &top);
    if (min < max - 16) /* nothing below e^-16 of the top is kept */
        min = max - 16;
    const float log_sum_exp = (float)log(sum);
    const float min_log_prob = min - max - log_sum_exp;
    const float scale = (max - min) / 65535.f;
    memcpy(row, &scale, sizeof scale);
    memcpy(row + 2, &min_log_prob, sizeof min_log_prob);
    uint16_t *q = row + 4;
    if (scale != 0) {
        const float inv = 1 / scale;
        for (int i = 0; i < n_vocab; i++)
            q[i] = logits[i] > min ? (uint16_t)nearest_int(inv * (logits[i] - min)) : 0;
    } else {
        memset(q, 0, (size_t)n_vocab * sizeof *q);
    }
    if (n_vocab % 2)
        q[n_vocab] = 0; /* the padding entry, never read */
    return max + log_sum_exp - logits[tok];
}

/* KL(base || model) over the entries the stored base row kept (log-prob
 * above -16), and the base's top token from that row. log_z: the model's
 * max logit + log-sum-exp, so logit - log_z is its log-prob. */
static double kld_vs_base(const float *logits, int n_vocab, const uint16_t *row, float log_z,
                          int32_t *imax_base)
{
    float scale, min_log_prob, best = 0;
    memcpy(&scale, row, sizeof scale);
    memcpy(&min_log_prob, row + 2, sizeof min_log_prob);
    const uint16_t *q = row + 4;
    double sum = 0;
    *imax_base = -1;
    for (int i = 0; i < n_vocab; i++) {
        const float lp_base = scale * q[i] + min_log_prob;
        if (i == 0 || lp_base > best) {
            best = lp_base;
            *imax_base = i;
        }
        if (lp_base > -16.f) {
            const float p_base = expf(lp_base);
            const float term = p_base * (lp_base - logits[i] + log_z); /* float, as llama.cpp */
            sum += term;
        }
    }
    return sum;
}

void lp_kld_add(lp_kld_acc *k, const float *logits, int n_vocab, const uint16_t *base_row,
                int32_t tok, float *kld, float *p_diff)
{
    float max, scale, min_log_prob;
    int32_t imax, imax_base;
    const double sum_exp = sum_exp_from_max(logits, n_vocab, &max, &imax);
    const float log_sum_exp = (float)log(sum_exp);
    memcpy(&scale, base_row, sizeof scale);
    memcpy(&min_log_prob, base_row + 2, sizeof min_log_prob);

    /* the products below are float products, added to double sums */
    const float nll = max + log_sum_exp - logits[tok];
    const float nll_base = -(scale * base_row[4 + tok] + min_log_prob);
    k->sum_nll += nll;
    k->sum_nll2 += nll * nll;
    k->sum_nll_base += nll_base;
    k->sum_nll_base2 += nll_base * nll_base;
    k->sum_nll_nll_base += nll * nll_base;

    const double sum = kld_vs_base(logits, n_vocab, base_row, max + log_sum_exp, &imax_base);
    k->sum_kld += sum;
    k->sum_kld2 += sum * sum;
    k->count++;
    k->n_same_top += imax == imax_base;

    const float pd = expf(-nll) - expf(-nll_base);
    const double pd2 = pd * pd;
    k->sum_p_diff += pd;
    k->sum_p_diff2 += pd2;
    k->sum_p_diff4 += pd2 * pd2;
    if (fabsf(pd) > k->max_p_diff)
        k->max_p_diff = fabsf(pd);
    if (kld)
        *kld = (float)sum;
    if (p_diff)
        *p_diff = pd;
}

/* Mean and its standard error; no error below 11 values (llama.cpp's rule). */
static lp_mean_err mean_err(double sum, double sum2, size_t count)
{
    if (count < 1)
        return (lp_mean_err){0, 0};
    const double n = (double)count, f = sum / n, v = sum2 / n - f * f;
    return (lp_mean_err){f, v > 0 && count > 10 ? sqrt(v / (n - 1)) : 0.0};
}

static double covariance(double a, double b, double ab, size_t count)
{
    if (count < 10)
        return 0.0;
    const double n = (double)count;
    return (ab / n - (a / n) * (b / n)) / (n - 1);
}

void lp_kld_summary(const lp_kld_acc *k, lp_kld_stats *s)
{
    const lp_mean_err lq = mean_err(k->sum_nll, k->sum_nll2, k->count);
    const lp_mean_err lb = mean_err(k->sum_nll_base, k->sum_nll_base2, k->count);
    const double cov = covariance(k->sum_nll, k->sum_nll_base, k->sum_nll_nll_base, k->count);
    memset(s, 0, sizeof *s);
    s->ppl = (lp_mean_err){exp(lq.mean), exp(lq.mean) * lq.err};
    s->ppl_base = (lp_mean_err){exp(lb.mean), exp(lb.mean) * lb.err};
    s->cor = cov / (lq.err * lb.err);
    s->ln_ratio = (lp_mean_err){lq.mean - lb.mean,
                                sqrt(lq.err * lq.err + lb.err * lb.err - 2.0 * cov)};
    s->ratio = (lp_mean_err){exp(s->ln_ratio.mean), exp(s->ln_ratio.mean) * s->ln_ratio.err};
    const double ppl_cov = s->ppl.mean * s->ppl_base.mean * cov;
    s->diff = (lp_mean_err){s->ppl.mean - s->ppl_base.mean,
                            sqrt(s->ppl.err * s->ppl.err + s->ppl_base.err * s->ppl_base.err -
                                 2.0 * ppl_cov)};
    s->kld = mean_err(k->sum_kld, k->sum_kld2, k->count);
    s->p_diff = mean_err(k->sum_p_diff, k->sum_p_diff2, k->count);
    const lp_mean_err mse = mean_err(k->sum_p_diff2, k->sum_p_diff4, k->count);
    s->p_diff_rms.mean = sqrt(mse.mean);
    s->p_diff_rms.err = 0.5 / s->p_diff_rms.mean * mse.err;
    if (k->count > 1) {
        const double p = (double)k->n_same_top / (double)k->count;
        s->same_top = (lp_mean_err){p, sqrt(p * (1 - p) / (double)(k->count - 1))};
    }
}

float lp_percentile(const float *sorted, size_t n, float fraction)
{
    if (n == 0)
        return 0.0f;
    if (fraction <= 0)
        return sorted[0];
    if (fraction >= 1)
        return sorted[n - 1];
    float p = fraction * (float)(n - 1);
    const size_t ip = (size_t)p;
    p -= (float)ip;
    const size_t next = ip + 1 < n ? ip + 1 : n - 1;
    return (1 - p) * sorted[ip] + p * sorted[next];
}
