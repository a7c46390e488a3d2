/* fuzz_gguf.c — libFuzzer harness for the GGUF reader (see README.md).
 * Every input must either parse or fail with a message; when it parses,
 * everything the lp_gguf offers is read so that a bad offset table, index
 * or tensor extent shows up under ASan. Not part of the CMake build. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

static void touch_array(const lp_gguf_arr *a, int depth, volatile uint64_t *sink)
{
    for (uint64_t i = 0; i < a->n; i++) {
        lp_str s;
        lp_gguf_arr in;
        float f;
        int64_t x;
        if (lp_gguf_arr_str(a, i, &s) == 0 && s.len)
            *sink += (uint8_t)s.ptr[s.len - 1];
        if (lp_gguf_arr_f32(a, i, &f) == 0)
            *sink += f == f;
        if (lp_gguf_arr_i64(a, i, &x) == 0)
            *sink += (uint64_t)x;
        if (lp_gguf_arr_arr(a, i, &in) == 0) {
            if (in.nbytes)
                *sink += in.data[in.nbytes - 1];
            if (depth < LP_GGUF_MAX_ARRAY_DEPTH)
                touch_array(&in, depth + 1, sink);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading one byte past the end is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    lp_err err;
    err.msg[0] = 0;
    lp_gguf *g = lp_gguf_open_mem(buf, size, &err);
    volatile uint64_t sink = 0;
    if (!g) {
        if (err.msg[0] == 0)
            abort(); /* every failure must say why */
        free(buf);
        return 0;
    }
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const lp_gguf_kv *kv = &g->kv[i];
        sink += (uint8_t)kv->key.ptr[kv->key.len - 1];
        if (kv->val.type == LP_GGUF_STRING && kv->val.v.str.len)
            sink += (uint8_t)kv->val.v.str.ptr[kv->val.v.str.len - 1];
        if (kv->val.type == LP_GGUF_ARRAY)
            touch_array(&kv->val.v.arr, 1, &sink);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        if (t->nbytes)
            sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
        char name[LP_GGUF_MAX_NAME];
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = 0;
        if (strlen(name) == t->name.len && lp_gguf_find_tensor(g, name) != t)
            abort(); /* the index must find what the file holds */
    }
    uint32_t u32;
    lp_str s;
    sink += lp_gguf_get_u32(g, "general.alignment", &u32) == 0 ? u32 : 0;
    sink += lp_gguf_get_str(g, "general.architecture", &s) == 0 ? s.len : 0;
    lp_gguf_close(g);
    free(buf);
    return 0;
}
