/* synth.c — planning and writing a synth model: metadata as
 * convert_hf_to_gguf.py writes it, tensor types as llama-quantize chooses
 * them, and the weights made chunk by chunk on the thread pool while the
 * GGUF writer streams them to disk. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "threadpool.h"
#include "quant.h"
#include "synth_internal.h"

struct lp_synth {
    lp_synth_opts o;
    const lp_synth_shape *sh;
    lp_mix mix;        /* llama-quantize's per-tensor type rules */
    uint32_t n_layer;
    synth_tensor *t; /* n_t entries; the writer's fill contexts point here */
    size_t n_t;
    lp_gguf_writer *w;
    uint64_t kv_bytes; /* serialized kvs, for the exact file size */
    float rope[512];   /* rope_freqs values */
    /* while writing */
    lp_threadpool *tp;
    uint64_t done, total;
};

/* ---- metadata ---------------------------------------------------------- */

static int put_u32(lp_synth *s, const char *key, uint32_t v, lp_err *err)
{
    lp_gguf_kv kv = {.key = {key, strlen(key)}, .val = {.type = LP_GGUF_UINT32, .v.u64 = v}};
    return synth_put_kv(s->w, &kv, &s->kv_bytes, err);
}

static int put_f32(lp_synth *s, const char *key, float v, lp_err *err)
{
    lp_gguf_kv kv = {.key = {key, strlen(key)}, .val = {.type = LP_GGUF_FLOAT32, .v.f64 = v}};
    return synth_put_kv(s->w, &kv, &s->kv_bytes, err);
}

static int put_str(lp_synth *s, const char *key, const char *v, lp_err *err)
{
    lp_gguf_kv kv = {.key = {key, strlen(key)},
                     .val = {.type = LP_GGUF_STRING, .v.str = {v, strlen(v)}}};
    return synth_put_kv(s->w, &kv, &s->kv_bytes, err);
}

/* Which seed made the weights, so a file can be made again. */
static int put_seed(lp_synth *s, lp_err *err)
{
    const char *key = "layerpool.synth.seed";
    lp_gguf_kv kv = {.key = {key, strlen(key)},
                     .val = {.type = LP_GGUF_UINT64, .v.u64 = s->o.seed}};
    return synth_put_kv(s->w, &kv, &s->kv_bytes, err);
}

static int put_arch_u32(lp_synth *s, const char *suffix, uint32_t v, lp_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", s->sh->arch, suffix);
    return put_u32(s, key, v, err);
}

static int put_arch_f32(lp_synth *s, const char *suffix, float v, lp_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", s->sh->arch, suffix);
    return put_f32(s, key, v, err);
}

/* The kvs convert_hf_to_gguf.py writes for these models, in its order,
 * then what llama-quantize adds. */
static int put_metadata(lp_synth *s, lp_err *err)
{
    const lp_synth_shape *sh = s->sh;
    char name[96];
    snprintf(name, sizeof name, "synth %s (random weights)", sh->name);
    if (put_str(s, "general.architecture", sh->arch, err) ||
        put_str(s, "general.type", "model", err) || put_str(s, "general.name", name, err) ||
        put_arch_u32(s, "block_count", s->n_layer, err) ||
        put_arch_u32(s, "context_length", sh->n_ctx, err) ||
        put_arch_u32(s, "embedding_length", sh->n_embd, err) ||
        put_arch_u32(s, "feed_forward_length", sh->n_ff, err) ||
        put_arch_u32(s, "attention.head_count", sh->n_head, err) ||
        put_arch_u32(s, "attention.head_count_kv", sh->n_head_kv, err) ||
        put_arch_f32(s, "rope.freq_base", sh->rope_base, err) ||
        put_arch_f32(s, "attention.layer_norm_rms_epsilon", sh->rms_eps, err))
        return -1;
    if (sh->head_dim_kv && (put_arch_u32(s, "attention.key_length", sh->head_dim, err) ||
                            put_arch_u32(s, "attention.value_length", sh->head_dim, err)))
        return -1;
    if (put_u32(s, "general.file_type", (uint32_t)s->o.ftype, err) ||
        put_arch_u32(s, "vocab_size", sh->n_vocab, err) ||
        put_arch_u32(s, "rope.dimension_count", sh->head_dim, err) ||
        synth_vocab_add(s->w, sh->n_vocab, s->o.vocab_path, &s->kv_bytes, err) ||
        put_u32(s, "general.quantization_version", LP_QUANT_VERSION, err) ||
        put_seed(s, err))
        return -1;
    return 0;
}

/* ---- tensors ----------------------------------------------------------- */

