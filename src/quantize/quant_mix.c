/* quant_mix.c — llama.cpp's file types and per-tensor type rules (see
 * quant_mix.h). The rules are those of llama_tensor_get_type in llama.cpp
 * c392e509's llama-quant.cpp, for the file types we write and the
 * architectures we run (llama, qwen2; no falcon, no experts, no imatrix),
 * so the branches for IQ* and falcon are left out. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hparams.h"
#include "quant_mix.h"
#include "shard_info.h"

typedef struct ftype_info {
    const char *name;
    lp_ftype ftype;
    lp_type base;
    const char *summary;
} ftype_info;

/* llama-quantize's listing order; bits per weight are for a 7-8B llama. */
static const ftype_info k_ftypes[] = {
    {"Q4_0", LP_FTYPE_Q4_0, LP_TYPE_Q4_0, "4.5 bits per weight, legacy"},
    {"Q4_1", LP_FTYPE_Q4_1, LP_TYPE_Q4_1, "5.0 bits per weight, legacy"},
    {"Q5_0", LP_FTYPE_Q5_0, LP_TYPE_Q5_0, "5.5 bits per weight, legacy"},
    {"Q5_1", LP_FTYPE_Q5_1, LP_TYPE_Q5_1, "6.0 bits per weight, legacy"},
    {"Q2_K", LP_FTYPE_Q2_K, LP_TYPE_Q2_K, "about 3.0 bits per weight, much quality lost"},
    {"Q3_K_S", LP_FTYPE_Q3_K_S, LP_TYPE_Q3_K, "about 3.5 bits per weight"},
    {"Q3_K_M", LP_FTYPE_Q3_K_M, LP_TYPE_Q3_K, "about 3.9 bits per weight"},
    {"Q3_K_L", LP_FTYPE_Q3_K_L, LP_TYPE_Q3_K, "about 4.2 bits per weight"},
    {"Q4_K_S", LP_FTYPE_Q4_K_S, LP_TYPE_Q4_K, "about 4.6 bits per weight"},
    {"Q4_K_M", LP_FTYPE_Q4_K_M, LP_TYPE_Q4_K, "about 4.9 bits per weight, the usual choice"},
    {"Q5_K_S", LP_FTYPE_Q5_K_S, LP_TYPE_Q5_K, "about 5.5 bits per weight"},
    {"Q5_K_M", LP_FTYPE_Q5_K_M, LP_TYPE_Q5_K, "about 5.7 bits per weight"},
    {"Q6_K", LP_FTYPE_Q6_K, LP_TYPE_Q6_K, "6.6 bits per weight, close to Q8_0"},
    {"Q8_0", LP_FTYPE_Q8_0, LP_TYPE_Q8_0, "8.5 bits per weight, nearly lossless"},
    {"F16", LP_FTYPE_F16, LP_TYPE_F16, "16 bits per weight"},
    {"BF16", LP_FTYPE_BF16, LP_TYPE_BF16, "16 bits per weight, f32's range"},
    {"F32", LP_FTYPE_F32, LP_TYPE_F32, "32 bits per weight"},
};
#define N_FTYPES ((int)(sizeof k_ftypes / sizeof k_ftypes[0]))

/* llama-quantize's aliases: the _M mix of each k-quant family. */
static const struct { const char *alias; lp_ftype ftype; } k_aliases[] = {
    {"Q3_K", LP_FTYPE_Q3_K_M},
    {"Q4_K", LP_FTYPE_Q4_K_M},
    {"Q5_K", LP_FTYPE_Q5_K_M},
};

static const ftype_info *find_ftype(lp_ftype ft)
{
    for (int i = 0; i < N_FTYPES; i++)
        if (k_ftypes[i].ftype == ft)
            return &k_ftypes[i];
    return NULL;
}

int lp_ftype_count(void) { return N_FTYPES; }

lp_ftype lp_ftype_at(int i) { return k_ftypes[i >= 0 && i < N_FTYPES ? i : 0].ftype; }

int lp_ftype_parse(const char *name, lp_ftype *out)
{
    for (int i = 0; i < N_FTYPES; i++)
        if (!strcasecmp(name, k_ftypes[i].name)) {
            *out = k_ftypes[i].ftype;
            return 0;
        }
    for (size_t i = 0; i < sizeof k_aliases / sizeof k_aliases[0]; i++)
        if (!strcasecmp(name, k_aliases[i].alias)) {
            *out = k_aliases[i].ftype;
            return 0;
        }
    return -1;
}

