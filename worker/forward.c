/* forward.c — one Forward: check it against the shard and the session,
 * run the layers, and pass the hidden states on (or, on the last shard,
 * sample and answer the coordinator). Whatever goes wrong ends in one
 * Error at the coordinator's result endpoint naming the session, and the
 * message goes no further. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "compute.h"
#include "logprob.h"
#include "score.h"
#include "wire_sampling.h"

enum { SEND_TIMEOUT_MS = 5000 };

int wk_step_refuse(wk_compute *c, const wk_step *s, uint32_t code, const char *fmt, ...)
{
    char msg[400], full[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "session %" PRIu64 ": %s", s->f->session, msg);
    wk_send_error(c, s->request_id, s->f->session, code, full);
    return -1;
}

/* Everything that can be checked before any state changes. */
int wk_step_check(wk_compute *c, wk_step *s)
{
    const Lp__Forward *f = s->f;
    const lp_shard *sh = c->shard;
    const lp_model *m = sh->model;
    s->slot = lp_kv_find(sh->kv, f->session);
    if (f->new_session && s->slot >= 0)
        return wk_step_refuse(c, s, LP_WIRE_ESESSION, "already open on this worker");
    if (!f->new_session && s->slot < 0)
        return wk_step_refuse(c, s, LP_WIRE_ESESSION,
                      "unknown on this worker (never opened, ended, or expired)");
    int len = s->slot >= 0 ? lp_kv_len(sh->kv, s->slot) : 0;
    if ((int64_t)f->pos0 != len)
        return wk_step_refuse(c, s, LP_WIRE_EPOS, "step at position %u, but the session holds %d "
                      "positions (out of order?)", f->pos0, len);
    if ((int64_t)f->pos0 + f->n_tokens > sh->opts.n_ctx)
        return wk_step_refuse(c, s, LP_WIRE_EPOS, "positions %u..%u are beyond the context of %d",
                      f->pos0, f->pos0 + f->n_tokens - 1, sh->opts.n_ctx);
    if ((int)f->n_tokens > sh->opts.n_batch)
        return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "%u tokens in one step, more than n_batch %d",
                      f->n_tokens, sh->opts.n_batch);
    char why[160];
    if (m->has_head && wk_score_check(f, m->hp.n_vocab, why, sizeof why) != 0)
        return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "%s", why);
    if (m->has_embed) {
        if (f->n_token_ids == 0)
            return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "the first shard needs token ids, not hidden states");
        lp_err err = {0};
        const lp_fwd_in in = {.n = (int)f->n_tokens, .tokens = f->token_ids};
        if (lp_forward_check_input(sh->run, &in, &err) != 0)
            return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "%s", err.msg);
        return 0;
    }
    if (f->hidden.len == 0)
        return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "layers from %d need hidden states, not token ids",
                      m->first);
    size_t want = lp_wire_hidden_bytes(f->dtype, f->n_tokens, m->hp.n_embd);
    if (f->hidden.len != want)
        return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "%zu bytes of hidden states, expected %u x %u %s "
                      "(%zu bytes)", f->hidden.len, f->n_tokens, m->hp.n_embd,
                      lp_type_traits_get(lp_wire_dtype_type(f->dtype))->name, want);
    return 0;
}

/* The session's sampler, made on the first sampled step. */
int wk_step_sampler(wk_compute *c, wk_step *s)
{
    wk_session *ss = &c->sessions->s[s->slot];
    if (ss->sampler || !s->f->sampling)
        return 0;
    lp_sampler_params p;
    lp_err err = {0};
    const uint32_t nv = c->shard->model->hp.n_vocab;
    if (lp_wire_sampling_to(s->f->sampling, &p, &err) != 0 ||
        !(ss->sampler = lp_sampler_new(&p, (int32_t)nv, &err)))
        return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "%s", err.msg);
    for (size_t i = 0; i < s->f->n_history; i++)
        if (lp_sampler_accept(ss->sampler, s->f->history[i], &err) != 0)
            return wk_step_refuse(c, s, LP_WIRE_EBADMSG, "history token %d outside the vocabulary of %u",
                          s->f->history[i], nv);
    return 0;
}