/* lp_mix_init reads these from a parsed file; we have the shape instead. */
static int init_mix(lp_synth *s, lp_err *err)
{
    const lp_synth_shape *sh = s->sh;
    const lp_mix_facts f = {.arch = sh->arch, .n_layer = s->n_layer, .n_head = sh->n_head,
                            .n_head_kv = sh->n_head_kv, .has_output = !sh->tied,
                            .n_attention_wv = (int)s->n_layer};
    return lp_mix_init_facts(&s->mix, s->o.ftype, &f, err);
}

/* Norms, biases and rope factors stay F32 (llama-quantize leaves 1-D
 * tensors alone); weight matrices get the type llama-quantize's rules
 * give them, visited in its order (the plan's). */
static int choose_type(lp_synth *s, synth_tensor *t, lp_err *err)
{
    t->type = LP_TYPE_F32;
    if (t->kind == SYNTH_MATRIX) {
        lp_gguf_tensor g = {.name = {t->name, strlen(t->name)}, .n_dims = t->n_dims,
                            .ne = {t->ne[0], t->ne[1], 1, 1}, .type = LP_TYPE_F32};
        lp_mix_choice c;
        if (lp_mix_choose(&s->mix, &g, &c, err))
            return -1;
        t->type = c.type;
    }
    size_t row = lp_type_row_bytes(t->type, (int64_t)t->ne[0]);
    if (row == 0 || synth_unit_bytes(t->type) == 0)
        return lp_err_set(err, "synth: %s: cannot make %s rows of %" PRIu64, t->name,
                          lp_type_traits_get(t->type)->name, t->ne[0]);
    t->nbytes = row * t->ne[1];
    return 0;
}

/* Bytes one generated unit covers: a block for random weights, an element
 * for the computed F32 vectors. */
static size_t unit_bytes(const synth_tensor *t)
{
    return t->kind == SYNTH_MATRIX || t->kind == SYNTH_BIAS ? synth_unit_bytes(t->type) : 4;
}

static void gen_unit(const synth_tensor *t, uint64_t u, uint8_t *out)
{
    float v;
    switch (t->kind) {
    case SYNTH_ONES:
        v = 1.0f;
        memcpy(out, &v, 4);
        break;
    case SYNTH_ROPE:
        memcpy(out, &t->rope[u], 4);
        break;
    default:
        synth_gen_unit(t->type, t->sigma, synth_mix(t->key, u), out);
    }
}

/* Tensor bytes [off, off + len) into dst: whole units in place, the units
 * cut by the range's ends through a scratch copy. */
static void fill_range(const synth_tensor *t, uint8_t *dst, uint64_t off, uint64_t len)
{
    const uint64_t ub = unit_bytes(t), end = off + len;
    for (uint64_t u = off / ub, pos = u * ub; pos < end; u++, pos += ub) {
        if (pos >= off && pos + ub <= end) {
            gen_unit(t, u, dst + (pos - off));
            continue;
        }
        uint8_t tmp[SYNTH_UNIT_MAX];
        gen_unit(t, u, tmp);
        uint64_t a = pos > off ? pos : off, b = pos + ub < end ? pos + ub : end;
        memcpy(dst + (a - off), tmp + (a - pos), (size_t)(b - a));
    }
}

typedef struct fill_job {
    const synth_tensor *t;
    uint8_t *buf;
    uint64_t off;
    size_t len;
} fill_job;

static void fill_task(void *ctx, int ith, int nth)
{
    const fill_job *j = ctx;
    long lo, hi;
    lp_split_range((long)j->len, ith, nth, &lo, &hi);
    if (hi > lo)
        fill_range(j->t, j->buf + lo, j->off + (uint64_t)lo, (uint64_t)(hi - lo));
}

/* The writer's fill callback: one chunk of a tensor, split over the thread pool. */
static int fill_chunk(void *ctx, void *buf, uint64_t offset, size_t len, lp_err *err)
{
    const synth_tensor *t = ctx;
    lp_synth *s = t->owner;
    if (s->o.cancel && *s->o.cancel)
        return lp_err_set(err, "synth: interrupted");
    fill_job j = {t, buf, offset, len};
    lp_threadpool_run(s->tp, fill_task, &j);
    s->done += len;
    if (s->o.progress)
        s->o.progress(s->o.progress_ctx, s->done, s->total);
    return 0;
}

static int plan_tensors(lp_synth *s, lp_err *err)
{
    s->t = calloc(synth_max_tensors(s->n_layer), sizeof *s->t);
    if (!s->t)
        return lp_err_set(err, "synth: out of memory");
    s->n_t = synth_plan_tensors(s->sh, s->n_layer, s->t);
    if (s->sh->rope_factor > 0.0f)
        synth_rope_factors(s->sh, s->rope);
    if (init_mix(s, err))
        return -1;
    for (size_t i = 0; i < s->n_t; i++) {
        synth_tensor *t = &s->t[i];
        t->key = synth_mix(s->o.seed, i);
        t->rope = s->rope;
        t->owner = s;
        if (choose_type(s, t, err) ||
            lp_gguf_writer_add_tensor_fill(s->w, t->name, t->type, t->n_dims, t->ne,
                                           fill_chunk, t, err))
            return -1;
    }
    return 0;
}

