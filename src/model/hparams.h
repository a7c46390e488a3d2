/* hparams.h — a llama-family model's hyperparameters as its GGUF states
 * them: what the planner, the quantizer's type rules and `coord inspect`
 * need without binding any weight (model.h does that). */
#ifndef LP_HPARAMS_H
#define LP_HPARAMS_H

#include <stdint.h>

#include "err.h"
#include "gguf.h"

typedef enum lp_arch { LP_ARCH_LLAMA, LP_ARCH_QWEN2 } lp_arch;

/* How RoPE pairs the dimensions of a head: GGUF "normal" rotates adjacent
 * pairs (llama), NeoX rotates dimension i with i + n_rot/2 (qwen2). */
typedef enum lp_rope_mode { LP_ROPE_NORM, LP_ROPE_NEOX } lp_rope_mode;

typedef struct lp_hparams {
    lp_arch arch;
    char arch_name[32];
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_ff;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;  /* per-head size of q and k (= v) */
    uint32_t n_rot;     /* dimensions of each head that RoPE rotates */
    float rms_eps;
    float rope_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    lp_rope_mode rope_mode;
} lp_hparams;

/* Read and check them (cheap: metadata and the tensor index only). A shard
 * file without token_embd (coord split) names the vocabulary size itself. */
int lp_hparams_read(const lp_gguf *g, lp_hparams *hp, lp_err *err);

#endif
