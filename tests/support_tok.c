#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"
#include "support_tok.h"

double tt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void tt_vocab_open(tt_vocab *v, const char *rel)
{
    char path[4096];
    lp_err err = {{0}};
    lp_test_shared(path, sizeof path, rel);
    double t0 = tt_now_ms();
    v->g = lp_gguf_open(path, &err);
    if (!v->g)
        fail_msg("%s: %s", path, err.msg);
    v->t = lp_tokenizer_load(v->g, &err);
    if (!v->t)
        fail_msg("%s: %s", path, err.msg);
    v->load_ms = tt_now_ms() - t0;
}

void tt_vocab_close(tt_vocab *v)
{
    lp_tokenizer_free(v->t);
    lp_gguf_close(v->g);
}

lp_token *tt_tok(const lp_tokenizer *t, const char *s, size_t n, bool add, bool parse,
                     size_t *n_out)
{
    lp_token *ids = NULL;
    lp_err err = {{0}};
    if (lp_tokenize(t, s, n, add, parse, &ids, n_out, &err))
        fail_msg("tokenize: %s", err.msg);
    return ids;
}

char *tt_detok(const lp_tokenizer *t, const lp_token *ids, size_t n, size_t *len)
{
    char *s = NULL;
    lp_err err = {{0}};
    if (lp_detokenize(t, ids, n, false, true, &s, len, &err))
        fail_msg("detokenize: %s", err.msg);
    return s;
}

void tt_expect_ids(const lp_tokenizer *t, const char *s, bool add, bool parse,
                       const lp_token *want, size_t n_want)
{
    size_t n;
    lp_token *ids = tt_tok(t, s, strlen(s), add, parse, &n);
    if (n != n_want || memcmp(ids, want, n * sizeof *ids)) {
        fprintf(stderr, "'%s': got", s);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        fail_msg("'%s' tokenized differently", s);
    }
    free(ids);
}
