/* tokenizer_vocab.c — load a tokenizer from GGUF metadata and validate it
 * (the file is hostile until checked), with llama.cpp's defaults; plus
 * the accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define KEY_PREFIX "tokenizer.ggml."

/* ---- typed metadata reads that tell "absent" from "wrong" ------------- */

static int key_str(const lp_gguf *g, const char *key, lp_str *out, bool *found, lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv)
        return 0;
    if (kv->val.type != LP_GGUF_STRING)
        return lp_err_set(err, "%s: expected a string, found %s", key,
                          lp_gguf_type_name(kv->val.type));
    *out = kv->val.v.str;
    return 0;
}

static int key_bool(const lp_gguf *g, const char *key, bool *out, lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, key);
    if (!kv)
        return 0;
    if (kv->val.type != LP_GGUF_BOOL)
        return lp_err_set(err, "%s: expected a bool, found %s", key,
                          lp_gguf_type_name(kv->val.type));
    *out = kv->val.v.u64 != 0;
    return 0;
}

/* An id key: any integer type; values past the vocabulary (0xFFFFFFFF is
 * common for "none") leave *id as it was, as llama.cpp does. */
static int key_id(const lp_gguf *g, const char *key, uint32_t n_vocab, lp_token *id, lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, key);
    if (!kv)
        return 0;
    lp_gguf_type ty = kv->val.type;
    bool is_signed = ty == LP_GGUF_INT8 || ty == LP_GGUF_INT16 || ty == LP_GGUF_INT32 ||
                     ty == LP_GGUF_INT64;
    bool is_unsigned = ty == LP_GGUF_UINT8 || ty == LP_GGUF_UINT16 || ty == LP_GGUF_UINT32 ||
                       ty == LP_GGUF_UINT64;
    if (!is_signed && !is_unsigned)
        return lp_err_set(err, "%s: expected an integer token id, found %s", key,
                          lp_gguf_type_name(ty));
    if (is_signed ? (kv->val.v.i64 >= 0 && (uint64_t)kv->val.v.i64 < n_vocab)
                  : kv->val.v.u64 < n_vocab)
        *id = (lp_token)(is_signed ? kv->val.v.i64 : (int64_t)kv->val.v.u64);
    return 0;
}

/* A per-token array: absent is fine (found = false); present must have one
 * element per token and one of the allowed element types. */
static int key_tok_arr(const lp_gguf *g, const char *key, uint32_t n, lp_gguf_type t1,
                       lp_gguf_type t2, lp_gguf_arr *out, bool *found, lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, key);
    *found = kv != NULL;
    if (!kv)
        return 0;
    if (kv->val.type != LP_GGUF_ARRAY ||
        (kv->val.v.arr.elem_type != t1 && kv->val.v.arr.elem_type != t2))
        return lp_err_set(err, "%s: expected an array of %s, found %s", key,
                          lp_gguf_type_name(t1), lp_gguf_type_name(kv->val.type));
    if (kv->val.v.arr.n != n)
        return lp_err_set(err, "%s: %llu entries for %u tokens", key,
                          (unsigned long long)kv->val.v.arr.n, n);
    *out = kv->val.v.arr;
    return 0;
}

/* ---- the parts of a load --------------------------------------------- */

