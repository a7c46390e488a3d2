/* synth_vocab.c — the tokenizer of a synth model: a synthetic SentencePiece
 * vocabulary, or the tokenizer.* kvs of a real vocabulary file; and the kv
 * size accounting that lets a dry run give the exact file size. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

static uint64_t value_size(const lp_gguf_value *v)
{
    switch (v->type) {
    case LP_GGUF_UINT8: case LP_GGUF_INT8: case LP_GGUF_BOOL: return 1;
    case LP_GGUF_UINT16: case LP_GGUF_INT16: return 2;
    case LP_GGUF_UINT32: case LP_GGUF_INT32: case LP_GGUF_FLOAT32: return 4;
    case LP_GGUF_UINT64: case LP_GGUF_INT64: case LP_GGUF_FLOAT64: return 8;
    case LP_GGUF_STRING: return 8 + v->v.str.len;
    case LP_GGUF_ARRAY: return 12 + v->v.arr.nbytes; /* elem type, count, elems */
    default: return 0;
    }
}

/* As the writer lays a kv out: key length, key, type tag, value. */
int synth_put_kv(lp_gguf_writer *w, const lp_gguf_kv *kv, uint64_t *bytes, lp_err *err)
{
    if (lp_gguf_writer_add_kv(w, kv, err))
        return -1;
    *bytes += 8 + kv->key.len + 4 + value_size(&kv->val);
    return 0;
}

static int put_arr(lp_gguf_writer *w, const char *key, lp_gguf_type et, uint64_t n,
                   const void *data, uint64_t nbytes, uint64_t *bytes, lp_err *err)
{
    lp_gguf_kv kv = {.key = {key, strlen(key)}, .val = {.type = LP_GGUF_ARRAY}};
    kv.val.v.arr = (lp_gguf_arr){.elem_type = et, .n = n, .data = data, .nbytes = nbytes};
    return synth_put_kv(w, &kv, bytes, err);
}

static int put_scalar(lp_gguf_writer *w, const char *key, lp_gguf_type t, uint64_t u,
                      uint64_t *bytes, lp_err *err)
{
    lp_gguf_kv kv = {.key = {key, strlen(key)}, .val = {.type = t}};
    kv.val.v.u64 = u;
    return synth_put_kv(w, &kv, bytes, err);
}

/* ---- the synthetic vocabulary ------------------------------------------- */

#define N_FIXED 259 /* <unk>, <s>, </s>, <0x00>..<0xFF> */

/* Token i's text (at most 16 bytes): the fixed tokens, then distinct
 * pieces "a".."z", "aa", ... each both bare and with SentencePiece's word
 * marker U+2581, so any lowercase text tokenizes into real pieces. */
static size_t token_text(uint32_t i, char *buf)
{
    static const char *const fixed[3] = {"<unk>", "<s>", "</s>"};
    static const char hex[] = "0123456789ABCDEF";
    if (i < 3) {
        strcpy(buf, fixed[i]);
        return strlen(buf);
    }
    if (i < N_FIXED) {
        uint32_t b = i - 3;
        memcpy(buf, "<0x", 3);
        buf[3] = hex[b >> 4], buf[4] = hex[b & 15], buf[5] = '>';
        return 6;
    }
    uint32_t k = i - N_FIXED, n = k / 2 + 1;
    char rev[8];
    size_t len = 0, pre = 0;
    while (n > 0) { /* bijective base 26: a..z, aa.. */
        n--;
        rev[len++] = (char)('a' + n % 26);
        n /= 26;
    }
    if (k % 2 == 0) {
        memcpy(buf, "\xE2\x96\x81", 3);
        pre = 3;
    }
    for (size_t j = 0; j < len; j++)
        buf[pre + j] = rev[len - 1 - j];
    return pre + len;
}

/* llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte. */
static int32_t token_type(uint32_t i)
{
    return i == 0 ? 2 : i < 3 ? 3 : i < N_FIXED ? 6 : 1;
}

static int synth_tokens(lp_gguf_writer *w, uint32_t n, uint64_t *bytes, lp_err *err)
{
    uint8_t *texts = malloc((size_t)n * 24);
    float *scores = malloc(sizeof *scores * n);
    int32_t *types = malloc(sizeof *types * n);
    int rc = -1;
    if (!texts || !scores || !types) {
        lp_err_set(err, "synth: out of memory for the vocabulary");
        goto done;
    }
    uint64_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        char t[16];
        uint64_t len = token_text(i, t);
        memcpy(texts + off, &len, 8);
        memcpy(texts + off + 8, t, len);
        off += 8 + len;
        /* SentencePiece merges the highest score first: earlier = likelier */
        scores[i] = i < N_FIXED ? 0.0f : -(float)(i - N_FIXED);
        types[i] = token_type(i);
    }
    rc = put_arr(w, "tokenizer.ggml.tokens", LP_GGUF_STRING, n, texts, off, bytes, err) ||
         put_arr(w, "tokenizer.ggml.scores", LP_GGUF_FLOAT32, n, scores, 4ull * n, bytes,
                 err) ||
         put_arr(w, "tokenizer.ggml.token_type", LP_GGUF_INT32, n, types, 4ull * n, bytes,
                 err) ? -1 : 0;
done:
    free(texts);
    free(scores);
    free(types);
    return rc;
}