static void copy_times(const Lp__Forward *f, uint64_t *us, size_t *n, uint64_t mine)
{
    size_t k = f->n_compute_us < LP_WIRE_MAX_HOPS ? f->n_compute_us : LP_WIRE_MAX_HOPS - 1;
    if (k > 0)
        memcpy(us, f->compute_us, k * sizeof *us);
    us[k] = mine;
    *n = k + 1;
}

static int send_counted(wk_compute *c, void *sock, Lp__Envelope *env, const wk_step *s,
                        const char *what)
{
    lp_err err = {0};
    size_t bytes = lp__envelope__get_packed_size(env);
    int rc = lp_wire_send(sock, NULL, env, SEND_TIMEOUT_MS, &err);
    if (rc == 0) {
        atomic_fetch_add(&c->ctx->stats.bytes_out, bytes);
        if (s->f->n_tokens == 1) {
            atomic_fetch_add(&c->ctx->stats.decode_bytes_out, bytes);
            atomic_fetch_add(&c->ctx->stats.decode_msgs_out, 1);
        }
        return 0;
    }
    return wk_step_refuse(c, s, LP_WIRE_EINTERNAL, "cannot send to the %s: %s", what,
                  rc == 1 ? "not accepting (timed out)" : err.msg);
}

int wk_step_pass_on(wk_compute *c, const wk_step *s, const float *out, uint64_t us)
{
    const Lp__Forward *f = s->f;
    uint64_t times[LP_WIRE_MAX_HOPS];
    const uint32_t e = c->shard->model->hp.n_embd;
    Lp__Forward next = *f;
    next.n_token_ids = 0;
    next.token_ids = NULL;
    next.dtype = c->wire_dtype;
    next.hidden = (ProtobufCBinaryData){lp_wire_hidden_bytes(c->wire_dtype, f->n_tokens, e),
                                        (uint8_t *)out};
    if (c->wire_buf) { /* f16, bf16 or q8_0: converted row by row */
        const size_t row = lp_wire_hidden_bytes(c->wire_dtype, 1, e);
        for (uint32_t t = 0; t < f->n_tokens; t++)
            lp_quantize_row((lp_type)lp_wire_dtype_type(c->wire_dtype), out + (size_t)t * e,
                            c->wire_buf + t * row, e);
        next.hidden.data = c->wire_buf;
    }
    next.compute_us = times;
    copy_times(f, times, &next.n_compute_us, us);
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = s->request_id;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &next;
    return send_counted(c, c->next, &env, s, "next worker");
}

typedef struct result_send {
    wk_compute *c;
    const wk_step *s;
} result_send;

static int send_result(void *ctx, Lp__Result *r)
{
    const result_send *rs = ctx;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = rs->s->request_id;
    env.body_case = LP__ENVELOPE__BODY_RESULT;
    env.result = r;
    return send_counted(rs->c, rs->c->result, &env, rs->s, "coordinator's result endpoint");
}

