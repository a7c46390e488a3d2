/* shard_split.c — writing shard files (shard_split.h).
 *
 * A shard's header comes from the GGUF writer (gguf.h), so the format is
 * written in one place: the source's key/values copied bit for bit, our
 * layerpool.shard.* keys, and the infos of the tensors the shard holds at
 * llama.cpp's offsets. The data then streams from the source mapping
 * through SHA-256 to the file, laid out as that header says. */
#include "shard_split.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gguf.h"
#include "io.h"
#include "model.h"
#include "model_id.h"
#include "sha256.h"

/* ---- ranges ------------------------------------------------------------- */

/* A decimal number at *p (no sign, no spaces), advancing *p. */
static int parse_num(const char **p, int *out)
{
    const char *s = *p;
    long v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > 1000000)
            return -1;
    }
    *out = (int)v;
    *p = s;
    return 0;
}

int lp_split_parse_ranges(const char *s, lp_layer_range *out, int max, int *n, lp_err *err)
{
    *n = 0;
    if (!s || !*s)
        return lp_err_set(err, "split: empty layer ranges (expected e.g. \"0-11,11-22,22-32\")");
    for (const char *p = s;; p++) {
        lp_layer_range r;
        if (parse_num(&p, &r.first) || *p++ != '-' || parse_num(&p, &r.last) ||
            (*p != ',' && *p != 0))
            return lp_err_set(err, "split: layer ranges '%s' are not of the form "
                              "\"0-11,11-22,22-32\"", s);
        if (*n >= max)
            return lp_err_set(err, "split: more than %d layer ranges", max);
        out[(*n)++] = r;
        if (*p == 0)
            return 0;
    }
}

int lp_split_check_ranges(const lp_layer_range *r, int n, uint32_t n_layer, lp_err *err)
{
    if (n < 1)
        return lp_err_set(err, "split: no layer ranges");
    for (int i = 0; i < n; i++) {
        int want = i == 0 ? 0 : r[i - 1].last;
        if (r[i].first != want)
            return lp_err_set(err, "split: range %d (%d-%d) must start at layer %d so that "
                              "the ranges are contiguous from 0", i, r[i].first, r[i].last,
                              want);
        if (r[i].last <= r[i].first)
            return lp_err_set(err, "split: range %d (%d-%d) is empty", i, r[i].first,
                              r[i].last);
        if ((uint32_t)r[i].last > n_layer)
            return lp_err_set(err, "split: range %d (%d-%d) goes past the model's %u layers",
                              i, r[i].first, r[i].last, n_layer);
    }
    if ((uint32_t)r[n - 1].last != n_layer)
        return lp_err_set(err, "split: the ranges end at layer %d but the model has %u layers",
                          r[n - 1].last, n_layer);
    return 0;
}

/* ---- which tensors a shard holds ------------------------------------------ */

/* Layer of "blk.N.*": N, -1 if the name is not in blk.*, -2 if malformed. */
static long block_of(lp_str name)
{
    if (name.len < 4 || memcmp(name.ptr, "blk.", 4) != 0)
        return -1;
    long n = 0;
    uint64_t i = 4;
    for (; i < name.len && name.ptr[i] >= '0' && name.ptr[i] <= '9' && n < 1000000; i++)
        n = n * 10 + (name.ptr[i] - '0');
    return i > 4 && i < name.len && name.ptr[i] == '.' ? n : -2;
}

typedef struct shard_spec {
    int index, count, first, last;
    uint32_t n_layer, n_vocab;
    bool has_embed, has_head, tied;
    char model_id_hex[2 * LP_SHA256_BYTES + 1];
} shard_spec;

static bool wanted(const shard_spec *sp, lp_str name)
{
    long blk = block_of(name);
    if (blk >= 0)
        return blk >= sp->first && blk < sp->last;
    if (lp_str_eq(name, "token_embd.weight"))
        return sp->has_embed || (sp->has_head && sp->tied);
    if (lp_str_eq(name, "output_norm.weight") || lp_str_eq(name, "output.weight"))
        return sp->has_head;
    return true; /* rope_freqs and any other global tensor */
}

/* Refuse a source whose blk.* names we cannot place, before writing. */
static int check_blocks(const lp_gguf *g, uint32_t n_layer, lp_err *err)
{
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        long blk = block_of(g->tensors[i].name);
        if (blk == -2 || blk >= (long)n_layer)
            return lp_err_set(err, "split: tensor '%.*s' names no layer of the model's %u",
                              (int)g->tensors[i].name.len, g->tensors[i].name.ptr, n_layer);
    }
    return 0;
}

/* ---- the header ------------------------------------------------------------ */

static bool keep_tensor(const lp_gguf_tensor *t, const void *sp) { return wanted(sp, t->name); }

/* LP_SHARD_KEY_PREFIX + suffix, in key[64]. */
static const char *shard_key(char *key, const char *suffix)
{
    snprintf(key, 64, "%s%s", LP_SHARD_KEY_PREFIX, suffix);
    return key;
}