static int load_kind(lp_tokenizer *t, const lp_gguf *g, lp_err *err)
{
    lp_str model, pre = {"", 0};
    bool found, has_pre;
    if (key_str(g, KEY_PREFIX "model", &model, &found, err))
        return -1;
    if (!found)
        return lp_err_set(err, "no tokenizer in this GGUF (tokenizer.ggml.model is missing)");
    if (key_str(g, KEY_PREFIX "pre", &pre, &has_pre, err))
        return -1;
    if (pre.len >= sizeof t->pre_name)
        return lp_err_set(err, "tokenizer.ggml.pre: %llu bytes is too long",
                          (unsigned long long)pre.len);
    memcpy(t->pre_name, pre.ptr, pre.len);
    t->pre_name[pre.len] = 0;
    if (strlen(t->pre_name) != pre.len)
        return lp_err_set(err, "tokenizer.ggml.pre: contains a NUL byte");

    if (lp_str_eq(model, "llama")) {
        t->kind = LP_TOK_SPM;
        t->pre = LP_PRE_DEFAULT;
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_space_prefix = true;
        t->add_bos = true;
        return 0;
    }
    if (!lp_str_eq(model, "gpt2"))
        return lp_err_set(err, "tokenizer.ggml.model '%.*s' is not supported (only "
                          "'llama' (SentencePiece) and 'gpt2' (byte-level BPE))",
                          (int)(model.len > 64 ? 64 : model.len), model.ptr);
    t->kind = LP_TOK_BPE;
    t->bos = 11, t->eos = 11; /* llama.cpp's BPE defaults, odd as they are */
    t->clean_spaces = true;
    static const char *const llama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3",
        "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano", NULL};
    static const char *const qwen2[] = {"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2",
        "megrez", "stablelm2", "hunyuan", "solar-open", NULL};
    static const char *const gpt2[] = {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat",
        "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4", "mpt",
        "olmo", "jais", "trillion", "granite-docling", NULL};
    const char *p = t->pre_name;
    for (int i = 0; llama3[i]; i++)
        if (!strcmp(p, llama3[i])) {
            t->pre = LP_PRE_LLAMA3;
            t->ignore_merges = t->add_bos = true;
            return 0;
        }
    for (int i = 0; qwen2[i]; i++)
        if (!strcmp(p, qwen2[i])) {
            t->pre = LP_PRE_QWEN2;
            /* llama.cpp drops clean_spaces for all but these two */
            t->clean_spaces = !strcmp(p, "megrez") || !strcmp(p, "stablelm2");
            return 0;
        }
    for (int i = 0; gpt2[i]; i++)
        if (!strcmp(p, gpt2[i])) {
            t->pre = LP_PRE_GPT2;
            t->clean_spaces = strcmp(p, "trillion") && strcmp(p, "granite-docling");
            return 0;
        }
    if (p[0] == 0 || !strcmp(p, "default")) {
        t->pre = LP_PRE_DEFAULT;
        return 0;
    }
    return lp_err_set(err, "tokenizer.ggml.pre '%s' is not supported (llama-bpe, qwen2, "
                      "gpt-2 and default splits are)", p);
}

