/* model_id.c — a model's identity: SHA-256 of its GGUF header, or the id
 * a shard file inherited from its source (model_id.h). */
#include "model_id.h"

#include <stdio.h>

#include "sha256.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lp_model_id_parse(const char *hex, size_t len, uint8_t out[LP_SHA256_BYTES])
{
    if (!hex || len != 2 * LP_SHA256_BYTES)
        return -1;
    uint8_t id[LP_SHA256_BYTES];
    for (size_t i = 0; i < LP_SHA256_BYTES; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    for (size_t i = 0; i < LP_SHA256_BYTES; i++)
        out[i] = id[i];
    return 0;
}

void lp_model_id_hex(const uint8_t id[LP_SHA256_BYTES], char out[2 * LP_SHA256_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < LP_SHA256_BYTES; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * LP_SHA256_BYTES] = 0;
}

int lp_model_id(const lp_gguf *g, uint8_t out[LP_SHA256_BYTES], lp_err *err)
{
    const lp_gguf_kv *kv = lp_gguf_find(g, LP_MODEL_ID_KEY);
    if (kv) {
        if (kv->val.type != LP_GGUF_STRING ||
            lp_model_id_parse(kv->val.v.str.ptr, kv->val.v.str.len, out) != 0)
            return lp_err_set(err, "model id: '%s' must be a string of %d hex digits",
                              LP_MODEL_ID_KEY, 2 * LP_SHA256_BYTES);
        return 0;
    }
    /* The reader guarantees data_offset <= size. */
    if (g->data_offset > g->size || g->data_offset > SIZE_MAX)
        return lp_err_set(err, "model id: header extent %llu is outside the file",
                          (unsigned long long)g->data_offset);
    lp_sha256(g->base, (size_t)g->data_offset, out);
    return 0;
}
