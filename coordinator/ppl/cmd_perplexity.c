/* coord perplexity — llama-perplexity's figures for a model over a text:
 * PPL with its error, and against a base model the KL divergence, the
 * share of positions whose top token agrees and the PPL ratio. The model
 * runs in this process or through a pool (ppl_pool.c); the base, when
 * given, in this process. Results go to stdout, progress to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "io.h"
#include "perplexity.h"
#include "ppl.h"

typedef struct ppl_job {
    const ppl_opts *o;
    ppl_local local, base_local;   /* the model here (no pool) and the base */
    ppl_pool *pool;                /* the model through a pool, or NULL */
    ppl_source q, base;            /* base.window NULL without --kl-base */
    lp_tokenizer *tok_owned;
    const lp_tokenizer *tok;
    lp_token *tokens;              /* the text, with BOS */
    size_t n_tokens;
    int n_windows, first, n_scored; /* n_scored: positions per window */
    int group;                     /* windows run at once */
    int32_t *wins;                 /* [group][n_ctx] the windows run, BOS first */
    double *nll;                   /* [group][n_scored] their scores */
    int w;                         /* index of wins[0] in the text */
    lp_ppl_acc acc;
    /* --kl-base */
    uint16_t *base_rows;           /* [n_scored][row_len] the window's base */
    size_t row_len;
    lp_kld_acc kacc;
    float *kld, *p_diff;           /* per scored position of the whole text */
    size_t n_vals;
} ppl_job;

/* ---- setting up ---------------------------------------------------- */

static int open_model(ppl_job *j, lp_err *err)
{
    const ppl_opts *o = j->o;
    if (o->config || o->local_workers) {
        if (!(j->pool = ppl_pool_open(o, err)))
            return -1;
        j->q = ppl_pool_source(j->pool);
        if (!(j->tok = ppl_pool_tokenizer(j->pool)))
            return lp_err_set(err, "the model has no tokenizer: there is no text to score");
        return 0;
    }
    if (ppl_local_open(&j->local, o->model, o->n_ctx, o->n_batch, o->n_threads, err) != 0)
        return -1;
    j->q = ppl_local_source(&j->local);
    if (!(j->tok_owned = lp_tokenizer_load(j->local.shard->gguf, err)))
        return -1;
    j->tok = j->tok_owned;
    return 0;
}

static int check_ctx(const ppl_job *j, lp_err *err)
{
    const uint32_t train = j->q.hp->n_ctx_train;
    if (train && (uint32_t)j->o->n_ctx > train)
        return lp_err_set(err, "-c %d is larger than the model's context of %u", j->o->n_ctx,
                          train);
    if (j->pool && j->o->n_ctx > ppl_pool_n_ctx(j->pool))
        return lp_err_set(err, "-c %d is larger than the pool's context of %d (ctx in the "
                          "cluster file)", j->o->n_ctx, ppl_pool_n_ctx(j->pool));
    return 0;
}

/* KL divergence compares distributions token by token: only meaningful
 * over the same vocabulary, token for token. */
static int same_vocab(const ppl_job *j, lp_err *err)
{
    const uint32_t nq = j->q.hp->n_vocab, nb = j->base.hp->n_vocab;
    if (nq != nb)
        return lp_err_set(err, "--kl-base %s has a vocabulary of %u tokens, the model %u: "
                          "the KL divergence needs the same vocabulary", j->o->kl_base, nb, nq);
    /* a base without a tokenizer can only be checked by its size */
    const lp_gguf *bg = j->base_local.shard->gguf;
    lp_tokenizer *bt = NULL;
    lp_err why = {0};
    if (lp_gguf_find(bg, "tokenizer.ggml.model") && !(bt = lp_tokenizer_load(bg, &why)))
        return lp_err_set(err, "--kl-base %s: its vocabulary: %s", j->o->kl_base, why.msg);
    int rc = 0;
    for (uint32_t id = 0; bt && rc == 0 && id < nq; id++) {
        size_t la, lb;
        const char *a = lp_tokenizer_text(j->tok, (lp_token)id, &la);
        const char *b = lp_tokenizer_text(bt, (lp_token)id, &lb);
        if (!a || !b || la != lb || memcmp(a, b, la))
            rc = lp_err_set(err, "--kl-base %s: token %u differs from the model's: the KL "
                            "divergence needs the same vocabulary", j->o->kl_base, id);
    }
    lp_tokenizer_free(bt);
    return rc;
}

static int open_base(ppl_job *j, lp_err *err)
{
    const ppl_opts *o = j->o;
    if (ppl_local_open(&j->base_local, o->kl_base, o->n_ctx, o->n_batch, o->n_threads, err))
        return -1;
    j->base = ppl_local_source(&j->base_local);
    if (same_vocab(j, err) != 0)
        return -1;
    j->row_len = lp_kld_row_len((int)j->q.hp->n_vocab);
    j->n_vals = (size_t)j->n_windows * (size_t)j->n_scored;
    j->base_rows = malloc(sizeof *j->base_rows * j->row_len * (size_t)j->n_scored);
    j->kld = malloc(sizeof *j->kld * j->n_vals);
    j->p_diff = malloc(sizeof *j->p_diff * j->n_vals);
    if (!j->base_rows || !j->kld || !j->p_diff)
        return lp_err_set(err, "out of memory for the base model's log-probabilities");
    return 0;
}