/* In the order shard_split.h lists them, after the source's own. */
static int set_shard_keys(lp_gguf_writer *w, const shard_spec *sp, lp_err *err)
{
    char k[64];
    if (lp_gguf_writer_set_str(w, shard_key(k, "model_id"), sp->model_id_hex, err) ||
        lp_gguf_writer_set_u32(w, shard_key(k, "first"), (uint32_t)sp->first, err) ||
        lp_gguf_writer_set_u32(w, shard_key(k, "last"), (uint32_t)sp->last, err) ||
        lp_gguf_writer_set_u32(w, shard_key(k, "n_layer"), sp->n_layer, err) ||
        lp_gguf_writer_set_u32(w, shard_key(k, "n_vocab"), sp->n_vocab, err) ||
        lp_gguf_writer_set_u32(w, shard_key(k, "index"), (uint32_t)sp->index, err) ||
        lp_gguf_writer_set_u32(w, shard_key(k, "count"), (uint32_t)sp->count, err) ||
        lp_gguf_writer_set_bool(w, shard_key(k, "has_embed"), sp->has_embed, err) ||
        lp_gguf_writer_set_bool(w, shard_key(k, "has_head"), sp->has_head, err))
        return -1;
    return 0;
}

/* The header of one shard, laid out by the GGUF writer: the source's kvs
 * bit for bit, ours, and the infos of the tensors the shard holds. */
static int build_header(const lp_gguf *g, const shard_spec *sp, lp_gguf_header *h,
                        lp_err *err)
{
    lp_gguf_writer *w = lp_gguf_writer_new(err);
    if (!w)
        return -1;
    int rc = 0;
    if (lp_gguf_writer_copy_kvs(w, g, err) || set_shard_keys(w, sp, err) ||
        lp_gguf_writer_copy_tensors(w, g, keep_tensor, sp, err) ||
        lp_gguf_writer_header(w, h, err))
        rc = -1;
    lp_gguf_writer_free(w);
    return rc;
}

/* ---- streaming a shard to disk ----------------------------------------------- */

typedef struct sink {
    int fd;
    lp_sha256_ctx sha;
    lp_split_progress prog;
    int64_t t0_ns; /* lp_now_ns() at the start */
    lp_split_progress_fn cb;
    void *ctx;
} sink;

static double since(int64_t t0_ns)
{
    return (double)(lp_now_ns() - t0_ns) * 1e-9;
}

enum { PIECE = 8 << 20 };

/* Writes and hashes n bytes in pieces, reporting progress; errno or 0. */
static int sink_put(sink *s, const void *src, uint64_t n)
{
    const uint8_t *p = src;
    while (n) {
        size_t k = n < PIECE ? (size_t)n : PIECE;
        if (lp_write_full(s->fd, p, k) != 0)
            return errno;
        lp_sha256_update(&s->sha, p, k);
        p += k;
        n -= k;
        s->prog.done += k;
        s->prog.seconds = since(s->t0_ns);
        if (s->cb && k == PIECE && s->prog.done < s->prog.total)
            s->cb(&s->prog, s->ctx); /* the end is reported once renamed */
    }
    return 0;
}

static int sink_zeros(sink *s, uint64_t n)
{
    static const uint8_t zeros[4096];
    int e = 0;
    while (n && !e) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        e = sink_put(s, zeros, k);
        n -= k;
    }
    return e;
}

/* Source pages just written are not needed again: drop them from this
 * process, piece by piece, so that splitting a 40 GB file (with tensors
 * of a GB) never makes a process of that size; the page cache keeps what
 * it likes. Pages straddling a piece's ends stay. */
static void drop_pages(const void *p, uint64_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || n == 0)
        return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)p + (uintptr_t)n) & ~((uintptr_t)pg - 1);
    if (e > a)
        madvise((void *)a, e - a, MADV_DONTNEED);
}

static uint64_t pad_len(uint64_t off, uint64_t align) { return (align - off % align) % align; }

static int stream_shard(const lp_gguf *g, const shard_spec *sp, const lp_gguf_header *h,
                        sink *s)
{
    int e = sink_put(s, h->bytes, h->len);
    for (uint64_t i = 0; !e && i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        if (!wanted(sp, t->name))
            continue;
        const uint8_t *p = t->data;
        for (uint64_t off = 0; !e && off < t->nbytes; off += PIECE) {
            uint64_t k = t->nbytes - off < PIECE ? t->nbytes - off : PIECE;
            e = sink_put(s, p + off, k);
            drop_pages(p + off, k);
        }
        if (!e)
            e = sink_zeros(s, pad_len(t->nbytes, h->alignment));
    }
    if (!e && fsync(s->fd) != 0)
        e = errno;
    return e;
}

