/* quantize_kquant_search.c — the scale searches behind the k-quants:
 * ggml's make_qx_quants (rmse_type 1, no importance weights),
 * make_q3_quants (do_rmse) and make_qkx2_quants, from ggml-quants.c.
 *
 * Each candidate scale is judged by sums accumulated in f32 in element
 * order, and a later candidate wins only if strictly better, so the chosen
 * levels depend on every rounding: the expressions below keep ggml's
 * operand order exactly (w*x*l is (w*x)*l; no fused multiply-adds). */
#include <math.h>
#include <string.h>

#include "quantize_internal.h"

static int clampi(int v, int lo, int hi)
{
    v = hi < v ? hi : v;
    return lo > v ? lo : v;
}

/* ---- make_qx_quants --------------------------------------------------- */

/* Weighted (w = x^2) sums of x*l and l*l for levels at iscale; stores the
 * biased levels when L is not NULL. */
static void qx_trial(int n, int nmax, const float *x, float iscale, int8_t *L,
                     float *sumlx, float *suml2)
{
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(lp_qz_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        if (L)
            L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        slx += w * x[i] * l;
        sl2 += w * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

float lp_qz_make_qx(int n, int nmax, const float *x, int8_t *L)
{
    float max = lp_qz_signed_absmax(x, n);
    if (fabsf(max) < LP_QZ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float sumlx, suml2;
    qx_trial(n, nmax, x, -nmax / max, L, &sumlx, &suml2);
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        float iscale = -(nmax + 0.1f * is) / max;
        qx_trial(n, nmax, x, iscale, NULL, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            qx_trial(n, nmax, x, iscale, L, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ---- make_q3_quants --------------------------------------------------- */

/* One pass over the group trying, for each element alone, the level the
 * others' least-squares scale asks for. Returns how many changed. */
static int q3_pass(int n, int nmax, const float *x, int8_t *L, float *sumlx, float *suml2)
{
    int n_changed = 0;
    for (int i = 0; i < n; i++) {
        float w = x[i] * x[i];
        float slx = *sumlx - w * x[i] * L[i];
        if (!(slx > 0))
            continue;
        float sl2 = *suml2 - w * L[i] * L[i];
        int new_l = clampi(lp_qz_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l == L[i])
            continue;
        slx += w * x[i] * new_l;
        sl2 += w * new_l * new_l;
        if (sl2 > 0 && slx * slx * *suml2 > *sumlx * *sumlx * sl2) {
            L[i] = (int8_t)new_l;
            *sumlx = slx;
            *suml2 = sl2;
            n_changed++;
        }
    }
    return n_changed;
}

float lp_qz_make_q3(int n, int nmax, const float *x, int8_t *L)
{
    float max = lp_qz_signed_absmax(x, n);
    if (fabsf(max) < LP_QZ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(lp_qz_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        if (q3_pass(n, nmax, x, L, &sumlx, &suml2) == 0)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* ---- make_qkx2_quants ------------------------------------------------- */

/* Weighted error (absolute or squared) of x against scale*L + min. */
static float qkx2_error(int n, const float *x, const float *w, const uint8_t *L,
                        float scale, float min, bool use_mad)
{
    float err = 0;
    for (int i = 0; i < n; i++) {
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        err += w[i] * diff;
    }
    return err;
}

/* Levels 0..nmax at iscale from min, and the weighted sums of l, l*l and
 * l*x that the least-squares fit of scale and min needs. */
static void qkx2_levels(int n, int nmax, const float *x, const float *w, float iscale,
                        float min, uint8_t *L, float sums[3])
{
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(lp_qz_nearest_int(iscale * (x[i] - min)), 0, nmax);
        L[i] = (uint8_t)l;
        sum_l += w[i] * l;
        sum_l2 += w[i] * l * l;
        sum_xl += w[i] * l * x[i];
    }
    sums[0] = sum_l;
    sums[1] = sum_l2;
    sums[2] = sum_xl;
}

float lp_qz_make_qkx2(int n, int nmax, const float *x, const float *w, uint8_t *L,
                      float *the_min, const lp_qz_search *s)
{
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)clampi(lp_qz_nearest_int(iscale * (x[i] - min)), 0, nmax);
    float best_err = qkx2_error(n, x, w, L, scale, min, s->use_mad);

    uint8_t Laux[32];
    for (int is = 0; is <= s->nstep; is++) {
        iscale = (s->rmin + s->rdelta * is + nmax) / (max - min);
        float sums[3];
        qkx2_levels(n, nmax, x, w, iscale, min, Laux, sums);
        const float sum_l = sums[0], sum_l2 = sums[1], sum_xl = sums[2];
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0))
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = qkx2_error(n, x, w, Laux, this_scale, this_min, s->use_mad);
        if (err < best_err) {
            memcpy(L, Laux, (size_t)n);
            best_err = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}
