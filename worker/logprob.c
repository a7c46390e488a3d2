/* logprob.c — log softmax and the top-k of a logit vector (logprob.h). */
#include "logprob.h"

#include <math.h>

double wk_log_sum_exp(const float *logits, int n)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (logits[i] > max) /* false for NaN */
            max = logits[i];
    if (max == -INFINITY)
        return -INFINITY;
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] > -INFINITY)
            sum += exp((double)logits[i] - max);
    return max + log(sum);
}

/* a ranks below b: smaller logit, or equal logit and larger id. */
static int below(const float *x, int32_t a, int32_t b)
{
    return x[a] < x[b] || (x[a] == x[b] && a > b);
}

/* Sift down in a min-heap (by `below`) of h[0..n). */
static void sift_down(const float *x, int32_t *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && below(x, h[l], h[m]))
            m = l;
        if (r < n && below(x, h[r], h[m]))
            m = r;
        if (m == i)
            return;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

int wk_top_logprobs(const float *logits, int n, double lse, int k, int32_t *ids, float *lp)
{
    if (k > n)
        k = n;
    if (k <= 0)
        return 0;
    /* ids doubles as a min-heap of the best k seen: its root is the worst. */
    int have = 0;
    for (int32_t t = 0; t < n; t++) {
        if (isnan(logits[t]))
            continue;
        if (have < k) {
            ids[have++] = t;
            if (have == k)
                for (int i = k / 2 - 1; i >= 0; i--)
                    sift_down(logits, ids, k, i);
        } else if (below(logits, ids[0], t)) {
            ids[0] = t;
            sift_down(logits, ids, k, 0);
        }
    }
    if (have < k)
        for (int i = have / 2 - 1; i >= 0; i--)
            sift_down(logits, ids, have, i);
    /* Pop the worst to the back: the array ends sorted best first. */
    for (int end = have - 1; end > 0; end--) {
        int32_t t = ids[0];
        ids[0] = ids[end];
        ids[end] = t;
        sift_down(logits, ids, end, 0);
    }
    for (int i = 0; i < have; i++)
        lp[i] = (float)(logits[ids[i]] - lse);
    return have;
}