static int load_tokens(lp_tokenizer *t, const lp_gguf *g, lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, KEY_PREFIX "tokens");
    if (!kv)
        return lp_err_set(err, "tokenizer.ggml.tokens is missing");
    if (kv->val.type != LP_GGUF_ARRAY || kv->val.v.arr.elem_type != LP_GGUF_STRING)
        return lp_err_set(err, "tokenizer.ggml.tokens: expected an array of strings");
    const lp_gguf_arr *a = &kv->val.v.arr;
    if (a->n == 0 || a->n > INT32_MAX)
        return lp_err_set(err, "tokenizer.ggml.tokens: %llu tokens",
                          (unsigned long long)a->n);
    uint32_t n = (uint32_t)a->n;
    t->n_vocab = n;
    t->text = calloc(n, sizeof *t->text);
    t->text_len = calloc(n, sizeof *t->text_len);
    t->score = calloc(n, sizeof *t->score);
    t->attr = calloc(n, sizeof *t->attr);
    t->eog = calloc(n, 1);
    if (!t->text || !t->text_len || !t->score || !t->attr || !t->eog)
        return lp_err_set(err, "tokenizer: out of memory for %u tokens", n);

    /* llama.cpp names empty tokens "[EMPTY_<id>]"; count them first */
    size_t n_empty = 0;
    for (uint32_t i = 0; i < n; i++) {
        lp_str s;
        if (lp_gguf_arr_str(a, i, &s))
            return lp_err_set(err, "tokenizer.ggml.tokens[%u]: unreadable", i);
        if (s.len > UINT32_MAX / 2)
            return lp_err_set(err, "tokenizer.ggml.tokens[%u]: %llu bytes", i,
                              (unsigned long long)s.len);
        t->text[i] = s.ptr;
        t->text_len[i] = (uint32_t)s.len;
        n_empty += s.len == 0;
    }
    for (uint32_t i = 0; i < n; i++)
        t->max_text_len = t->text_len[i] > t->max_text_len ? t->text_len[i] : t->max_text_len;
    if (n_empty) {
        t->empty_arena = malloc(n_empty * 20);
        if (!t->empty_arena)
            return lp_err_set(err, "tokenizer: out of memory");
        char *w = t->empty_arena;
        for (uint32_t i = 0; i < n; i++)
            if (t->text_len[i] == 0) {
                int k = snprintf(w, 20, "[EMPTY_%u]", i);
                t->text[i] = w;
                t->text_len[i] = (uint32_t)k;
                w += k + 1;
            }
    }
    return 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static int load_scores_types(lp_tokenizer *t, const lp_gguf *g, lp_err *err)
{
    lp_gguf_arr a;
    bool found;
    if (key_tok_arr(g, KEY_PREFIX "scores", t->n_vocab, LP_GGUF_FLOAT32, LP_GGUF_INT32, &a,
                    &found, err))
        return -1;
    for (uint32_t i = 0; found && i < t->n_vocab; i++) {
        int64_t v;
        if (a.elem_type == LP_GGUF_FLOAT32 ? lp_gguf_arr_f32(&a, i, &t->score[i])
                                           : lp_gguf_arr_i64(&a, i, &v))
            return lp_err_set(err, "tokenizer.ggml.scores[%u]: unreadable", i);
        if (a.elem_type == LP_GGUF_INT32)
            t->score[i] = (float)v;
    }
    if (key_tok_arr(g, KEY_PREFIX "token_type", t->n_vocab, LP_GGUF_INT32, LP_GGUF_INT32, &a,
                    &found, err))
        return -1;
    static const uint16_t type_attr[7] = {LP_TOKATTR_UNDEFINED, LP_TOKATTR_NORMAL,
        LP_TOKATTR_UNKNOWN, LP_TOKATTR_CONTROL, LP_TOKATTR_USER_DEFINED, LP_TOKATTR_UNUSED,
        LP_TOKATTR_BYTE};
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        int64_t ty = 1;
        if (found && lp_gguf_arr_i64(&a, i, &ty))
            return lp_err_set(err, "tokenizer.ggml.token_type[%u]: unreadable", i);
        t->attr[i] = ty >= 0 && ty <= 6 ? type_attr[ty] : LP_TOKATTR_UNDEFINED;
        /* a byte token must say which byte: "<0xHH>" */
        const char *s = t->text[i];
        if (t->attr[i] == LP_TOKATTR_BYTE &&
            !(t->text_len[i] == 6 && !memcmp(s, "<0x", 3) && is_hex(s[3]) && is_hex(s[4]) &&
              s[5] == '>'))
            return lp_err_set(err, "tokenizer.ggml.token_type[%u]: a byte token, but its "
                              "text is not <0xHH>", i);
    }
    return 0;
}

