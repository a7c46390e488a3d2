#include "ops.h"

#include <math.h>

void lp_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

void lp_rope_cache(float *cache, int pos, int n_rot, float base,
                   float freq_scale, const float *freq_factors)
{
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
        const float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
        const float t = freq_scale * (theta / ff);
        cache[i0] = cosf(t);
        cache[i0 + 1] = sinf(t);
        theta *= theta_scale;
    }
}

void lp_rope_apply(float *x, const float *cache, int n_rot, int neox)
{
    const int half = n_rot / 2;
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
        const float c = cache[i0], s = cache[i0 + 1];
        const int a = neox ? i0 / 2 : i0;
        const int b = neox ? a + half : a + 1;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}

void lp_softmax(float *x, int n, float scale)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max)
            max = x[i];
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += (double)x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void lp_swiglu(float *out, const float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void lp_add(float *out, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        out[i] += x[i];
}

void lp_attend_head(const lp_kernels *k, const float *q, const lp_half *K,
                    int64_t k_stride, const lp_half *Vt, int64_t v_stride,
                    int n_kv, int head_dim, float scale, float *out,
                    lp_attn_scratch *s)
{
    const lp_vec_dot_fn dot = k->dot[LP_TYPE_F16];
    k->quantize[LP_TYPE_F16](q, s->q16, head_dim);
    for (int j = 0; j < n_kv; j++)
        s->scores[j] = dot(head_dim, K + (int64_t)j * k_stride, s->q16);
    lp_softmax(s->scores, n_kv, scale);
    k->quantize[LP_TYPE_F16](s->scores, s->p16, n_kv);
    for (int d = 0; d < head_dim; d++)
        out[d] = dot(n_kv, Vt + (int64_t)d * v_stride, s->p16);
}
