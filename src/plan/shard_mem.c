/* shard_mem.c — a shard's memory, from its tensor index and its options. */
#include "shard_mem.h"

#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "size.h"

static bool str_is(lp_str s, const char *lit)
{
    return s.len == strlen(lit) && !memcmp(s.ptr, lit, s.len);
}

/* The layer of a "blk.N.*" tensor, or -1 for any other name. */
static long layer_of(lp_str s)
{
    if (s.len < 6 || memcmp(s.ptr, "blk.", 4) != 0)
        return -1;
    long n = 0;
    uint64_t i = 4;
    for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9' && n < (1L << 24); i++)
        n = n * 10 + (s.ptr[i] - '0');
    return i > 4 && i < s.len && s.ptr[i] == '.' ? n : -1;
}

/* Bytes of t the shard maps, and of them what one decode step reads. */
static void count_tensor(const lp_model *md, const lp_gguf_tensor *t, uint64_t *mapped,
                         uint64_t *step)
{
    long il = layer_of(t->name);
    bool embd = str_is(t->name, "token_embd.weight");
    bool head = md->has_head && (str_is(t->name, "output.weight") ||
                                 str_is(t->name, "output_norm.weight") ||
                                 (embd && md->output_tied));
    bool used = (il >= md->first && il < md->last) || head ||
                str_is(t->name, "rope_freqs.weight") || (embd && md->has_embed);
    if (!used)
        return;
    *mapped += t->nbytes;
    /* The embedding reads one row a token; a tied head reads the table. */
    uint64_t rows = t->n_dims >= 2 && t->ne[1] ? t->ne[1] : 1;
    *step += embd && !head ? t->nbytes / rows : t->nbytes;
}

int lp_shard_mem_of(const lp_shard *s, lp_shard_mem *m, lp_err *err)
{
    memset(m, 0, sizeof *m);
    for (uint64_t i = 0; i < s->gguf->n_tensors; i++)
        count_tensor(s->model, &s->gguf->tensors[i], &m->weights, &m->token_bytes);
    m->kv = lp_kv_bytes(lp_kv_get_shape(s->kv));
    lp_plan_model pm;
    if (lp_plan_model_from_gguf(s->gguf, &pm, err) != 0)
        return -1;
    const lp_shard_opts *o = &s->opts;
    m->buffers = lp_plan_run_bytes_attn(&pm, s->model->first, s->model->last, o->n_batch,
                                        o->n_ctx, o->n_threads, &o->attn);
    lp_plan_model_free(&pm);
    return 0;
}

char *lp_shard_mem_line(const lp_shard_mem *m, const lp_proc_mem *pm, char *buf, size_t cap)
{
    char w[32], k[32], b[32], t[32], r[32], f[32], a[32];
    uint64_t total = m->weights + m->kv + m->buffers;
    int n = snprintf(buf, cap, "weights %s (mapped) + KV %s + buffers %s = %s",
                     lp_size_format(m->weights, w, sizeof w), lp_size_format(m->kv, k, sizeof k),
                     lp_size_format(m->buffers, b, sizeof b), lp_size_format(total, t, sizeof t));
    if (pm && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "; RSS %s (file %s, anon %s)",
                 lp_size_format(pm->rss, r, sizeof r), lp_size_format(pm->rss_file, f, sizeof f),
                 lp_size_format(pm->rss_anon, a, sizeof a));
    return buf;
}
