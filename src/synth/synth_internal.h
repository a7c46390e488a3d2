/* synth_internal.h — what the synth_*.c files share: the tensor plan, the
 * block generator, the vocabulary and kv accounting. Not a public API. */
#ifndef LP_SYNTH_INTERNAL_H
#define LP_SYNTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "synth.h"

/* What a tensor's bytes are. */
typedef enum synth_kind {
    SYNTH_MATRIX, /* random weights, std sigma, in any type */
    SYNTH_ONES,   /* norm weights: 1.0 (F32) */
    SYNTH_BIAS,   /* small random F32 */
    SYNTH_ROPE,   /* Llama 3.x frequency factors (F32) */
} synth_kind;

typedef struct synth_tensor {
    char name[LP_GGUF_MAX_NAME];
    int layer;            /* blk.N, or -1 */
    synth_kind kind;
    uint32_t type;        /* ggml type id */
    uint32_t n_dims;
    uint64_t ne[2];
    uint64_t nbytes;
    float sigma;          /* std of one weight (MATRIX, BIAS) */
    uint64_t key;         /* the seed mixed with the tensor's index */
    const float *rope;    /* SYNTH_ROPE: ne[0] factors (the lp_synth's) */
    struct lp_synth *owner;
} synth_tensor;

/* ---- synth_shapes.c ---- */

/* The most tensors a model of n_layer layers has. */
size_t synth_max_tensors(uint32_t n_layer);

/* Every tensor of the shape with n_layer layers, in llama-quantize's order
 * (non-layer tensors, then layer by layer, each group sorted by name), with
 * name, layer, kind, shape and sigma set; type left 0. Returns the count. */
size_t synth_plan_tensors(const lp_synth_shape *sh, uint32_t n_layer, synth_tensor *t);

/* rope_freqs.weight as llama.cpp's convert_hf_to_gguf.py computes it for
 * Llama 3.x (head_dim / 2 values). */
void synth_rope_factors(const lp_synth_shape *sh, float *out);

/* ---- synth_blocks.c ---- */

/* splitmix64's finaliser of a ^ b*odd: independent streams per (a, b). */
uint64_t synth_mix(uint64_t a, uint64_t b);

/* The unit the generator makes at once: one ggml block, or 64 elements of
 * a float type. 0 if the type cannot be generated. At most SYNTH_UNIT_MAX. */
size_t synth_unit_bytes(uint32_t type);
size_t synth_unit_elems(uint32_t type);
#define SYNTH_UNIT_MAX 256

/* One unit of random weights with std about sigma, from the stream `key`. */
void synth_gen_unit(uint32_t type, float sigma, uint64_t key, uint8_t *out);

/* ---- synth_vocab.c ---- */

/* Adds a kv to w and its serialized size to *bytes. */
int synth_put_kv(lp_gguf_writer *w, const lp_gguf_kv *kv, uint64_t *bytes, lp_err *err);

/* The tokenizer.* kvs: a synthetic SentencePiece vocabulary of n_vocab
 * tokens, or those of the GGUF at vocab_path (padded to n_vocab with
 * "[PAD<id>]" tokens, as convert_hf_to_gguf.py pads a model's vocabulary). */
int synth_vocab_add(lp_gguf_writer *w, uint32_t n_vocab, const char *vocab_path,
                    uint64_t *bytes, lp_err *err);

#endif
