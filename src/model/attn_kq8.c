#include "attn_kq8.h"

#include <math.h>

void lp_attend_head_kq8(const lp_kernels *k, const lp_attn_shape *sh, const float *q,
                        const uint8_t *K, size_t k_row_bytes, const lp_half *Vt,
                        int n_visible, float *out, lp_attn_scratch *s)
{
    const int hd = sh->head_dim;
    k->quantize[LP_TYPE_Q8_0](q, s->q16, hd);
    if (sh->qk_rows)
        sh->qk_rows(hd, K, k_row_bytes, s->q16, s->scores, n_visible);
    else
        for (int j = 0; j < n_visible; j++)
            s->scores[j] = sh->qk(hd, K + (size_t)j * k_row_bytes, s->q16);
    for (int j = n_visible; j < sh->n_kv; j++)
        s->scores[j] = -INFINITY;
    lp_softmax(k, s->scores, sh->n_kv, sh->scale);
    k->quantize[LP_TYPE_F16](s->scores, s->p16, sh->n_kv);
    if (sh->pv_rows) {
        sh->pv_rows(sh->n_kv, Vt, (size_t)sh->v_stride * sizeof(lp_half), s->p16, out, hd);
        return;
    }
    for (int d = 0; d < hd; d++)
        out[d] = sh->pv(sh->n_kv, Vt + (int64_t)d * sh->v_stride, s->p16);
}
