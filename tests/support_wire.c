/* support_wire.c — see support_wire.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "support_wire.h"

Lp__Envelope *wire_forward(Lp__Envelope *env, Lp__Forward *f, int32_t *toks, size_t n)
{
    lp__envelope__init(env);
    lp__forward__init(f);
    env->version = LP_PROTOCOL_VERSION;
    env->body_case = LP__ENVELOPE__BODY_FORWARD;
    env->forward = f;
    f->n_tokens = (uint32_t)n;
    f->n_token_ids = n;
    f->token_ids = toks;
    return env;
}

void wire_accepted(const Lp__Envelope *e)
{
    lp_err err = {0};
    if (lp_wire_check(e, &err) != 0)
        fail_msg("refused: %s", err.msg);
}

void wire_refused(const Lp__Envelope *e, const char *needle)
{
    lp_err err = {0};
    assert_int_equal(lp_wire_check(e, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}
