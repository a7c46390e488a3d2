/* synth.h — random-weight models of real shapes (coord synth).
 *
 * A synth model has the tensors, shapes and metadata of a real model (Llama
 * 3.x, Qwen2.5) but random weights of a trained model's magnitudes, written
 * directly in the target type: quantized blocks are drawn at random (every
 * block valid, dequantizing to about N(0, 1/n_in) per weight), so a 40 GB
 * model streams to disk as fast as the disk takes it. Benchmarks can then
 * run large shapes without downloading anything.
 *
 * Every byte is a function of (seed, tensor, block): the same seed gives the
 * same file whatever the thread count.
 *
 * Ownership: lp_synth_new returns an lp_synth the caller owns and frees with
 * lp_synth_free. Shapes are static (never freed). */
#ifndef LP_SYNTH_H
#define LP_SYNTH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "quant_mix.h"

typedef struct lp_synth_shape {
    const char *name; /* "llama3-8b" */
    const char *desc; /* the real model it copies */
    const char *arch; /* "llama" or "qwen2" */
    uint32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
    float rope_base, rms_eps;
    bool tied;     /* no output.weight: the head is token_embd */
    bool qkv_bias; /* attn_{q,k,v}.bias (qwen2) */
    bool head_dim_kv; /* write attention.key_length/value_length (config has head_dim) */
    /* Llama 3.x rope scaling (rope_freqs.weight); factor 0 = none */
    float rope_factor, rope_low, rope_high;
    uint32_t rope_orig_ctx;
} lp_synth_shape;

/* The i-th shape (0, 1, ...); NULL past the last. */
const lp_synth_shape *lp_synth_shape_at(int i);
/* By name; NULL if unknown. */
const lp_synth_shape *lp_synth_shape_find(const char *name);

typedef void (*lp_synth_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct lp_synth_opts {
    const lp_synth_shape *shape;
    lp_ftype ftype;         /* any quant_mix.h lists */
    uint64_t seed;
    const char *vocab_path; /* copy tokenizer.* from this GGUF; NULL = synthetic */
    uint32_t n_layer;       /* 0 = the shape's (fewer/more for quick tests) */
    int n_threads;          /* >= 1 */
    lp_synth_progress_fn progress; /* called on the writing thread; may be NULL */
    void *progress_ctx;
    /* When non-NULL and set non-zero (e.g. by SIGINT), the write stops and
     * leaves no file. */
    const volatile sig_atomic_t *cancel;
} lp_synth_opts;

typedef struct lp_synth lp_synth;

/* Plans the file: metadata, vocabulary and every tensor's name, shape and
 * type (as llama.cpp's llama-quantize would choose them for the file type).
 * Cheap: no weights are made until lp_synth_write. */
lp_synth *lp_synth_new(const lp_synth_opts *o, lp_err *err);
void lp_synth_free(lp_synth *s);

typedef struct lp_synth_tensor_info {
    const char *name; /* valid until lp_synth_free */
    uint32_t type;    /* ggml type id */
    uint32_t n_dims;
    uint64_t ne[2];
    uint64_t nbytes;
} lp_synth_tensor_info;

size_t lp_synth_n_tensors(const lp_synth *s);
void lp_synth_tensor(const lp_synth *s, size_t i, lp_synth_tensor_info *out);

typedef struct lp_synth_totals {
    uint64_t n_params;     /* elements of all tensors */
    uint64_t tensor_bytes; /* their data, unpadded */
    uint64_t file_bytes;   /* the exact size of the file lp_synth_write makes */
    double bpw;            /* tensor_bytes * 8 / n_params, as llama.cpp's BPW */
} lp_synth_totals;

void lp_synth_totals_get(const lp_synth *s, lp_synth_totals *out);

/* Whether file_bytes fit where `path` would go: the free space of its
 * directory (statvfs) and this process's file size limit (RLIMIT_FSIZE).
 * 0, or -1 with *err saying what is short. */
int lp_synth_check_space(const lp_synth *s, const char *path, lp_err *err);

/* Writes the file (to a temporary name, renamed when complete: a failure
 * or a cancel leaves nothing at `path`). */
int lp_synth_write(lp_synth *s, const char *path, lp_err *err);

#endif