static int load_merges(lp_tokenizer *t, const lp_gguf *g, lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, KEY_PREFIX "merges");
    if (!kv)
        return t->kind == LP_TOK_BPE
            ? lp_err_set(err, "tokenizer.ggml.merges is missing (a gpt2 tokenizer needs it)")
            : 0;
    if (kv->val.type != LP_GGUF_ARRAY || kv->val.v.arr.elem_type != LP_GGUF_STRING)
        return lp_err_set(err, "tokenizer.ggml.merges: expected an array of strings");
    const lp_gguf_arr *a = &kv->val.v.arr;
    if (a->n > INT32_MAX)
        return lp_err_set(err, "tokenizer.ggml.merges: %llu merges", (unsigned long long)a->n);
    t->n_merges = (uint32_t)a->n;
    t->merges = calloc(t->n_merges ? t->n_merges : 1, sizeof *t->merges);
    if (!t->merges)
        return lp_err_set(err, "tokenizer: out of memory for merges");
    for (uint32_t i = 0; i < t->n_merges; i++) {
        lp_str s;
        if (lp_gguf_arr_str(a, i, &s) || s.len > UINT32_MAX / 2)
            return lp_err_set(err, "tokenizer.ggml.merges[%u]: unreadable", i);
        /* "left right": llama.cpp splits at the first space after byte 0 */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp || sp + 1 == s.ptr + s.len)
            return lp_err_set(err, "tokenizer.ggml.merges[%u]: not \"left right\"", i);
        t->merges[i] = (lp_merge){s.ptr, sp + 1, (uint32_t)(sp - s.ptr),
                                  (uint32_t)(s.ptr + s.len - sp - 1)};
    }
    return lp_mergemap_build(t, err);
}

static int load_flags_ids(lp_tokenizer *t, const lp_gguf *g, lp_err *err)
{
    if (key_bool(g, KEY_PREFIX "add_space_prefix", &t->add_space_prefix, err) ||
        key_bool(g, KEY_PREFIX "add_bos_token", &t->add_bos, err) ||
        key_bool(g, KEY_PREFIX "add_eos_token", &t->add_eos, err))
        return -1;
    struct { const char *key; lp_token *id; } ids[] = {
        {KEY_PREFIX "bos_token_id", &t->bos}, {KEY_PREFIX "eos_token_id", &t->eos},
        {KEY_PREFIX "eot_token_id", &t->eot}, {KEY_PREFIX "eom_token_id", &t->eom},
        {KEY_PREFIX "unknown_token_id", &t->unk}, {KEY_PREFIX "seperator_token_id", &t->sep},
        {KEY_PREFIX "padding_token_id", &t->pad},
        {KEY_PREFIX "fim_pre_token_id", &t->fim_pre}, {KEY_PREFIX "fim_suf_token_id", &t->fim_suf},
        {KEY_PREFIX "fim_mid_token_id", &t->fim_mid}, {KEY_PREFIX "fim_pad_token_id", &t->fim_pad},
        {KEY_PREFIX "fim_rep_token_id", &t->fim_rep}, {KEY_PREFIX "fim_sep_token_id", &t->fim_sep},
        {KEY_PREFIX "prefix_token_id", &t->fim_pre}, {KEY_PREFIX "suffix_token_id", &t->fim_suf},
        {KEY_PREFIX "middle_token_id", &t->fim_mid},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (*ids[i].id >= (lp_token)t->n_vocab) /* a default past a small vocab */
            *ids[i].id = LP_TOKEN_NULL;
        if (key_id(g, ids[i].key, t->n_vocab, ids[i].id, err))
            return -1;
    }
    if (t->add_bos && t->bos == LP_TOKEN_NULL)
        return lp_err_set(err, "tokenizer.ggml.add_bos_token is true, but there is no BOS token");
    if (t->add_eos && t->eos == LP_TOKEN_NULL)
        return lp_err_set(err, "tokenizer.ggml.add_eos_token is true, but there is no EOS token");
    return 0;
}

/* SPM byte fallback: "<0xNN>", else the byte itself as a token. */
static void build_byte_tokens(lp_tokenizer *t)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        char raw = (char)b;
        lp_token id = lp_tok_lookup(t, name, 6);
        t->byte_tok[b] = id != LP_TOKEN_NULL ? id : lp_tok_lookup(t, &raw, 1);
    }
}

static void find_newline(lp_tokenizer *t)
{
    if (t->kind == LP_TOK_SPM) {
        t->nl = t->byte_tok['\n'] != LP_TOKEN_NULL ? t->byte_tok['\n'] : t->pad;
        return;
    }
    lp_token *ids = NULL;
    size_t n = 0;
    t->nl = lp_tokenize(t, "\n", 1, false, false, &ids, &n, NULL) == 0 && n ? ids[0] : t->pad;
    free(ids);
}

