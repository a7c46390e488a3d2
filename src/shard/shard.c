#include "shard.h"

#include <stdlib.h>

void lp_shard_opts_default(lp_shard_opts *o)
{
    *o = (lp_shard_opts){.first = 0, .last = -1, .n_threads = 1, .n_ctx = 0,
                         .n_batch = 256, .n_slots = 1, .isa = -1};
}

static int resolve_ctx(const lp_hparams *hp, int requested, lp_err *err)
{
    if (requested < 0)
        return lp_err_set(err, "shard: context size %d is negative", requested);
    if (requested > 0)
        return requested;
    int ctx = hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? (int)hp->n_ctx_train : 4096;
    return ctx;
}

static int open_parts(lp_shard *s, const char *path, lp_err *err)
{
    lp_shard_opts *o = &s->opts;
    lp_isa isa = o->isa < 0 ? lp_cpu_best_isa() : (lp_isa)o->isa;
    if (!(s->gguf = lp_gguf_open(path, err)) ||
        !(s->model = lp_model_load(s->gguf, o->first, o->last, err)) ||
        lp_kernels_init(&s->kernels, isa, err) != 0 ||
        !(s->tp = lp_threadpool_create(o->n_threads, err)))
        return -1;
    const lp_model *m = s->model;
    if (o->prefault)
        lp_model_prefault(m);
    o->isa = (int)isa;
    o->last = m->last;
    if ((o->n_ctx = resolve_ctx(&m->hp, o->n_ctx, err)) < 0)
        return -1;
    lp_kv_shape ks = {.n_layer = m->last - m->first, .n_ctx = o->n_ctx,
                      .kv_dim = (int)(m->hp.n_head_kv * m->hp.head_dim), .n_slots = o->n_slots,
                      .attn = o->attn};
    if (lp_attn_opts_check(&o->attn, (int)m->hp.head_dim, err) != 0)
        return -1;
    if (!(s->kv = lp_kv_new(&ks, err)) ||
        !(s->run = lp_run_new_attn(m, &s->kernels, s->tp, o->n_batch, o->n_ctx, &o->attn,
                                   err)))
        return -1;
    return 0;
}

lp_shard *lp_shard_open(const char *path, const lp_shard_opts *o, lp_err *err)
{
    lp_shard *s = calloc(1, sizeof *s);
    if (!s) {
        lp_err_set(err, "shard: out of memory");
        return NULL;
    }
    s->opts = *o;
    if (open_parts(s, path, err) != 0) {
        lp_shard_close(s);
        return NULL;
    }
    return s;
}

void lp_shard_close(lp_shard *s)
{
    if (!s)
        return;
    lp_run_free(s->run);
    lp_kv_free(s->kv);
    lp_threadpool_destroy(s->tp);
    lp_model_free(s->model);
    lp_gguf_close(s->gguf);
    free(s);
}
