#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "support_chain.h"

static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 300, 45, 99, 12, 470, 5};
enum { N_PROMPT = sizeof PROMPT / sizeof PROMPT[0] };

lp_shard *chain_open(const char *path, int first, int last)
{
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.first = first;
    o.last = last;
    o.n_ctx = 64;
    o.n_batch = LP_CHAIN_CHUNK;
    o.n_threads = 2;
    lp_err err = {0};
    lp_shard *s = lp_shard_open(path, &o, &err);
    if (!s)
        fail_msg("%s [%d, %d): %s", path, first, last, err.msg);
    assert_int_equal(lp_kv_open(s->kv, 42, &err), 0);
    return s;
}

/* Run n tokens through the chain; returns the last shard's output. */
static const float *chain_step(lp_shard **sh, int n_sh, const int32_t *toks, int n, int pos0)
{
    lp_err err = {0};
    const float *x = NULL;
    for (int i = 0; i < n_sh; i++) {
        lp_fwd_in in = {.n = n, .pos0 = pos0, .tokens = i == 0 ? toks : NULL,
                        .hidden = i == 0 ? NULL : x};
        if (lp_forward(sh[i]->run, sh[i]->kv, 0, &in, &x, &err) != 0)
            fail_msg("shard %d: %s", i, err.msg);
    }
    return x;
}

float *chain_trace(lp_shard **sh, int n_sh, int n_vocab, int n_decode)
{
    float *out = malloc(sizeof(float) * (size_t)n_vocab * (size_t)(n_decode + 1));
    assert_non_null(out);
    const float *lg = NULL;
    for (int done = 0; done < N_PROMPT; done += LP_CHAIN_CHUNK) {
        int n = N_PROMPT - done < LP_CHAIN_CHUNK ? N_PROMPT - done : LP_CHAIN_CHUNK;
        lg = chain_step(sh, n_sh, PROMPT + done, n, done);
    }
    int pos = N_PROMPT;
    for (int i = 0; i <= n_decode; i++) {
        memcpy(out + (size_t)i * n_vocab, lg, sizeof(float) * (size_t)n_vocab);
        int32_t t = lp_argmax(lg, n_vocab);
        if (i < n_decode)
            lg = chain_step(sh, n_sh, &t, 1, pos++);
    }
    return out;
}
