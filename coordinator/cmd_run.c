/* coord run — generate on this machine with one shard holding every layer:
 * text or token ids in, streamed text or ids out, speed on stderr. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "generate.h"
#include "run_opts.h"
#include "sampler.h"
#include "shard.h"
#include "tokenizer.h"

/* What one generation holds; every pointer is owned here. */
typedef struct session {
    lp_shard *shard;
    lp_tokenizer *tok;      /* NULL if the model has none and ids suffice */
    lp_sampler *sampler;
    lp_detok_stream *detok; /* text output only */
    lp_token *prompt;
    size_t n_prompt;
} session;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int load_prompt(session *s, const run_opts *o, lp_err *err)
{
    if (o->tokens) {
        s->prompt = malloc(sizeof *s->prompt * (size_t)o->n_tokens);
        if (!s->prompt)
            return lp_err_set(err, "out of memory");
        memcpy(s->prompt, o->tokens, sizeof *s->prompt * (size_t)o->n_tokens);
        s->n_prompt = (size_t)o->n_tokens;
        return 0;
    }
    size_t len = strlen(o->prompt), bad;
    if (!lp_utf8_valid(o->prompt, len, &bad))
        return lp_err_set(err, "the prompt is not valid UTF-8 (byte %zu)", bad);
    if (lp_tokenize(s->tok, o->prompt, len, true, true, &s->prompt, &s->n_prompt, err) != 0)
        return -1;
    if (s->n_prompt == 0)
        return lp_err_set(err, "the prompt is empty");
    return 0;
}

static int open_session(session *s, const run_opts *o, lp_err *err)
{
    if (!(s->shard = lp_shard_open(o->model, &o->shard, err)))
        return -1;
    if (lp_gguf_find(s->shard->gguf, "tokenizer.ggml.model") &&
        !(s->tok = lp_tokenizer_load(s->shard->gguf, err)))
        return -1;
    if (!s->tok && (o->prompt || !o->ids))
        return lp_err_set(err, "this model has no tokenizer: use --tokens and --ids");
    if (!o->ids && !(s->detok = lp_detok_stream_new(s->tok, false, true, err)))
        return -1;
    if (!(s->sampler = lp_sampler_new(&o->sampling, (int32_t)s->shard->model->hp.n_vocab, err)))
        return -1;
    if (lp_kv_open(s->shard->kv, 1, err) < 0 || load_prompt(s, o, err) != 0)
        return -1;
    for (size_t i = 0; i < s->n_prompt; i++)
        if (lp_sampler_accept(s->sampler, s->prompt[i], err) != 0)
            return -1;
    return 0;
}

static void close_session(session *s)
{
    free(s->prompt);
    lp_detok_stream_free(s->detok);
    lp_sampler_free(s->sampler);
    lp_tokenizer_free(s->tok);
    lp_shard_close(s->shard);
}

static bool is_end(const session *s, lp_token t)
{
    if (s->tok)
        return lp_tokenizer_is_eog(s->tok, t);
    uint32_t eos;
    return lp_gguf_get_u32(s->shard->gguf, "tokenizer.ggml.eos_token_id", &eos) == 0 &&
           (uint32_t)t == eos;
}

static void emit(session *s, const run_opts *o, lp_token t, long i)
{
    size_t len = 0;
    const char *text = NULL;
    if (o->ids)
        printf("%s%d", i ? "," : "", t);
    else if ((text = lp_detok_stream_push(s->detok, t, &len)) && len)
        fwrite(text, 1, len, stdout);
    fflush(stdout);
}

static void finish_output(session *s, const run_opts *o)
{
    size_t len = 0;
    const char *text = o->ids ? NULL : lp_detok_stream_flush(s->detok, &len);
    if (text && len)
        fwrite(text, 1, len, stdout);
    printf("\n");
    fflush(stdout);
}

static void report_speed(long n_prompt, double t_prompt, long n_gen, double t_gen)
{
    fprintf(stderr, "prompt eval: %ld tokens in %.2f ms (%.2f tok/s)\n", n_prompt,
            t_prompt * 1e3, n_prompt / t_prompt);
    fprintf(stderr, "generation:  %ld tokens in %.2f ms (%.2f tok/s)\n", n_gen, t_gen * 1e3,
            n_gen > 0 && t_gen > 0 ? n_gen / t_gen : 0.0);
}

/* Prefill, then sample-and-feed until n_predict tokens or end of text. */
static int generate(session *s, const run_opts *o, lp_err *err)
{
    const float *logits;
    const int n_ctx = s->shard->opts.n_ctx;
    if ((long)s->n_prompt + o->n_predict > n_ctx)
        return lp_err_set(err, "prompt (%zu tokens) + tokens to generate (%ld) exceed the "
                          "context of %d (raise -c or lower -n)", s->n_prompt, o->n_predict, n_ctx);
    if (!o->ids && o->prompt) {
        fputs(o->prompt, stdout);
        fflush(stdout);
    }
    double t0 = now_s();
    if (lp_prefill(s->shard, 0, s->prompt, (int)s->n_prompt, &logits, err) != 0)
        return -1;
    double t1 = now_s();
    long n_gen = 0;
    while (n_gen < o->n_predict) {
        lp_token t = lp_sampler_sample(s->sampler, logits, err);
        if (t < 0 || lp_sampler_accept(s->sampler, t, err) != 0)
            return -1;
        if (is_end(s, t) && !o->ignore_eos)
            break;
        emit(s, o, t, n_gen++);
        if (n_gen < o->n_predict && lp_decode_one(s->shard, 0, t, &logits, err) != 0)
            return -1;
    }
    finish_output(s, o);
    report_speed((long)s->n_prompt, t1 - t0, n_gen, now_s() - t1);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = run_opts_parse(argc, argv, &o);
    if (rc != 0) {
        run_opts_free(&o);
        return rc > 0 ? 0 : 2;
    }
    lp_err err = {0};
    session s = {0};
    rc = open_session(&s, &o, &err) == 0 && generate(&s, &o, &err) == 0 ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "coord run: %s\n", err.msg);
    close_session(&s);
    run_opts_free(&o);
    return rc;
}