static int check_opts(const lp_synth_opts *o, lp_err *err)
{
    if (!o->shape)
        return lp_err_set(err, "synth: no shape");
    if (!strcmp(lp_ftype_name(o->ftype), "?"))
        return lp_err_set(err, "synth: file type %d is not one we write", (int)o->ftype);
    if (o->n_threads < 1)
        return lp_err_set(err, "synth: threads must be >= 1");
    if (o->n_layer > 4096)
        return lp_err_set(err, "synth: %" PRIu32 " layers is too many", o->n_layer);
    if (o->shape->head_dim / 2 > 512)
        return lp_err_set(err, "synth: head size %" PRIu32 " is too large", o->shape->head_dim);
    return 0;
}

lp_synth *lp_synth_new(const lp_synth_opts *o, lp_err *err)
{
    if (check_opts(o, err))
        return NULL;
    lp_synth *s = calloc(1, sizeof *s);
    if (!s) {
        lp_err_set(err, "synth: out of memory");
        return NULL;
    }
    s->o = *o;
    s->sh = o->shape;
    s->n_layer = o->n_layer ? o->n_layer : o->shape->n_layer;
    if (!(s->w = lp_gguf_writer_new(err)) || put_metadata(s, err) || plan_tensors(s, err)) {
        lp_synth_free(s);
        return NULL;
    }
    return s;
}

void lp_synth_free(lp_synth *s)
{
    if (!s)
        return;
    lp_gguf_writer_free(s->w);
    free(s->t);
    free(s);
}

size_t lp_synth_n_tensors(const lp_synth *s)
{
    return s->n_t;
}

void lp_synth_tensor(const lp_synth *s, size_t i, lp_synth_tensor_info *out)
{
    const synth_tensor *t = &s->t[i];
    *out = (lp_synth_tensor_info){t->name, t->type, t->n_dims, {t->ne[0], t->ne[1]},
                                  t->nbytes};
}

static uint64_t pad32(uint64_t n)
{
    return (n + LP_GGUF_DEFAULT_ALIGNMENT - 1) / LP_GGUF_DEFAULT_ALIGNMENT *
           LP_GGUF_DEFAULT_ALIGNMENT;
}

/* The writer's layout: magic, version, counts, kvs, tensor infos (name,
 * dims, type, offset), padding, then each tensor padded to the alignment. */
void lp_synth_totals_get(const lp_synth *s, lp_synth_totals *out)
{
    uint64_t header = 4 + 4 + 8 + 8 + s->kv_bytes, data = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < s->n_t; i++) {
        const synth_tensor *t = &s->t[i];
        header += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
        data += pad32(t->nbytes);
        out->n_params += t->ne[0] * t->ne[1];
        out->tensor_bytes += t->nbytes;
    }
    out->file_bytes = pad32(header) + data;
    out->bpw = out->n_params ? (double)out->tensor_bytes * 8.0 / (double)out->n_params : 0.0;
}

int lp_synth_check_space(const lp_synth *s, const char *path, lp_err *err)
{
    lp_synth_totals tot;
    lp_synth_totals_get(s, &tot);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    struct statvfs vfs;
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        errno = ENOTDIR;
    else if (statvfs(dir, &vfs) == 0 && access(dir, W_OK) == 0)
        errno = 0;
    if (errno)
        return lp_err_set(err, "synth: cannot write in '%s': %s", dir, strerror(errno));
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < tot.file_bytes)
        return lp_err_set(err, "synth: not enough disk space in '%s': the file needs %.2f GB, "
                          "%.2f GB are free", dir, tot.file_bytes / 1e9, avail / 1e9);
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < tot.file_bytes)
        return lp_err_set(err, "synth: the file needs %.2f GB, more than this process's file "
                          "size limit (ulimit -f) of %.2f GB", tot.file_bytes / 1e9,
                          (double)rl.rlim_cur / 1e9);
    return 0;
}

int lp_synth_write(lp_synth *s, const char *path, lp_err *err)
{
    lp_synth_totals tot;
    lp_synth_totals_get(s, &tot);
    s->done = 0;
    s->total = tot.tensor_bytes;
    if (!(s->tp = lp_threadpool_create(s->o.n_threads, err)))
        return -1;
    int rc = lp_gguf_writer_write(s->w, path, err);
    lp_threadpool_destroy(s->tp);
    s->tp = NULL;
    return rc;
}