/* Write one shard to a hidden temporary next to res->path, then rename. */
static int write_shard(const lp_gguf *g, const shard_spec *sp, lp_split_result *res,
                       lp_split_progress_fn cb, void *ctx, lp_err *err)
{
    lp_gguf_header hdr;
    if (build_header(g, sp, &hdr, err))
        return -1;
    char tmp[4200];
    const char *slash = strrchr(res->path, '/');
    int dlen = slash ? (int)(slash - res->path) + 1 : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.XXXXXX", dlen, res->path, res->path + dlen);
    sink s = {.fd = mkstemp(tmp), .cb = cb, .ctx = ctx,
              .prog = {.index = sp->index, .count = sp->count,
                       .total = hdr.len + hdr.data_bytes}};
    if (s.fd < 0) {
        lp_err_set(err, "split: cannot create a file in '%.*s': %s", dlen ? dlen - 1 : 1,
                   dlen ? res->path : ".", strerror(errno));
        free(hdr.bytes);
        return -1;
    }
    s.t0_ns = lp_now_ns();
    lp_sha256_init(&s.sha);
    int e = fchmod(s.fd, 0644) == 0 ? stream_shard(g, sp, &hdr, &s) : errno;
    if (close(s.fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, res->path) != 0)
        e = errno;
    free(hdr.bytes);
    if (e) {
        unlink(tmp);
        return lp_err_set(err, "split: writing '%s' failed: %s", res->path, strerror(e));
    }
    lp_sha256_final(&s.sha, res->id);
    res->size = s.prog.done;
    res->seconds = since(s.t0_ns);
    s.prog.seconds = res->seconds;
    if (cb)
        cb(&s.prog, ctx);
    return 0;
}

/* ---- the whole split --------------------------------------------------------- */

static int open_source(const char *path, lp_gguf **g, lp_hparams *hp, uint8_t id[LP_SHA256_BYTES],
                       lp_err *err)
{
    if (!(*g = lp_gguf_open(path, err)))
        return -1;
    for (uint64_t i = 0; i < (*g)->n_kv; i++) {
        lp_str k = (*g)->kv[i].key;
        size_t pl = strlen(LP_SHARD_KEY_PREFIX);
        if (k.len >= pl && memcmp(k.ptr, LP_SHARD_KEY_PREFIX, pl) == 0)
            return lp_err_set(err, "split: '%s' is already a shard (it has %.*s); split the "
                              "original model", path, (int)k.len, k.ptr);
    }
    if (lp_hparams_read(*g, hp, err) || check_blocks(*g, hp->n_layer, err) ||
        lp_model_id(*g, id, err))
        return -1;
    return 0;
}

static int make_dir(const char *dir, lp_err *err)
{
    struct stat st;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return lp_err_set(err, "split: cannot create output directory '%s': %s", dir,
                          strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lp_err_set(err, "split: output '%s' is not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return lp_err_set(err, "split: output directory '%s' is not writable: %s", dir,
                          strerror(errno));
    return 0;
}

/* <dir>/<stem>.shard-<i+1>-of-<n>.gguf; -1 if it does not fit. */
static int shard_path(const char *dir, const char *model, int i, int n, char *out, size_t cap)
{
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    size_t stem = strlen(base);
    if (stem > 5 && strcmp(base + stem - 5, ".gguf") == 0)
        stem -= 5;
    int k = snprintf(out, cap, "%s/%.*s.shard-%d-of-%d.gguf", dir, (int)stem, base, i + 1, n);
    return k > 0 && (size_t)k < cap ? 0 : -1;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* the renames, durably; a failure here loses nothing written */
        close(fd);
    }
}

int lp_split_model(const char *model_path, const lp_layer_range *ranges, int n,
                   const char *out_dir, lp_split_progress_fn progress, void *ctx,
                   lp_split_result *out, lp_err *err)
{
    lp_gguf *g = NULL;
    lp_hparams hp;
    uint8_t id[LP_SHA256_BYTES];
    shard_spec sp = {.count = n};
    int done = 0, rc = -1;
    if (n > LP_SPLIT_MAX_SHARDS) {
        lp_err_set(err, "split: at most %d shards", LP_SPLIT_MAX_SHARDS);
        goto end;
    }
    if (open_source(model_path, &g, &hp, id, err) ||
        lp_split_check_ranges(ranges, n, hp.n_layer, err) || make_dir(out_dir, err))
        goto end;
    sp.n_layer = hp.n_layer;
    sp.n_vocab = hp.n_vocab;
    sp.tied = lp_gguf_find_tensor(g, "output.weight") == NULL;
    lp_model_id_hex(id, sp.model_id_hex);
    for (; done < n; done++) {
        lp_split_result *r = &out[done];
        memset(r, 0, sizeof *r);
        sp.index = done;
        r->first = sp.first = ranges[done].first;
        r->last = sp.last = ranges[done].last;
        r->has_embed = sp.has_embed = sp.first == 0;
        r->has_head = sp.has_head = (uint32_t)sp.last == hp.n_layer;
        if (shard_path(out_dir, model_path, done, n, r->path, sizeof r->path)) {
            lp_err_set(err, "split: output path in '%s' is too long", out_dir);
            goto end;
        }
        if (write_shard(g, &sp, r, progress, ctx, err))
            goto end;
    }
    sync_dir(out_dir);
    rc = 0;
end:
    for (int i = 0; rc != 0 && i < done; i++)
        unlink(out[i].path);
    lp_gguf_close(g);
    return rc;
}
