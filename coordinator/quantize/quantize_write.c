/* quantize_write.c — the streamed write of `coord quantize`.
 *
 * The GGUF writer asks for each tensor's bytes in chunks of at most
 * LP_GGUF_FILL_CHUNK (gguf.h). For a converted tensor we convert the rows
 * that chunk overlaps, split across the thread pool (rows are independent,
 * so the bytes do not depend on the thread count), and hand over the part
 * asked for. Memory stays at a chunk plus a row per thread, whatever the
 * model's size; the input is read through the mapping. */
#include <stdlib.h>
#include <string.h>

#include "threadpool.h"
#include "quantize.h"
#include "quantize_job.h"

typedef struct qz_run qz_run;

/* One tensor's fill context. */
typedef struct qz_fill {
    qz_run *run;
    int index;
} qz_fill;

struct qz_run {
    const qz_plan *p;
    lp_threadpool *tp;
    int nth;
    int64_t max_row;    /* longest row of a converted tensor */
    float *scratch;     /* nth rows of max_row floats */
    uint8_t *stage;     /* converted rows when a chunk cuts a row */
    size_t stage_cap;
    lp_err *thread_err; /* nth, and whether each failed */
    int *thread_failed;
    qz_progress_fn fn;
    void *fn_ctx;
    /* the rows [r0, r1) of tensor `cur` the pool is converting into dst */
    const qz_tensor *cur;
    int64_t r0, r1;
    uint8_t *dst;
};

static void convert_task(void *ctx, int ith, int nth)
{
    qz_run *r = ctx;
    const qz_tensor *q = r->cur;
    const int64_t n = (int64_t)q->src->ne[0];
    const size_t src_rb = lp_type_row_bytes(q->src->type, n);
    const size_t dst_rb = lp_type_row_bytes(q->type, n);
    float *row = r->scratch + (size_t)ith * (size_t)r->max_row;
    long lo, hi;
    lp_split_range((long)(r->r1 - r->r0), ith, nth, &lo, &hi);
    for (long i = lo; i < hi && !r->thread_failed[ith]; i++) {
        const uint8_t *src = (const uint8_t *)q->src->data + (size_t)(r->r0 + i) * src_rb;
        if (lp_dequantize_row((lp_type)q->src->type, src, row, n) != 0) {
            lp_err_set(&r->thread_err[ith], "cannot read %s rows",
                       lp_type_traits_get(q->src->type)->name);
            r->thread_failed[ith] = 1;
        } else if (lp_quantize_rows(q->type, row, r->dst + (size_t)i * dst_rb, 1, n,
                                    &r->thread_err[ith]) != 0) {
            r->thread_failed[ith] = 1;
        }
    }
}

/* Converts rows [r0, r1) of tensor q into dst on the pool. */
static int convert_rows(qz_run *r, const qz_tensor *q, int64_t r0, int64_t r1, uint8_t *dst,
                        lp_err *err)
{
    r->cur = q;
    r->r0 = r0;
    r->r1 = r1;
    r->dst = dst;
    memset(r->thread_failed, 0, (size_t)r->nth * sizeof *r->thread_failed);
    lp_threadpool_run(r->tp, convert_task, r);
    for (int i = 0; i < r->nth; i++)
        if (r->thread_failed[i])
            return lp_err_set(err, "quantize: '%s': %s", q->name, r->thread_err[i].msg);
    return 0;
}

static int fill(void *ctx, void *buf, uint64_t offset, size_t len, lp_err *err)
{
    qz_fill *f = ctx;
    qz_run *r = f->run;
    const qz_tensor *q = &r->p->t[f->index];
    if (!q->convert) {
        memcpy(buf, (const uint8_t *)q->src->data + offset, len);
    } else {
        const uint64_t rb = lp_type_row_bytes(q->type, (int64_t)q->src->ne[0]);
        const int64_t r0 = (int64_t)(offset / rb);
        const int64_t r1 = (int64_t)((offset + len + rb - 1) / rb);
        const uint64_t skip = offset - (uint64_t)r0 * rb;
        /* Whole rows go straight into the writer's buffer. */
        bool direct = skip == 0 && len % rb == 0;
        if (convert_rows(r, q, r0, r1, direct ? buf : r->stage, err) != 0)
            return -1;
        if (!direct)
            memcpy(buf, r->stage + skip, len);
    }
    return r->fn ? r->fn(r->fn_ctx, r->p, f->index, offset + len, err) : 0;
}