static char *read_text(const char *path, size_t *len, lp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lp_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = lp_read_all(fd, (size_t)1 << 40, len);
    if (!buf)
        lp_err_set(err, errno == ENOMEM || errno == EFBIG ? "out of memory reading %s"
                                                         : "cannot read %s", path);
    close(fd);
    return buf;
}

/* The text's tokens as llama.cpp's perplexity has them: BOS added if the
 * model asks for it, special-token texts read as plain text. */
static int tokenize(ppl_job *j, lp_err *err)
{
    size_t len;
    char *text = read_text(j->o->file, &len, err);
    if (!text)
        return -1;
    int rc = lp_tokenize(j->tok, text, len, true, false, &j->tokens, &j->n_tokens, err);
    free(text);
    if (rc != 0)
        return -1;
    j->n_windows = lp_ppl_n_windows(j->n_tokens, j->o->n_ctx);
    if (j->n_windows == 0)
        return lp_err_set(err, "%s tokenizes to %zu tokens; perplexity with -c %d needs at "
                          "least %d (two windows)", j->o->file, j->n_tokens, j->o->n_ctx,
                          2 * j->o->n_ctx);
    if (j->o->n_windows && j->o->n_windows < j->n_windows)
        j->n_windows = j->o->n_windows;
    return 0;
}

static int plan_windows(ppl_job *j, lp_err *err)
{
    j->first = lp_ppl_first(j->o->n_ctx);
    j->n_scored = j->o->n_ctx - 1 - j->first;
    j->group = j->o->kl_base ? 1 : j->q.max_windows; /* the base runs one at a time */
    j->wins = malloc(sizeof *j->wins * (size_t)j->group * (size_t)j->o->n_ctx);
    j->nll = malloc(sizeof *j->nll * (size_t)j->group * (size_t)j->n_scored);
    if (!j->wins || !j->nll)
        return lp_err_set(err, "out of memory");
    return 0;
}

static void job_free(ppl_job *j)
{
    ppl_pool_close(j->pool);
    ppl_local_close(&j->local);
    ppl_local_close(&j->base_local);
    lp_tokenizer_free(j->tok_owned);
    free(j->tokens);
    free(j->wins);
    free(j->nll);
    free(j->base_rows);
    free(j->kld);
    free(j->p_diff);
}

/* ---- scoring ------------------------------------------------------- */

/* Windows w .. w+n-1 of the text into wins, each with its first token
 * replaced by BOS as llama.cpp does (so every window starts as a document
 * would). */
static void load_windows(ppl_job *j, int w, int n)
{
    const size_t ctx = (size_t)j->o->n_ctx;
    j->w = w;
    memcpy(j->wins, j->tokens + (size_t)w * ctx, sizeof *j->wins * ctx * (size_t)n);
    for (int i = 0; i < n && lp_tokenizer_add_bos(j->tok); i++)
        if (lp_tokenizer_bos(j->tok) != LP_TOKEN_NULL)
            j->wins[(size_t)i * ctx] = lp_tokenizer_bos(j->tok);
}

/* One window's scores, kept until its group is done so that they are
 * summed in the text's order whatever order the windows finish in. */
typedef struct window_scores {
    ppl_job *j;
    double *nll; /* [n_scored] */
    int got;
} window_scores;

static int on_scores(void *user, int pos, int n, const double *nll, const int32_t *top,
                     lp_err *err)
{
    window_scores *ws = user;
    const ppl_job *j = ws->j;
    (void)top;
    if (pos < j->first || pos + n > j->o->n_ctx - 1)
        return lp_err_set(err, "scores for positions %d..%d, outside the scored %d..%d", pos,
                          pos + n - 1, j->first, j->o->n_ctx - 2);
    memcpy(ws->nll + (pos - j->first), nll, sizeof *nll * (size_t)n);
    ws->got += n;
    return 0;
}

/* Windows w .. w+n-1 through the model, their scores added in order and
 * the running PPL printed after each, as llama.cpp's "[k]x.xxxx,". */