const char *lp_ftype_name(lp_ftype ft)
{
    const ftype_info *f = find_ftype(ft);
    return f ? f->name : "?";
}

const char *lp_ftype_summary(lp_ftype ft)
{
    const ftype_info *f = find_ftype(ft);
    return f ? f->summary : "";
}

lp_type lp_ftype_base(lp_ftype ft)
{
    const ftype_info *f = find_ftype(ft);
    return f ? f->base : LP_TYPE_F32;
}

/* ---- which tensors, in which order -------------------------------------- */

/* Tensor names are shorter than LP_GGUF_MAX_NAME (the reader checks). */
static void name_of(const lp_gguf_tensor *t, char out[LP_GGUF_MAX_NAME])
{
    size_t n = t->name.len < LP_GGUF_MAX_NAME - 1 ? (size_t)t->name.len : LP_GGUF_MAX_NAME - 1;
    memcpy(out, t->name.ptr, n);
    out[n] = 0;
}

int lp_mix_n_dims(const lp_gguf_tensor *t)
{
    for (int i = LP_GGUF_MAX_DIMS - 1; i >= 1; i--)
        if (i < (int)t->n_dims && t->ne[i] > 1)
            return i + 1;
    return 1;
}

bool lp_mix_converts(const lp_gguf_tensor *t)
{
    /* Small tensors llama.cpp keeps as they are, whatever their shape. */
    static const char *const keep[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight",
        "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
    };
    char nm[LP_GGUF_MAX_NAME];
    name_of(t, nm);
    size_t len = strlen(nm);
    if (len < 6 || strcmp(nm + len - 6, "weight") != 0 || lp_mix_n_dims(t) < 2)
        return false;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (strstr(nm, keep[i]))
            return false;
    return strcmp(nm, "position_embd.weight") != 0 && strcmp(nm, "token_types.weight") != 0;
}

typedef struct order_key {
    long layer; /* -1 outside the blocks */
    lp_str name;
    uint64_t index;
} order_key;

/* The layer as llama.cpp's sscanf(name, "blk.%d.") reads it. */
static long layer_of(lp_str s)
{
    const char *p = s.ptr, *end = s.ptr + s.len;
    if (s.len < 5 || memcmp(p, "blk.", 4) != 0)
        return -1;
    p += 4;
    while (p < end && isspace((unsigned char)*p))
        p++;
    bool neg = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    if (p == end || !isdigit((unsigned char)*p))
        return -1;
    long v = 0;
    for (; p < end && isdigit((unsigned char)*p); p++)
        v = v < 100000000 ? v * 10 + (*p - '0') : v; /* layers never get near */
    return neg ? -v : v;
}

static int cmp_key(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    uint64_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, (size_t)n);
    if (c)
        return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

uint64_t *lp_mix_order(const lp_gguf *g)
{
    size_t n = (size_t)g->n_tensors;
    order_key *k = malloc((n ? n : 1) * sizeof *k);
    uint64_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!k || !idx) {
        free(k);
        free(idx);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (order_key){layer_of(g->tensors[i].name), g->tensors[i].name, i};
    qsort(k, n, sizeof *k, cmp_key);
    for (size_t i = 0; i < n; i++)
        idx[i] = k[i].index;
    free(k);
    return idx;
}

/* ---- the model facts the rules read ------------------------------------- */

static int count_attention_wv(const lp_gguf *g)
{
    int n = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        char nm[LP_GGUF_MAX_NAME];
        name_of(&g->tensors[i], nm);
        n += strstr(nm, "attn_v.weight") || strstr(nm, "attn_qkv.weight") ||
             strstr(nm, "attn_kv_b.weight");
    }
    return n;
}

static int refuse_ftype(lp_ftype ft, lp_err *err)
{
    return lp_err_set(err, "quantize: file type %d is not one we write", (int)ft);
}