/* Scratch and staging sized for the plan's largest rows. */
static int run_buffers(qz_run *r, lp_err *err)
{
    for (int i = 0; i < r->p->n; i++) {
        const qz_tensor *q = &r->p->t[i];
        if (!q->convert)
            continue;
        int64_t n = (int64_t)q->src->ne[0];
        size_t rb = lp_type_row_bytes(q->type, n);
        size_t need = (LP_GGUF_FILL_CHUNK / rb + 2) * rb;
        if (n > r->max_row)
            r->max_row = n;
        if (need > r->stage_cap)
            r->stage_cap = need;
    }
    size_t rows = (size_t)r->nth * (size_t)(r->max_row ? r->max_row : 1);
    r->scratch = malloc(rows * sizeof *r->scratch);
    r->stage = malloc(r->stage_cap ? r->stage_cap : 1);
    r->thread_err = calloc((size_t)r->nth, sizeof *r->thread_err);
    r->thread_failed = calloc((size_t)r->nth, sizeof *r->thread_failed);
    if (!r->scratch || !r->stage || !r->thread_err || !r->thread_failed)
        return lp_err_set(err, "quantize: out of memory");
    return 0;
}

static void run_free(qz_run *r)
{
    lp_threadpool_destroy(r->tp);
    free(r->scratch);
    free(r->stage);
    free(r->thread_err);
    free(r->thread_failed);
}

/* The input's kvs as llama.cpp copies them: its split keys dropped, and
 * the two it sets moved to the end (gguf_set_val appends). */
static int add_kvs(lp_gguf_writer *w, const lp_gguf *g, lp_ftype ft, lp_err *err)
{
    static const char *const skip[] = {
        "general.quantization_version", "general.file_type",
        "split.no", "split.count", "split.tensors.count",
    };
    for (uint64_t i = 0; i < g->n_kv; i++) {
        bool keep = true;
        for (size_t j = 0; j < sizeof skip / sizeof skip[0]; j++)
            keep &= !lp_str_eq(g->kv[i].key, skip[j]);
        if (keep && lp_gguf_writer_add_kv(w, &g->kv[i], err) != 0)
            return -1;
    }
    if (lp_gguf_writer_set_u32(w, "general.quantization_version", LP_QUANT_VERSION, err) ||
        lp_gguf_writer_set_u32(w, "general.file_type", (uint32_t)ft, err))
        return -1;
    return 0;
}

static int add_tensors(lp_gguf_writer *w, const qz_plan *p, qz_fill *fills, lp_err *err)
{
    for (int i = 0; i < p->n; i++) {
        const qz_tensor *q = &p->t[i];
        int nd = lp_mix_n_dims(q->src);
        if (lp_gguf_writer_add_tensor_fill(w, q->name, q->type, (uint32_t)nd, q->src->ne, fill,
                                           &fills[i], err) != 0)
            return -1;
    }
    return 0;
}

int qz_write(const lp_gguf *g, const qz_plan *p, const char *path, int n_threads,
             qz_progress_fn fn, void *ctx, lp_err *err)
{
    qz_run r = {.p = p, .nth = n_threads, .fn = fn, .fn_ctx = ctx};
    qz_fill *fills = calloc((size_t)(p->n ? p->n : 1), sizeof *fills);
    lp_gguf_writer *w = lp_gguf_writer_new(err);
    int rc = -1;
    if (!fills || !w) {
        if (!fills)
            lp_err_set(err, "quantize: out of memory");
        goto done;
    }
    for (int i = 0; i < p->n; i++)
        fills[i] = (qz_fill){&r, i};
    if (run_buffers(&r, err) != 0 || !(r.tp = lp_threadpool_create(n_threads, err)))
        goto done;
    if (add_kvs(w, g, p->ftype, err) == 0 && add_tensors(w, p, fills, err) == 0)
        rc = lp_gguf_writer_write(w, path, err);
done:
    run_free(&r);
    lp_gguf_writer_free(w);
    free(fills);
    return rc;
}