lp_tokenizer *lp_tokenizer_load(const lp_gguf *g, lp_err *err)
{
    lp_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        lp_err_set(err, "tokenizer: out of memory");
        return NULL;
    }
    t->bos = t->eos = t->eot = t->eom = t->unk = t->sep = t->pad = t->nl = LP_TOKEN_NULL;
    t->fim_pre = t->fim_suf = t->fim_mid = LP_TOKEN_NULL;
    t->fim_pad = t->fim_rep = t->fim_sep = LP_TOKEN_NULL;
    if (load_kind(t, g, err) || load_tokens(t, g, err) || load_scores_types(t, g, err) ||
        lp_tokmap_build(t, err) || load_merges(t, g, err) || load_flags_ids(t, g, err) ||
        lp_tok_specials_finish(t, err) || lp_tok_build_pieces(t, err)) {
        lp_tokenizer_free(t);
        return NULL;
    }
    build_byte_tokens(t);
    find_newline(t);
    return t;
}

void lp_tokenizer_free(lp_tokenizer *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->text_len);
    free(t->score);
    free(t->attr);
    free(t->eog);
    lp_strmap_free(&t->tokmap);
    free(t->merges);
    lp_strmap_free(&t->mergemap);
    free(t->special);
    free(t->piece_buf);
    free(t->piece_off);
    free(t->empty_arena);
    free(t);
}

/* ---- accessors ------------------------------------------------------- */

lp_tok_kind lp_tokenizer_kind(const lp_tokenizer *t) { return t->kind; }
uint32_t lp_tokenizer_n_vocab(const lp_tokenizer *t) { return t->n_vocab; }
lp_token lp_tokenizer_bos(const lp_tokenizer *t) { return t->bos; }
lp_token lp_tokenizer_eos(const lp_tokenizer *t) { return t->eos; }
lp_token lp_tokenizer_eot(const lp_tokenizer *t) { return t->eot; }
lp_token lp_tokenizer_pad(const lp_tokenizer *t) { return t->pad; }
lp_token lp_tokenizer_unk(const lp_tokenizer *t) { return t->unk; }
lp_token lp_tokenizer_nl(const lp_tokenizer *t) { return t->nl; }
bool lp_tokenizer_add_bos(const lp_tokenizer *t) { return t->add_bos; }
bool lp_tokenizer_add_eos(const lp_tokenizer *t) { return t->add_eos; }
const char *lp_tokenizer_pre_name(const lp_tokenizer *t) { return t->pre_name; }

size_t lp_tokenizer_max_token_bytes(const lp_tokenizer *t)
{
    return t->max_text_len > 4 ? t->max_text_len : 4;
}

static bool in_range(const lp_tokenizer *t, lp_token id)
{
    return id >= 0 && (uint32_t)id < t->n_vocab;
}

bool lp_tokenizer_is_eog(const lp_tokenizer *t, lp_token id)
{
    return in_range(t, id) && t->eog[id];
}

const char *lp_tokenizer_text(const lp_tokenizer *t, lp_token id, size_t *len)
{
    if (!in_range(t, id)) {
        *len = 0;
        return NULL;
    }
    *len = t->text_len[id];
    return t->text[id];
}

uint32_t lp_tokenizer_attr(const lp_tokenizer *t, lp_token id)
{
    return in_range(t, id) ? t->attr[id] : LP_TOKATTR_UNDEFINED;
}

float lp_tokenizer_score(const lp_tokenizer *t, lp_token id)
{
    return in_range(t, id) ? t->score[id] : 0.0f;
}

lp_token lp_tokenizer_find(const lp_tokenizer *t, const char *s, size_t len)
{
    return lp_tok_lookup(t, s, len);
}