int lp_mix_init_facts(lp_mix *m, lp_ftype ft, const lp_mix_facts *f, lp_err *err)
{
    memset(m, 0, sizeof *m);
    if (!find_ftype(ft))
        return refuse_ftype(ft, err);
    const bool qwen2 = !strcmp(f->arch, "qwen2");
    if (!qwen2 && strcmp(f->arch, "llama") != 0)
        return lp_err_set(err, "quantize: architecture '%s' is not supported (llama, qwen2 are)",
                          f->arch);
    m->ftype = ft;
    m->n_layer = (int)f->n_layer;
    m->n_gqa = f->n_head_kv ? (int)(f->n_head / f->n_head_kv) : 0;
    /* llama.cpp's LLM_TYPE_70B: every 80-layer qwen2, and an 80-layer llama
     * with grouped kv heads (without, it is the 65B). */
    m->is_70b = f->n_layer == 80 && (qwen2 || f->n_head != f->n_head_kv);
    m->has_output = f->has_output;
    m->n_attention_wv = f->n_attention_wv;
    /* llama.cpp asserts this: the attn_v mixes count layers by it. */
    if (f->n_head_kv && m->n_attention_wv != m->n_layer)
        return lp_err_set(err, "quantize: the model has %d attn_v tensors for %d layers",
                          m->n_attention_wv, m->n_layer);
    return 0;
}

int lp_mix_init(lp_mix *m, lp_ftype ft, const lp_gguf *g, lp_err *err)
{
    memset(m, 0, sizeof *m);
    if (!find_ftype(ft))
        return refuse_ftype(ft, err);
    lp_hparams hp;
    lp_shard_info si;
    if (lp_hparams_read(g, &hp, err) != 0 || lp_shard_info_read(g, &si, err) != 0)
        return -1;
    if (si.is_shard)
        return lp_err_set(err, "quantize: this is a shard file (coord split) holding layers "
                          "%u-%u only: quantize the whole model, then split it", si.first,
                          si.last);
    char key[64];
    uint32_t n_expert = 0;
    snprintf(key, sizeof key, "%s.expert_count", hp.arch_name);
    if (lp_gguf_get_u32(g, key, &n_expert) == 0 && n_expert > 1)
        return lp_err_set(err, "quantize: mixture-of-experts models (%u experts) are not "
                          "supported", n_expert);
    const lp_mix_facts f = {.arch = hp.arch_name, .n_layer = hp.n_layer, .n_head = hp.n_head,
                            .n_head_kv = hp.n_head_kv,
                            .has_output = lp_gguf_find_tensor(g, "output.weight") != NULL,
                            .n_attention_wv = count_attention_wv(g)};
    return lp_mix_init_facts(m, ft, &f, err);
}

/* ---- the rules ------------------------------------------------------------ */

/* The layers that get more bits in the _M mixes: the first and last
 * eighth, and every third one between. */
