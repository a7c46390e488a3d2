/* The scoring fields of Forward and Result (coord perplexity through a
 * pool): what lp_wire_check lets through and what it refuses, on crafted
 * envelopes, before any worker or coordinator acts on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "support_wire.h"
#include "wire.h"

typedef struct msg {
    Lp__Envelope env;
    Lp__Forward f;
    Lp__Result r;
    Lp__SamplingParams sp;
    int32_t toks[8], targets[8], top[4];
    double nll[4];
    float rows[8];
} msg;

/* Positions 10..17, scoring 14..16 against 3 next tokens. */
static Lp__Envelope *scoring_step(msg *m)
{
    memset(m, 0, sizeof *m);
    wire_forward(&m->env, &m->f, m->toks, 8);
    m->f.pos0 = 10;
    m->f.score_pos = 14;
    m->f.n_score_targets = 3;
    m->f.score_targets = m->targets;
    return &m->env;
}

static Lp__Envelope *score_result(msg *m, size_t n_nll, size_t n_top, size_t row_bytes)
{
    memset(m, 0, sizeof *m);
    lp__envelope__init(&m->env);
    lp__result__init(&m->r);
    m->env.version = LP_PROTOCOL_VERSION;
    m->env.body_case = LP__ENVELOPE__BODY_RESULT;
    m->env.result = &m->r;
    m->r.token = -1;
    m->r.score_pos = 14;
    m->r.n_score_nll = n_nll;
    m->r.score_nll = m->nll;
    m->r.n_score_top = n_top;
    m->r.score_top = m->top;
    m->r.score_rows = (ProtobufCBinaryData){row_bytes, (uint8_t *)m->rows};
    return &m->env;
}

static void test_forward(void **state)
{
    (void)state;
    msg m;
    wire_accepted(scoring_step(&m));
    scoring_step(&m)->forward->n_score_targets = 4; /* 14..17: the step's end */
    wire_accepted(&m.env);
    scoring_step(&m)->forward->n_score_targets = 5;
    wire_refused(&m.env, "outside the step's 10..17");
    scoring_step(&m)->forward->score_pos = 9;
    wire_refused(&m.env, "outside the step");
    scoring_step(&m)->forward->n_score_targets = 9;
    wire_refused(&m.env, "outside the step");
    scoring_step(&m)->forward->score_pos = 0xFFFFFFFFu; /* no wrap-around */
    wire_refused(&m.env, "outside the step");
    scoring_step(&m)->forward->n_score_targets = 0; /* not scoring at all */
    wire_accepted(&m.env);
    m.f.score_rows = true;
    wire_refused(&m.env, "score_rows without positions");
    scoring_step(&m);
    lp__sampling_params__init(&m.sp);
    m.sp.top_p = 1;
    m.f.sampling = &m.sp;
    wire_refused(&m.env, "both scoring and sampling");
}

static void test_result(void **state)
{
    (void)state;
    msg m;
    wire_accepted(score_result(&m, 3, 3, 0));
    wire_accepted(score_result(&m, 0, 0, sizeof m.rows));
    wire_refused(score_result(&m, 3, 2, 0), "3 scores but 2 top tokens");
    wire_refused(score_result(&m, 0, 0, 7), "not whole floats");
    wire_refused(score_result(&m, 2, 2, 8), "next to scores");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
