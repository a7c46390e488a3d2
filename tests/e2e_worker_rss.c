/* A real `worker` process holds a shard in weights + KV + small buffers:
 * weights are used in place from the mapped file, never copied. For a
 * whole model on one worker (2 threads), its /proc/PID/status is read
 * before the load, after it and after a generation:
 *   - RSS stays within weights + KV + 64 MB (the bound);
 *   - the anonymous memory it gained (heap: KV, buffers, any copy) stays
 *     within KV + buffers + 8 MB, so a copy of the weights (13 MB for the
 *     f32 model) cannot hide in the 64 MB;
 *   - the file-backed memory it gained covers at least half the weights:
 *     the forward pass reads them from the mapping.
 * The first two are skipped under AddressSanitizer, whose shadow memory
 * and quarantine inflate the heap; the figures are printed either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "support_pipe.h"
#include "sysinfo.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

enum { MIB = 1 << 20, SLACK_TOTAL = 64 * MIB, SLACK_ANON = 8 * MIB };

static int n_layer_of(const char *path)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(path, &err);
    assert_non_null(g);
    lp_hparams hp;
    assert_int_equal(lp_hparams_read(g, &hp, &err), 0);
    lp_gguf_close(g);
    return (int)hp.n_layer;
}

static lp_proc_mem mem_of(const lp_test_worker *w)
{
    lp_proc_mem m;
    assert_int_equal(lp_proc_mem_read((int)w->pid, &m), 0);
    return m;
}

static void check_model(const char *stem)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_test_shared(path, sizeof path, rel);
    e2e_pipe p;
    e2e_pipe_spawn(&p, 1, "-t 2");
    lp_test_model_id(stem, p.model_id);
    const lp_proc_mem before = mem_of(&p.w[0]);
    Lp__Envelope *r = e2e_load_req(&p.c, 0, p.model_id, path, 0, n_layer_of(path), E2E_CTX,
                                   E2E_BATCH, NULL);
    assert_non_null(r);
    if (r->body_case == LP__ENVELOPE__BODY_ERROR)
        fail_msg("LoadShard: %s", r->error->message);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_SHARD_READY);
    const uint64_t weights = r->shard_ready->weight_bytes, kv = r->shard_ready->kv_bytes,
                   buffers = r->shard_ready->buffer_bytes;
    lp_wire_env_free(r);
    const lp_proc_mem loaded = mem_of(&p.w[0]);
    const int32_t prompt[] = {1, 403, 407, 261};
    int32_t ids[16];
    e2e_generate(&p.c, 1, prompt, 4, 16, ids, 1);
    const lp_proc_mem ran = mem_of(&p.w[0]);
    print_message("[ rss ] %s: weights %.2f MiB, KV %.2f MiB, buffers %.2f MiB; RSS before "
                  "load %.1f MiB, after %.1f MiB, after 16 tokens %.1f MiB (file %.1f, anon "
                  "%.1f; anon grew %.2f MiB)%s\n", stem, weights / (double)MIB, kv / (double)MIB,
                  buffers / (double)MIB, before.rss / (double)MIB, loaded.rss / (double)MIB,
                  ran.rss / (double)MIB, ran.rss_file / (double)MIB, ran.rss_anon / (double)MIB,
                  ((double)ran.rss_anon - (double)before.rss_anon) / MIB,
                  UNDER_ASAN ? " [ASan: bounds not checked]" : "");
    assert_true(ran.rss_file >= before.rss_file + weights / 2);
    if (!UNDER_ASAN) {
        assert_true(ran.rss <= weights + kv + SLACK_TOTAL);
        assert_true(ran.rss_anon <= before.rss_anon + kv + buffers + SLACK_ANON);
    }
    e2e_pipe_stop(&p);
}

static void test_f32_in_place(void **state)
{
    (void)state;
    check_model("synth-llama-f32"); /* 13 MB: a copy would show */
}

static void test_q4_k_m_in_place(void **state)
{
    (void)state;
    check_model("synth-llama-Q4_K_M");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_in_place),
        cmocka_unit_test(test_q4_k_m_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
