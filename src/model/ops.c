/* ops.c — rmsnorm, rope, softmax, swiglu, attention, as ggml computes them.
 *
 * ggml's CPU code is GNU C compiled -O3 -march=native, so gcc contracts its
 * a*b+c into FMAs where it sees them; this file is ISO C (no contraction),
 * and writes fmaf exactly where ggml's binary has one. */
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

/* gcc vectorised ggml's rotation loop: vector lanes compute
 *   x0' = fma(x0, cos, -(x1*sin)),  x1' = fma(x0, sin, x1*cos)
 * and in "normal" mode the last n_pairs % 4 pairs fall to a 2-wide
 * epilogue that fuses nothing. (Checked against ggml for every even n_rot
 * up to 256, both modes, with and without frequency factors.) */
void lp_rope_apply(float *x, const float *cache, int n_rot, int neox)
{
    const int half = n_rot / 2;
    const int n_fused = neox ? half : half / 4 * 4;
    for (int p = 0; p < half; p++) {
        const float c = cache[2 * p], s = cache[2 * p + 1];
        const int a = neox ? p : 2 * p;
        const int b = neox ? p + half : 2 * p + 1;
        const float x0 = x[a], x1 = x[b];
        if (p < n_fused) {
            x[a] = fmaf(x0, c, -(x1 * s));
            x[b] = fmaf(x0, s, x1 * c);
        } else {
            x[a] = x0 * c - x1 * s;
            x[b] = x0 * s + x1 * c;
        }
    }
}

void lp_softmax(const lp_kernels *k, float *x, int n, float scale)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        max = max > x[i] ? max : x[i]; /* ggml's MAX, NaN and -0 alike */
    }
    const double sum = k->exp_sum(x, x, max, n);
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void lp_swiglu(const lp_kernels *k, float *out, const float *gate, const float *up, int n)
{
    k->silu(out, gate, n);
    for (int i = 0; i < n; i++)
        out[i] *= up[i];
}

void lp_add(float *out, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        out[i] += x[i];
}

/* y[r] = dot(n, w + r * stride, a) for r < count. */
static void dots(lp_vec_dot_fn dot, lp_dot_rows_fn rows, int n, const lp_half *w, int64_t stride,
                 const lp_half *a, float *y, int count)
{
    if (rows) {
        rows(n, w, (size_t)stride * sizeof(lp_half), a, y, count);
        return;
    }
    for (int r = 0; r < count; r++)
        y[r] = dot(n, w + (int64_t)r * stride, a);
}

void lp_attend_head(const lp_kernels *k, const lp_attn_shape *sh, const float *q,
                    const lp_half *K, const lp_half *Vt, int n_visible, float *out,
                    lp_attn_scratch *s)
{
    k->quantize[LP_TYPE_F16](q, s->q16, sh->head_dim);
    dots(sh->qk, sh->qk_rows, sh->head_dim, K, sh->k_stride, s->q16, s->scores, n_visible);
    for (int j = n_visible; j < sh->n_kv; j++)
        s->scores[j] = -INFINITY;
    lp_softmax(k, s->scores, sh->n_kv, sh->scale);
    k->quantize[LP_TYPE_F16](s->scores, s->p16, sh->n_kv);
    dots(sh->pv, sh->pv_rows, sh->n_kv, Vt, sh->v_stride, s->p16, out, sh->head_dim);
}