static int score_group(ppl_job *j, int w, int n, lp_err *err)
{
    window_scores ws[PPL_MAX_GROUP];
    ppl_sink sinks[PPL_MAX_GROUP];
    const int32_t *wins[PPL_MAX_GROUP];
    load_windows(j, w, n);
    for (int i = 0; i < n; i++) {
        ws[i] = (window_scores){j, j->nll + (size_t)i * j->n_scored, 0};
        sinks[i] = (ppl_sink){.scores = on_scores, .user = &ws[i]};
        wins[i] = j->wins + (size_t)i * j->o->n_ctx;
    }
    if (j->q.windows(j->q.self, wins, n, j->o->n_ctx, sinks, err) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (ws[i].got != j->n_scored)
            return lp_err_set(err, "window %d: %d positions scored, expected %d", w + i + 1,
                              ws[i].got, j->n_scored);
        for (int k = 0; k < j->n_scored; k++)
            lp_ppl_add(&j->acc, ws[i].nll[k]);
        printf("[%d]%.4lf,", w + i + 1, lp_ppl_value(&j->acc));
    }
    fflush(stdout);
    return 0;
}

static int run_ppl(ppl_job *j, lp_err *err)
{
    for (int w = 0; w < j->n_windows; w += j->group) {
        const int n = j->n_windows - w < j->group ? j->n_windows - w : j->group;
        if (score_group(j, w, n, err) != 0)
            return -1;
    }
    double ppl, e;
    if (lp_ppl_estimate(&j->acc, &ppl, &e) != 0)
        return lp_err_set(err, "no spread in the log-probabilities to estimate an error from");
    printf("\nFinal estimate: PPL = %.4lf +/- %.5lf\n", ppl, e);
    return 0;
}

static int check_rows(const ppl_job *j, int pos, int n, lp_err *err)
{
    if (pos < j->first || pos + n > j->o->n_ctx - 1)
        return lp_err_set(err, "logits for positions %d..%d, outside the scored %d..%d", pos,
                          pos + n - 1, j->first, j->o->n_ctx - 2);
    return 0;
}

static int on_base_rows(void *user, int pos, int n, const float *rows, lp_err *err)
{
    ppl_job *j = user;
    const int nv = (int)j->q.hp->n_vocab;
    if (check_rows(j, pos, n, err) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        lp_kld_base_row(rows + (size_t)i * nv, nv, j->wins[pos + i + 1],
                        j->base_rows + (size_t)(pos + i - j->first) * j->row_len);
    return 0;
}

/* Figures for a window's position go to its slot in kld/p_diff, so the
 * order the rows arrive in does not matter. */
static int on_q_rows(void *user, int pos, int n, const float *rows, lp_err *err)
{
    ppl_job *j = user;
    const int nv = (int)j->q.hp->n_vocab;
    if (check_rows(j, pos, n, err) != 0)
        return -1;
    const size_t at = (size_t)j->w * (size_t)j->n_scored;
    for (int i = 0; i < n; i++) {
        const size_t k = (size_t)(pos + i - j->first);
        lp_kld_add(&j->kacc, rows + (size_t)i * nv, nv, j->base_rows + k * j->row_len,
                   j->wins[pos + i + 1], &j->kld[at + k], &j->p_diff[at + k]);
    }
    return 0;
}

static int run_kld(ppl_job *j, lp_err *err)
{
    const ppl_sink base_sink = {.rows = on_base_rows, .user = j};
    const ppl_sink q_sink = {.rows = on_q_rows, .user = j};
    ppl_report_kld_header(stdout);
    for (int w = 0; w < j->n_windows; w++) {
        load_windows(j, w, 1);
        const int32_t *win = j->wins;
        if (j->base.windows(j->base.self, &win, 1, j->o->n_ctx, &base_sink, err) != 0 ||
            j->q.windows(j->q.self, &win, 1, j->o->n_ctx, &q_sink, err) != 0)
            return -1;
        if (j->kacc.count != (size_t)(w + 1) * (size_t)j->n_scored)
            return lp_err_set(err, "window %d: %zu positions scored, expected %zu", w + 1,
                              j->kacc.count, (size_t)(w + 1) * (size_t)j->n_scored);
        ppl_report_kld_chunk(stdout, w + 1, &j->kacc);
    }
    ppl_report_kld_final(stdout, &j->kacc, j->kld, j->p_diff, j->kacc.count);
    return 0;
}

static int run(ppl_job *j, lp_err *err)
{
    if (open_model(j, err) != 0 || check_ctx(j, err) != 0 || tokenize(j, err) != 0 ||
        plan_windows(j, err) != 0)
        return -1;
    if (j->o->kl_base && open_base(j, err) != 0)
        return -1;
    fprintf(stderr, "perplexity: %zu tokens, %d windows of %d (positions %d..%d of each "
            "scored)%s\n", j->n_tokens, j->n_windows, j->o->n_ctx, j->first, j->o->n_ctx - 2,
            j->pool ? ", through the pool" : "");
    return j->o->kl_base ? run_kld(j, err) : run_ppl(j, err);
}

int cmd_perplexity(int argc, char **argv)
{
    ppl_opts o;
    int rc = ppl_opts_parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    ppl_job j = {.o = &o};
    lp_err err = {0};
    rc = run(&j, &err);
    if (rc != 0)
        fprintf(stderr, "coord perplexity: %s\n", err.msg);
    job_free(&j);
    return rc == 0 ? 0 : 1;
}
