/* Model identity (model_id.h): the SHA-256 of a GGUF's bytes before its
 * tensor data, equal for byte-identical copies and different when any
 * metadata differs; a shard's layerpool.shard.model_id taken as given when
 * it is 64 hex digits and refused otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model_id.h"
#include "sha256.h"
#include "support.h"

static lp_gguf *open_path(const char *path)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(path, &err);
    if (!g)
        fail_msg("%s: %s", path, err.msg);
    return g;
}

static void id_of(const lp_gguf *g, uint8_t id[32])
{
    lp_err err = {0};
    if (lp_model_id(g, id, &err) != 0)
        fail_msg("%s", err.msg);
}

static void test_header_hash(void **state)
{
    (void)state;
    static const char *const models[] = {"models/stories260K.gguf",
                                          "models/synth-llama-Q4_K_M.gguf",
                                          "models/synth-llama-Q8_0.gguf"};
    uint8_t ids[3][32];
    for (int i = 0; i < 3; i++) {
        char path[4096];
        lp_test_shared(path, sizeof path, models[i]);
        lp_gguf *g = open_path(path);
        size_t len = 0;
        uint8_t *bytes = lp_test_read_file(path, &len);
        assert_non_null(bytes);
        assert_true(g->data_offset > 24 && g->data_offset < len);
        uint8_t want[32];
        lp_sha256(bytes, (size_t)g->data_offset, want);
        id_of(g, ids[i]);
        assert_memory_equal(ids[i], want, 32);
        free(bytes);
        lp_gguf_close(g);
    }
    /* Two quantizations of one model differ in their tensor infos. */
    assert_memory_not_equal(ids[1], ids[2], 32);
    assert_memory_not_equal(ids[0], ids[1], 32);
}

/* A byte-identical copy has the same id; one changed value does not. */
static void test_copy_and_change(void **state)
{
    (void)state;
    char dir[4096], src[4096], copy[4200], changed[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_test_shared(src, sizeof src, "models/stories260K.gguf");
    snprintf(copy, sizeof copy, "%s/copy.gguf", dir);
    snprintf(changed, sizeof changed, "%s/changed.gguf", dir);
    lp_gguf *g = open_path(src);
    lp_err err = {0};
    assert_int_equal(lp_gguf_copy(g, copy, &err), 0);
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    for (uint64_t i = 0; i < g->n_kv; i++)
        assert_int_equal(lp_gguf_writer_add_kv(w, &g->kv[i], &err), 0);
    assert_int_equal(lp_gguf_writer_set_str(w, "general.name", "another", &err), 0);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(lp_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data,
                                                   &err), 0);
    }
    assert_int_equal(lp_gguf_writer_write(w, changed, &err), 0);
    lp_gguf_writer_free(w);
    lp_gguf *c = open_path(copy), *d = open_path(changed);
    uint8_t a[32], b[32], e[32];
    id_of(g, a);
    id_of(c, b);
    id_of(d, e);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, e, 32);
    lp_gguf_close(g);
    lp_gguf_close(c);
    lp_gguf_close(d);
    lp_test_rmtree(dir);
}

/* A tiny file whose layerpool.shard.model_id is set by `set`. */
static lp_gguf *with_key(const char *dir, const char *hex, bool as_u32)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/k.gguf", dir);
    lp_err err = {0};
    lp_gguf_writer *w = lp_gguf_writer_new(&err);
    assert_int_equal(lp_gguf_writer_set_str(w, "general.architecture", "llama", &err), 0);
    if (as_u32)
        assert_int_equal(lp_gguf_writer_set_u32(w, LP_MODEL_ID_KEY, 7, &err), 0);
    else
        assert_int_equal(lp_gguf_writer_set_str(w, LP_MODEL_ID_KEY, hex, &err), 0);
    float x[32] = {0};
    uint64_t ne[1] = {32};
    assert_int_equal(lp_gguf_writer_add_tensor(w, "x", 0, 1, ne, x, &err), 0);
    assert_int_equal(lp_gguf_writer_write(w, path, &err), 0);
    lp_gguf_writer_free(w);
    return open_path(path);
}

static void test_shard_key(void **state)
{
    (void)state;
    char dir[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    const char *hex = "00112233445566778899aabbccddeeff0123456789abcdefFEDCBA9876543210";
    lp_gguf *g = with_key(dir, hex, false);
    uint8_t id[32];
    id_of(g, id);
    char back[65];
    lp_model_id_hex(id, back);
    assert_string_equal(back, "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210");
    lp_gguf_close(g);
    static const char *const bad[] = {
        "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcde",   /* 63 */
        "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef0", /* 65 */
        "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdeg",
        "", " 0112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef"};
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        g = i < sizeof bad / sizeof bad[0] ? with_key(dir, bad[i], false)
                                           : with_key(dir, NULL, true);
        lp_err err = {0};
        assert_int_equal(lp_model_id(g, id, &err), -1);
        assert_non_null(strstr(err.msg, LP_MODEL_ID_KEY));
        lp_gguf_close(g);
    }
    uint8_t out[32] = {0};
    assert_int_equal(lp_model_id_parse(hex, 63, out), -1);
    assert_int_equal(lp_model_id_parse(NULL, 64, out), -1);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_hash),
        cmocka_unit_test(test_copy_and_change),
        cmocka_unit_test(test_shard_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
