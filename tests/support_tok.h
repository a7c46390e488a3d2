/* support_tok.h — helpers shared by the tokenizer tests. Include after
 * the cmocka prerequisites. Each fails the running test on error. */
#ifndef LP_TEST_SUPPORT_TOK_H
#define LP_TEST_SUPPORT_TOK_H

#include <stdbool.h>
#include <stddef.h>

#include "gguf.h"
#include "tokenizer.h"

typedef struct tt_vocab {
    lp_gguf *g;
    lp_tokenizer *t;
    double load_ms;
} tt_vocab;

double tt_now_ms(void);
/* Open shared/<rel> and load its tokenizer. */
void tt_vocab_open(tt_vocab *v, const char *rel);
void tt_vocab_close(tt_vocab *v);
/* lp_tokenize / lp_detokenize (remove_special off, unparse_special on);
 * results are malloc'd. */
lp_token *tt_tok(const lp_tokenizer *t, const char *s, size_t n, bool add, bool parse,
                 size_t *n_out);
char *tt_detok(const lp_tokenizer *t, const lp_token *ids, size_t n, size_t *len);
/* Tokenize the C string s and compare with want[0..n_want). */
void tt_expect_ids(const lp_tokenizer *t, const char *s, bool add, bool parse,
                   const lp_token *want, size_t n_want);

#endif