int wk_step_answer(wk_compute *c, const wk_step *s, const float *logits, uint64_t us)
{
    const Lp__Forward *f = s->f;
    const int nv = (int)c->shard->model->hp.n_vocab;
    lp_sampler *smp = c->sessions->s[s->slot].sampler;
    uint64_t times[LP_WIRE_MAX_HOPS];
    Lp__Result r = LP__RESULT__INIT;
    r.session = f->session;
    r.pos = f->pos0 + f->n_tokens;
    r.token = -1;
    r.compute_us = times;
    copy_times(f, times, &r.n_compute_us, us);
    result_send rs = {c, s};
    if (f->n_score_targets > 0) {
        int rc = wk_score_answer(f, logits, (uint32_t)nv, &r, send_result, &rs);
        return rc == -2 ? wk_step_refuse(c, s, LP_WIRE_EINTERNAL, "scoring: out of memory") : rc;
    }
    int32_t ids[LP_WIRE_MAX_TOP];
    float lps[LP_WIRE_MAX_TOP];
    Lp__TokenLogprob tops[LP_WIRE_MAX_TOP], *top_ptrs[LP_WIRE_MAX_TOP];
    if (f->sampling || f->sample) {
        lp_err err = {0};
        if (!smp)
            return wk_step_refuse(c, s, LP_WIRE_ESESSION, "asked to sample before any step brought the "
                          "sampling settings");
        if ((r.token = lp_sampler_sample(smp, logits, &err)) < 0 ||
            lp_sampler_accept(smp, r.token, &err) != 0)
            return wk_step_refuse(c, s, LP_WIRE_EINTERNAL, "sampling: %s", err.msg);
        if (f->logprob || f->top_logprobs > 0) {
            double lse = wk_log_sum_exp(logits, nv);
            r.logprob = (float)(logits[r.token] - lse);
            int k = wk_top_logprobs(logits, nv, lse, (int)f->top_logprobs, ids, lps);
            for (int i = 0; i < k; i++) {
                lp__token_logprob__init(&tops[i]);
                tops[i].token = ids[i];
                tops[i].logprob = lps[i];
                top_ptrs[i] = &tops[i];
            }
            r.n_top = (size_t)k;
            r.top = top_ptrs;
        }
    }
    return send_result(&rs, &r);
}

static int run_layers(wk_compute *c, wk_step *s, const float **out)
{
    const Lp__Forward *f = s->f;
    lp_fwd_in in = {.n = (int)f->n_tokens, .pos0 = (int)f->pos0,
                    .n_logits = wk_score_n_logits(f)};
    if (c->shard->model->has_embed) {
        in.tokens = f->token_ids;
    } else {
        in.hidden = f->hidden.data; /* copied (or converted) once, into the run */
        in.hidden_type = lp_wire_dtype_type(f->dtype);
    }
    lp_err err = {0};
    if (lp_forward(c->shard->run, c->shard->kv, s->slot, &in, out, &err) != 0)
        return wk_step_refuse(c, s, LP_WIRE_EINTERNAL, "forward: %s", err.msg);
    return 0;
}

static int run_step(wk_compute *c, wk_step *s)
{
    if (wk_step_check(c, s) != 0)
        return -1;
    lp_err err = {0};
    if (s->f->new_session) {
        if ((s->slot = wk_sessions_open(c->sessions, c->shard->kv, s->f->session, lp_now_ms(),
                                        &err)) < 0)
            return wk_step_refuse(c, s, LP_WIRE_ESESSION, "%s", err.msg);
        s->opened = true;
    }
    c->sessions->s[s->slot].last_used_ms = lp_now_ms();
    if (c->shard->model->has_head && wk_step_sampler(c, s) != 0)
        return -1;
    int64_t t0 = lp_now_us();
    const float *out;
    if (run_layers(c, s, &out) != 0)
        return -1;
    uint64_t us = (uint64_t)(lp_now_us() - t0);
    atomic_fetch_add(&c->ctx->stats.tokens_processed, s->f->n_tokens);
    atomic_fetch_add(&c->ctx->stats.compute_us, us);
    wk_publish_stats(c);
    return c->shard->model->has_head ? wk_step_answer(c, s, out, us) : wk_step_pass_on(c, s, out, us);
}

void wk_forward(wk_compute *c, const Lp__Envelope *env)
{
    wk_step s = {.f = env->forward, .request_id = env->request_id, .slot = -1};
    if (!c->shard) {
        wk_step_refuse(c, &s, LP_WIRE_ESTATE, "no shard is loaded on this worker");
        return;
    }
    /* A step that opened its session and then failed leaves nothing behind. */
    if (run_step(c, &s) != 0 && s.opened && s.slot >= 0) {
        wk_sessions_close(c->sessions, c->shard->kv, s.slot);
        wk_publish_stats(c);
    }
}