static bool use_more_bits(int i_layer, int n_layer)
{
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

static lp_type attn_v_type(lp_mix *m, lp_type t)
{
    lp_ftype ft = m->ftype;
    int i = m->i_attention_wv++, n = m->n_attention_wv;
    if (ft == LP_FTYPE_Q2_K)
        t = m->n_gqa >= 4 ? LP_TYPE_Q4_K : LP_TYPE_Q3_K;
    else if (ft == LP_FTYPE_Q3_K_M)
        t = i < 2 ? LP_TYPE_Q5_K : LP_TYPE_Q4_K;
    else if (ft == LP_FTYPE_Q3_K_L)
        t = LP_TYPE_Q5_K;
    else if ((ft == LP_FTYPE_Q4_K_M || ft == LP_FTYPE_Q5_K_M) && use_more_bits(i, n))
        t = LP_TYPE_Q6_K;
    else if (ft == LP_FTYPE_Q4_K_S && i < 4)
        t = LP_TYPE_Q5_K;
    /* A 70B's attn_v is 8x smaller than attn_q (8 heads share it), so
     * more bits there cost little. */
    if (m->is_70b && (t == LP_TYPE_Q3_K || t == LP_TYPE_Q4_K))
        t = LP_TYPE_Q5_K;
    return t;
}

static lp_type ffn_down_type(lp_mix *m, lp_type t)
{
    lp_ftype ft = m->ftype;
    int i = m->i_ffn_down++, n = m->n_layer;
    if (ft == LP_FTYPE_Q2_K)
        t = LP_TYPE_Q3_K;
    else if (ft == LP_FTYPE_Q3_K_M)
        t = i < n / 16 ? LP_TYPE_Q5_K : LP_TYPE_Q4_K;
    else if (ft == LP_FTYPE_Q3_K_L)
        t = LP_TYPE_Q5_K;
    else if ((ft == LP_FTYPE_Q4_K_M || ft == LP_FTYPE_Q5_K_M) && use_more_bits(i, n))
        t = LP_TYPE_Q6_K;
    else if (ft == LP_FTYPE_Q4_K_S && i < n / 8)
        t = LP_TYPE_Q5_K;
    return t;
}

static lp_type attn_output_type(lp_ftype ft, lp_type t)
{
    return ft == LP_FTYPE_Q2_K ? LP_TYPE_Q3_K
           : ft == LP_FTYPE_Q3_K_M ? LP_TYPE_Q4_K
           : ft == LP_FTYPE_Q3_K_L ? LP_TYPE_Q5_K : t;
}

static lp_type attn_qkv_type(lp_ftype ft, lp_type t)
{
    return ft == LP_FTYPE_Q3_K_M || ft == LP_FTYPE_Q3_K_L ? LP_TYPE_Q4_K
           : ft == LP_FTYPE_Q4_K_M ? LP_TYPE_Q5_K
           : ft == LP_FTYPE_Q5_K_M ? LP_TYPE_Q6_K : t;
}

static int64_t blck(lp_type t)
{
    const lp_type_traits *tt = lp_type_traits_get((uint32_t)t);
    return tt ? tt->blck_size : 1;
}

/* The rules proper, before the row-length check. */
static lp_type rule_type(lp_mix *m, const char *nm, int64_t nx)
{
    lp_type t = lp_ftype_base(m->ftype);
    /* The output matrix (or the embedding doubling as it) decides every
     * logit: Q6_K unless the file is Q8_0, Q8_0 if rows don't fit t. */
    if (!strcmp(nm, "output.weight") || (!m->has_output && !strcmp(nm, "token_embd.weight")))
        return nx % blck(t) != 0 ? LP_TYPE_Q8_0 : t != LP_TYPE_Q8_0 ? LP_TYPE_Q6_K : t;
    if (!strcmp(nm, "token_embd.weight"))
        return t;
    if (strstr(nm, "attn_v.weight"))
        return attn_v_type(m, t);
    if (strstr(nm, "attn_k.weight") || strstr(nm, "attn_q.weight"))
        return t;
    if (strstr(nm, "ffn_down"))
        return ffn_down_type(m, t);
    if (strstr(nm, "attn_output.weight"))
        return attn_output_type(m->ftype, t);
    if (strstr(nm, "attn_qkv.weight"))
        return attn_qkv_type(m->ftype, t);
    return t;
}

/* llama.cpp's fallback for rows that are not whole blocks of t. */
static int fallback(const char *nm, int64_t nx, lp_mix_choice *c, lp_err *err)
{
    switch (c->wanted) {
    case LP_TYPE_Q2_K:
    case LP_TYPE_Q3_K:
        c->type = LP_TYPE_Q4_0; /* llama.cpp: iq4_nl, the same 32-element blocks */
        c->substituted = true;
        break;
    case LP_TYPE_Q4_K: c->type = LP_TYPE_Q5_0; break;
    case LP_TYPE_Q5_K: c->type = LP_TYPE_Q5_1; break;
    case LP_TYPE_Q6_K: c->type = LP_TYPE_Q8_0; break;
    default:
        return lp_err_set(err, "quantize: tensor '%s' has rows of %lld values, not a multiple of "
                          "%s's %lld (llama.cpp refuses this too): choose a k-quant type",
                          nm, (long long)nx, lp_type_traits_get(c->wanted)->name,
                          (long long)blck(c->wanted));
    }
    if (nx % blck(c->type) != 0) {
        c->type = LP_TYPE_F16;
        c->substituted = false;
    }
    return 0;
}

int lp_mix_choose(lp_mix *m, const lp_gguf_tensor *t, lp_mix_choice *out, lp_err *err)
{
    char nm[LP_GGUF_MAX_NAME];
    name_of(t, nm);
    lp_type base = lp_ftype_base(m->ftype);
    *out = (lp_mix_choice){.type = base, .wanted = base};
    /* Float targets take no mix: every converted tensor gets the type. */
    if (base == LP_TYPE_F32 || base == LP_TYPE_F16 || base == LP_TYPE_BF16)
        return 0;
    m->n_chosen++;
    int64_t nx = (int64_t)t->ne[0];
    out->wanted = out->type = rule_type(m, nm, nx);
    if (nx % blck(out->wanted) == 0)
        return 0;
    out->fallback = true;
    m->n_fallback++;
    return fallback(nm, nx, out, err);
}
