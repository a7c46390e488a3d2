/* quant_mix.h — llama.cpp's model file types (Q4_K_M, Q8_0, ...) and the
 * type its quantizer (llama-quant.cpp, no importance matrix) gives each
 * tensor of a llama or qwen2 model for a file type.
 *
 * A file type is a mix: most weights get its base type, the sensitive ones
 * (attn_v, ffn_down in chosen layers, output.weight) more bits, and a
 * tensor whose rows do not fill whole blocks of the chosen type falls back
 * to one they do. Following the same rules in the same tensor order makes
 * our files carry, tensor by tensor, the types llama.cpp's files carry.
 *
 * Nothing here allocates except where a function says the caller frees. */
#ifndef LP_QUANT_MIX_H
#define LP_QUANT_MIX_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"
#include "quant.h"

/* llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers: what general.file_type holds. */
typedef enum lp_ftype {
    LP_FTYPE_F32 = 0,
    LP_FTYPE_F16 = 1,
    LP_FTYPE_Q4_0 = 2,
    LP_FTYPE_Q4_1 = 3,
    LP_FTYPE_Q8_0 = 7,
    LP_FTYPE_Q5_0 = 8,
    LP_FTYPE_Q5_1 = 9,
    LP_FTYPE_Q2_K = 10,
    LP_FTYPE_Q3_K_S = 11,
    LP_FTYPE_Q3_K_M = 12,
    LP_FTYPE_Q3_K_L = 13,
    LP_FTYPE_Q4_K_S = 14,
    LP_FTYPE_Q4_K_M = 15,
    LP_FTYPE_Q5_K_S = 16,
    LP_FTYPE_Q5_K_M = 17,
    LP_FTYPE_Q6_K = 18,
    LP_FTYPE_BF16 = 32,
} lp_ftype;

/* general.quantization_version as llama.cpp writes it (GGML_QNT_VERSION). */
#define LP_QUANT_VERSION 2

/* The file types we can write, in llama-quantize's listing order:
 * lp_ftype_at(i) for i in [0, lp_ftype_count()). */
int lp_ftype_count(void);
lp_ftype lp_ftype_at(int i);

/* Case-insensitive name ("Q4_K_M", "q8_0"); also llama-quantize's aliases
 * Q3_K, Q4_K, Q5_K (= the _M mixes). -1 if unknown. */
int lp_ftype_parse(const char *name, lp_ftype *out);
const char *lp_ftype_name(lp_ftype ft);     /* "Q4_K_M"; "?" if unknown */
const char *lp_ftype_summary(lp_ftype ft);  /* one line for --help */
lp_type lp_ftype_base(lp_ftype ft);         /* the type most weights get */

/* ggml_n_dims: dimensions up to the last that is not 1 (at least 1). It
 * is what llama.cpp's writer records as a tensor's n_dims. */
int lp_mix_n_dims(const lp_gguf_tensor *t);

/* Whether llama.cpp converts this tensor at all: weights (names ending in
 * "weight") of two or more dimensions, except norms. Others are copied as
 * they are. */
bool lp_mix_converts(const lp_gguf_tensor *t);

/* llama.cpp's tensor order (its loader's map): tensors outside the blocks
 * first, then block 0, 1, ...; by name within each. The rules' layer
 * counters depend on it, and llama.cpp writes the tensors in it.
 * Returns a malloc'd array of g->n_tensors indexes the caller frees, or
 * NULL (out of memory). */
uint64_t *lp_mix_order(const lp_gguf *g);

/* The state of one pass over a model's tensors. */
typedef struct lp_mix {
    lp_ftype ftype;
    int n_layer;
    int n_gqa;            /* heads per kv head (0 if no kv heads) */
    bool is_70b;          /* llama.cpp's LLM_TYPE_70B: attn_v gets more bits */
    bool has_output;      /* else token_embd is the output too (tied) */
    int n_attention_wv;
    int i_attention_wv, i_ffn_down; /* tensors of each kind seen so far */
    int n_chosen;         /* tensors the rules gave a type */
    int n_fallback;       /* of those, how many their rows forced to another */
} lp_mix;

/* What the rules need to know of a model. */
typedef struct lp_mix_facts {
    const char *arch;     /* general.architecture: "llama" or "qwen2" */
    uint32_t n_layer;
    uint32_t n_head, n_head_kv;
    bool has_output;      /* output.weight exists; else it is tied to token_embd */
    int n_attention_wv;   /* attn_v tensors (fused qkv counts too) */
} lp_mix_facts;

/* Starts a pass for a model described by its facts (one being made, as
 * coord synth does, or one read by lp_mix_init). Refuses (-1, err) a file
 * type we do not write, architectures other than llama and qwen2, and an
 * attn_v count that is not the layer count. */
int lp_mix_init_facts(lp_mix *m, lp_ftype ft, const lp_mix_facts *f, lp_err *err);

/* lp_mix_init_facts with the facts read from g. Refuses (-1, err) what it
 * does, and mixtures of experts and shard files. */
int lp_mix_init(lp_mix *m, lp_ftype ft, const lp_gguf *g, lp_err *err);

/* How the choice for one tensor came about, for the user. */
typedef struct lp_mix_choice {
    lp_type type;      /* the type to write */
    lp_type wanted;    /* what the rules picked before the row-length fallback */
    bool fallback;     /* rows are not a multiple of wanted's block */
    bool substituted;  /* llama.cpp would write iq4_nl, which we cannot:
                          q4_0 instead (same size, 4.5 bits per weight) */
} lp_mix_choice;

/* The type for tensor t, a tensor lp_mix_converts accepts, visited in
 * lp_mix_order's order (the layer counters advance). Returns 0, or -1
 * with *err set where llama.cpp refuses too: rows that fit no type of the
 * fallback chain (e.g. Q4_0 with rows not a multiple of 32). */
int lp_mix_choose(lp_mix *m, const lp_gguf_tensor *t, lp_mix_choice *out, lp_err *err);

#endif
