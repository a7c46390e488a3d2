/* The pipeline model (pipe_model.h) against sums worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipe_model.h"

static lp_pipe_model two_stages(double bits_per_s)
{
    lp_pipe_model m = {.n = 2, .stage_ms = {30, 50}, .prompt_ms = {2, 3}, .hop_bytes = 8192,
                       .result_bytes = 40, .in_bytes = 40, .latency_ms = 0.5,
                       .bits_per_s = bits_per_s};
    return m;
}

static void test_decode(void **state)
{
    (void)state;
    lp_pipe_model m = two_stages(0);
    lp_pipe_pred p;
    lp_pipe_predict(&m, 1, 0, 0, &p);
    /* 30 + 50 ms of compute, 3 hops of 0.5 ms, no wire time */
    assert_float_equal(p.tg_session, 1e3 / 81.5, 1e-9);
    assert_float_equal(p.pp, 0, 0);
    /* 4 sessions: the 50 ms stage caps them at 20 tok/s */
    lp_pipe_predict(&m, 4, 0, 0, &p);
    assert_float_equal(p.tg_total, 20.0, 1e-9);
    assert_float_equal(p.tg_session, 5.0, 1e-9);
    /* 100 Mbit: 8192 B are 0.65536 ms, 40 B 0.0032 ms each way */
    m = two_stages(100e6);
    lp_pipe_predict(&m, 1, 0, 0, &p);
    assert_float_equal(p.tg_session, 1e3 / (81.5 + 0.65536 + 2 * 0.0032), 1e-9);
    /* 10 kbit: the hop (6.5536 s a token) is the bottleneck */
    m = two_stages(1e4);
    lp_pipe_predict(&m, 8, 0, 0, &p);
    assert_float_equal(p.tg_total, 1e3 / 6553.6, 1e-9);
}

static void test_prompt(void **state)
{
    (void)state;
    lp_pipe_model m = two_stages(0);
    lp_pipe_pred p;
    /* 512 tokens in 4 chunks of 128: the first crosses both stages
     * (128 x 5 ms + hop and two end latencies), then one per 128 x 3 ms */
    lp_pipe_predict(&m, 1, 512, 128, &p);
    double ms = 128 * 5 + 0.5 + 2 * 0.5 + 3 * 128 * 3;
    assert_float_equal(p.pp, 512 / ms * 1e3, 1e-9);
    /* a prompt shorter than a chunk is one chunk of its own length */
    lp_pipe_pred whole;
    lp_pipe_predict(&m, 1, 100, 128, &p);
    lp_pipe_predict(&m, 1, 100, 100, &whole);
    assert_float_equal(p.pp, whole.pp, 0);
    assert_float_equal(p.pp, 100 / (100 * 5 + 0.5 + 2 * 0.5) * 1e3, 1e-9);
    /* at 10 Mbit a chunk's hop (128 x 8192 B = 838.8608 ms) is slower
     * than any stage: it sets the period */
    m = two_stages(10e6);
    lp_pipe_predict(&m, 1, 512, 128, &p);
    double hop = 128 * 8192 * 8 / 10e6 * 1e3, in = 128 * 40 * 8 / 10e6 * 1e3;
    ms = 128 * 5 + hop + 0.5 + in + 2 * 0.5 + 3 * hop;
    assert_float_equal(p.pp, 512 / ms * 1e3, 1e-9);
}

static void test_machines(void **state)
{
    (void)state;
    /* 40 GB over 4 machines of 50 GB/s reached at 80 %: 250 ms a stage */
    lp_pipe_machine mc = {.n = 4, .weight_gb = 40, .params_b = 70, .n_embd = 8192,
                          .wire_bytes = 2, .mem_gbs = 50, .efficiency = 0.8, .gflops = 500,
                          .bits_per_s = 1e9, .latency_ms = 0.2};
    lp_pipe_model m;
    lp_pipe_of_machines(&mc, &m);
    assert_int_equal(m.n, 4);
    assert_float_equal(m.stage_ms[3], 250.0, 1e-9);
    assert_float_equal(m.prompt_ms[0], 2.0 * 70 / 4 / 500 * 1e3, 1e-9);
    assert_float_equal(m.hop_bytes, 8192 * 2 + 23, 0);
    lp_pipe_pred p;
    lp_pipe_predict(&m, 1, 0, 0, &p);
    assert_true(p.tg_session > 0.95 && p.tg_session < 1.0); /* ~1 s of compute */
}

/* The chunk from measured figures: the 1B shape on 2 and 3 workers here
 * (bench-pool -b: 64 was the best of 8..256 on 2 workers at 1 Gbit). */
static void test_chunk(void **state)
{
    (void)state;
    lp_pipe_model m = {.n = 2, .stage_ms = {50, 48}, .prompt_ms = {8.9, 8.0}, .hop_bytes = 8215};
    assert_int_equal(lp_pipe_chunk(&m, 512, 256), 64); /* sqrt(512 x 50 / 8.9) = 53.6 */
    assert_int_equal(lp_pipe_chunk(&m, 100000, 256), 256);
    assert_int_equal(lp_pipe_chunk(&m, 512, 8), 8);
    assert_int_equal(lp_pipe_chunk(&m, 16, 256), 256); /* one chunk anyway */
    assert_int_equal(lp_pipe_chunk(&m, 40, 256), 16);  /* sqrt(40 x 50 / 8.9) = 15: at least 16 */
    lp_pipe_model three = {.n = 3, .stage_ms = {33, 33, 35}, .prompt_ms = {6, 6, 6.5}};
    assert_int_equal(lp_pipe_chunk(&three, 512, 256), 48); /* sqrt(512 x 35 / 13) = 37 */
    /* a link slower than the compute: its time per token is what counts */
    lp_pipe_model slow = {.n = 2, .stage_ms = {50, 50}, .prompt_ms = {2, 2}, .hop_bytes = 8192};
    assert_int_equal(lp_pipe_chunk(&slow, 512, 512), 128); /* sqrt(512 x 50 / 2) = 113 */
    slow.bits_per_s = 10e6;                                 /* 6.55 ms a token */
    assert_int_equal(lp_pipe_chunk(&slow, 512, 512), 64);
    lp_pipe_model one = {.n = 1, .stage_ms = {50}, .prompt_ms = {8}};
    assert_int_equal(lp_pipe_chunk(&one, 512, 256), 256);
    lp_pipe_model unknown = {.n = 2};
    assert_int_equal(lp_pipe_chunk(&unknown, 512, 256), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_prompt),
        cmocka_unit_test(test_machines),
        cmocka_unit_test(test_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
