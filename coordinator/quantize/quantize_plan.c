/* quantize_plan.c — each tensor's output type for `coord quantize`, decided
 * and checked before a byte is written, so a refusal costs nothing. */
#include <stdlib.h>
#include <string.h>

#include "quantize.h"
#include "quantize_job.h"

/* Sources we convert from: floats, and Q8_0 (close enough to them that
 * requantizing it, with a warning, is still useful). */
static bool convertible_source(uint32_t t)
{
    return t == LP_TYPE_F32 || t == LP_TYPE_F16 || t == LP_TYPE_BF16 || t == LP_TYPE_Q8_0;
}

static uint64_t n_elements(const lp_gguf_tensor *t)
{
    uint64_t n = 1;
    for (uint32_t j = 0; j < t->n_dims; j++)
        n *= t->ne[j]; /* the reader checked the extent fits the file */
    return n;
}

/* The type of one tensor in the plan; -1 with *err if it cannot be made. */
static int plan_tensor(qz_plan *p, const lp_gguf_tensor *src, qz_tensor *q, lp_err *err)
{
    memset(q, 0, sizeof *q);
    q->src = src;
    memcpy(q->name, src->name.ptr, (size_t)src->name.len); /* < LP_GGUF_MAX_NAME */
    q->type = src->type;
    if (lp_mix_converts(src)) {
        if (lp_mix_choose(&p->mix, src, &q->choice, err) != 0)
            return -1;
        q->type = q->choice.type;
    }
    /* A tensor already of the chosen type is copied, as llama.cpp does. */
    q->convert = q->type != src->type;
    if (q->convert && !convertible_source(src->type))
        return lp_err_set(err, "'%s' is already quantized (%s): quantizing it again would "
                          "lose more quality; start from the F32, F16 or BF16 model",
                          q->name, lp_type_traits_get(src->type)->name);
    if (q->convert && !lp_quantize_supported(q->type))
        return lp_err_set(err, "'%s': writing %s is not supported", q->name,
                          lp_type_traits_get(q->type)->name);
    p->n_requant += q->convert && src->type == LP_TYPE_Q8_0;
    uint64_t rows = src->ne[0] ? n_elements(src) / src->ne[0] : 0;
    q->out_bytes = rows * lp_type_row_bytes(q->type, (int64_t)src->ne[0]);
    return 0;
}

int qz_plan_make(const lp_gguf *g, lp_ftype ft, qz_plan *p, lp_err *err)
{
    memset(p, 0, sizeof *p);
    p->ftype = ft;
    if (lp_mix_init(&p->mix, ft, g, err) != 0)
        return -1;
    uint64_t *order = lp_mix_order(g);
    p->t = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *p->t);
    if (!order || !p->t) {
        free(order);
        qz_plan_free(p);
        return lp_err_set(err, "out of memory");
    }
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < g->n_tensors; i++) {
        const lp_gguf_tensor *src = &g->tensors[order[i]];
        qz_tensor *q = &p->t[p->n++];
        rc = plan_tensor(p, src, q, err);
        p->in_bytes += src->nbytes;
        p->out_bytes += q->out_bytes;
        p->n_elements += n_elements(src);
    }
    free(order);
    if (rc != 0)
        qz_plan_free(p);
    return rc;
}

void qz_plan_free(qz_plan *p)
{
    free(p->t);
    p->t = NULL;
    p->n = 0;
}
