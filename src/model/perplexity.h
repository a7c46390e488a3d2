/* perplexity.h — the scoring math of llama.cpp's llama-perplexity (c392),
 * so that `coord perplexity` prints the numbers it prints.
 *
 * The text, tokenized with BOS, is cut into windows of n_ctx tokens (the
 * window's first token replaced by BOS for the forward pass); in each, only
 * positions first = n_ctx/2 .. n_ctx-2 are scored, each predicting the next
 * token of the text, so every scored token has at least n_ctx/2 tokens of
 * context. PPL = exp(mean nll) and its error is the standard error of the
 * mean nll times PPL.
 *
 * Against a base model (llama-perplexity --kl-divergence-base, then
 * --kl-divergence), the base's log-probabilities are kept per scored
 * position as llama.cpp stores them in its file: quantized to 16 bits over
 * [max - 16, max] (lp_kld_base_row). The KL divergence, the base's
 * perplexity and its top token are taken from that stored row, exactly as
 * llama.cpp reads them back, so the figures match its to the last digit.
 *
 * Precision follows llama.cpp on purpose: expf per entry, sums in double,
 * some products in float (the comments in perplexity.c say where). No
 * allocation, no global state. */
#ifndef LP_PERPLEXITY_H
#define LP_PERPLEXITY_H

#include <stddef.h>
#include <stdint.h>

/* ---- perplexity ------------------------------------------------------ */

/* Windows the text gives: n_tokens / n_ctx, 0 when n_tokens < 2 * n_ctx
 * (llama-perplexity's minimum: it refuses shorter text). */
int lp_ppl_n_windows(size_t n_tokens, int n_ctx);

/* The first scored position of a window: n_ctx / 2. Scored positions per
 * window: n_ctx - 1 - n_ctx / 2. */
int lp_ppl_first(int n_ctx);

/* -log softmax(logits)[tok] as llama.cpp's perplexity computes it, and the
 * row's top token (lowest id on ties). Either out pointer may be NULL. */
void lp_ppl_score_row(const float *logits, int n_vocab, int32_t tok, double *nll,
                      int32_t *top);

typedef struct lp_ppl_acc {
    double nll, nll2; /* sums of nll and nll^2 */
    long count;
} lp_ppl_acc;

void lp_ppl_add(lp_ppl_acc *a, double nll);

/* Add one window: rows[i] are the logits at window position first + i,
 * i < n_ctx - 1 - first; win the window's n_ctx tokens of the text. */
void lp_ppl_add_window(lp_ppl_acc *a, const float *rows, int n_vocab, const int32_t *win,
                       int n_ctx);

/* exp(mean nll), the running value llama.cpp prints as "[k]x.xxxx". */
double lp_ppl_value(const lp_ppl_acc *a);

/* Final estimate: *ppl and *err (= ppl x standard error of the mean nll).
 * -1 when there is no spread to estimate from (count < 2 or variance <= 0;
 * llama.cpp then prints no estimate). */
int lp_ppl_estimate(const lp_ppl_acc *a, double *ppl, double *err);

/* ---- KL divergence against a base model ------------------------------ */

/* uint16 entries of one stored base row: two floats (scale, min log-prob)
 * and n_vocab values, padded to an even count, as llama.cpp's file. */
size_t lp_kld_row_len(int n_vocab);

/* Store the base model's logits as a row of lp_kld_row_len(n_vocab)
 * entries. Returns the base's nll of tok, as llama.cpp's base pass
 * computes it (its PPL is the base's "Final estimate"). */
double lp_kld_base_row(const float *logits, int n_vocab, int32_t tok, uint16_t *row);

/* llama.cpp's kl_divergence_result. */
typedef struct lp_kld_acc {
    double sum_nll, sum_nll2, sum_nll_base, sum_nll_base2, sum_nll_nll_base;
    double sum_kld, sum_kld2;
    double sum_p_diff, sum_p_diff2, sum_p_diff4;
    float max_p_diff;
    size_t n_same_top, count;
} lp_kld_acc;

/* Add one position: the model's logits against the stored base row, tok
 * the text's next token. *kld and *p_diff (may be NULL) get this
 * position's KL divergence and p(tok) - p_base(tok). */
void lp_kld_add(lp_kld_acc *k, const float *logits, int n_vocab, const uint16_t *base_row,
                int32_t tok, float *kld, float *p_diff);

typedef struct lp_mean_err {
    double mean, err;
} lp_mean_err;

/* What llama.cpp prints after a --kl-divergence run. */
typedef struct lp_kld_stats {
    lp_mean_err ppl, ppl_base;  /* PPL(Q), PPL(base) */
    double cor;                 /* correlation of ln PPL(Q) and ln PPL(base) */
    lp_mean_err ln_ratio;       /* ln(PPL(Q)/PPL(base)) */
    lp_mean_err ratio;          /* PPL(Q)/PPL(base) */
    lp_mean_err diff;           /* PPL(Q) - PPL(base) */
    lp_mean_err kld;            /* mean KL divergence */
    lp_mean_err p_diff;         /* mean p(tok) - p_base(tok), as a fraction */
    lp_mean_err p_diff_rms;     /* its root mean square */
    lp_mean_err same_top;       /* share of positions with the same top token */
} lp_kld_stats;

void lp_kld_summary(const lp_kld_acc *k, lp_kld_stats *s);

/* llama.cpp's percentile of n sorted values (linear between neighbours). */
float lp_percentile(const float *sorted, size_t n, float fraction);

#endif