static int synth_spm(lp_gguf_writer *w, uint32_t n_vocab, uint64_t *bytes, lp_err *err)
{
    lp_gguf_kv model = {.key = {"tokenizer.ggml.model", 20},
                        .val = {.type = LP_GGUF_STRING, .v.str = {"llama", 5}}};
    if (n_vocab < N_FIXED + 52)
        return lp_err_set(err, "synth: a vocabulary of %" PRIu32 " tokens is too small",
                          n_vocab);
    return synth_put_kv(w, &model, bytes, err) || synth_tokens(w, n_vocab, bytes, err) ||
           put_scalar(w, "tokenizer.ggml.bos_token_id", LP_GGUF_UINT32, 1, bytes, err) ||
           put_scalar(w, "tokenizer.ggml.eos_token_id", LP_GGUF_UINT32, 2, bytes, err) ||
           put_scalar(w, "tokenizer.ggml.unknown_token_id", LP_GGUF_UINT32, 0, bytes, err) ||
           put_scalar(w, "tokenizer.ggml.add_bos_token", LP_GGUF_BOOL, 1, bytes, err) ||
           put_scalar(w, "tokenizer.ggml.add_eos_token", LP_GGUF_BOOL, 0, bytes, err)
        ? -1 : 0;
}

/* ---- a vocabulary from a file ------------------------------------------- */

/* kv's array followed by pad entries for ids n .. n_vocab-1: "[PAD<id>]"
 * tokens of type 5 (unused) and score 0, as convert_hf_to_gguf.py pads. */
static int put_padded(lp_gguf_writer *w, const lp_gguf_kv *kv, uint32_t n_vocab,
                      uint64_t *bytes, lp_err *err)
{
    const lp_gguf_arr *a = &kv->val.v.arr;
    const uint64_t n_pad = n_vocab - a->n, per = a->elem_type == LP_GGUF_STRING ? 8 + 20 : 4;
    uint8_t *buf = malloc(a->nbytes + n_pad * per);
    if (!buf)
        return lp_err_set(err, "synth: out of memory for the vocabulary");
    memcpy(buf, a->data, a->nbytes);
    uint64_t off = a->nbytes;
    for (uint64_t id = a->n; id < n_vocab; id++) {
        if (a->elem_type == LP_GGUF_STRING) {
            char t[24];
            uint64_t len = (uint64_t)snprintf(t, sizeof t, "[PAD%" PRIu64 "]", id);
            memcpy(buf + off, &len, 8);
            memcpy(buf + off + 8, t, len);
            off += 8 + len;
        } else {
            int32_t type = 5;
            float score = 0.0f;
            memcpy(buf + off, a->elem_type == LP_GGUF_INT32 ? (void *)&type : (void *)&score, 4);
            off += 4;
        }
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
    int rc = put_arr(w, key, a->elem_type, n_vocab, buf, off, bytes, err);
    free(buf);
    return rc;
}

/* The per-token arrays llama.cpp reads, and the element type each must have
 * for us to pad it. */
static bool per_token(const lp_gguf_kv *kv, lp_gguf_type *et)
{
    static const struct { const char *key; lp_gguf_type et; } k[] = {
        {"tokenizer.ggml.tokens", LP_GGUF_STRING},
        {"tokenizer.ggml.token_type", LP_GGUF_INT32},
        {"tokenizer.ggml.scores", LP_GGUF_FLOAT32},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (lp_str_eq(kv->key, k[i].key)) {
            *et = k[i].et;
            return true;
        }
    return false;
}

static int copy_vocab(lp_gguf_writer *w, const lp_gguf *g, const char *path, uint32_t n_vocab,
                      uint64_t *bytes, lp_err *err)
{
    lp_gguf_arr tokens;
    if (lp_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens) != 0)
        return lp_err_set(err, "synth: %s has no tokenizer.ggml.tokens", path);
    if (tokens.n > n_vocab)
        return lp_err_set(err, "synth: %s has %" PRIu64 " tokens, more than the shape's "
                          "vocabulary of %" PRIu32, path, tokens.n, n_vocab);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const lp_gguf_kv *kv = &g->kv[i];
        lp_gguf_type et;
        if (kv->key.len < 10 || memcmp(kv->key.ptr, "tokenizer.", 10) != 0)
            continue;
        if (!per_token(kv, &et) || tokens.n == n_vocab) {
            if (synth_put_kv(w, kv, bytes, err))
                return -1;
            continue;
        }
        if (kv->val.type != LP_GGUF_ARRAY || kv->val.v.arr.elem_type != et ||
            kv->val.v.arr.n != tokens.n)
            return lp_err_set(err, "synth: %s: %.*s is not an array of %s per token", path,
                              (int)kv->key.len, kv->key.ptr, lp_gguf_type_name(et));
        if (put_padded(w, kv, n_vocab, bytes, err))
            return -1;
    }
    return 0;
}

int synth_vocab_add(lp_gguf_writer *w, uint32_t n_vocab, const char *vocab_path,
                    uint64_t *bytes, lp_err *err)
{
    if (!vocab_path)
        return synth_spm(w, n_vocab, bytes, err);
    lp_err e = {{0}};
    lp_gguf *g = lp_gguf_open(vocab_path, &e);
    if (!g)
        return lp_err_set(err, "synth: --vocab: %s", e.msg);
    int rc = copy_vocab(w, g, vocab_path, n_vocab, bytes, err);
    lp_gguf_close(g);
    return rc;
}
