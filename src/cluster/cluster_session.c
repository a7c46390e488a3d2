/* cluster_session.c — sessions on the data path: prompt chunks to worker
 * 0, one Forward per generated token, Results back, and ending sessions so
 * every worker frees their KV. */
#include "cluster_internal.h"
#include "wire_sampling.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "pipe_model.h"
#include "vec.h"

/* The session whose steps carry wire id `wire`. */
static cl_session *find(lp_cluster *c, uint64_t wire)
{
    for (int i = 0; i < c->n_s; i++)
        if (c->s[i].wire == wire)
            return &c->s[i];
    return NULL;
}

static bool grow(lp_cluster *c)
{
    cl_session *s = lp_vec_reserve(c->s, &c->cap_s, (size_t)c->n_s, 1, sizeof *s);
    if (s)
        c->s = s;
    return s != NULL;
}

static int check_request(const lp_cluster *c, const lp_session_req *req, lp_err *err)
{
    /* a scoring session generates nothing, so its prompt may fill the context */
    const int max_prompt = req->score_cb ? c->o.n_ctx : c->o.n_ctx - 1;
    if (!c->ready && !cl_recovering(c, lp_now_ms()))
        return lp_err_set(err, "the pool is not ready (a worker is lost or loading)");
    if (req->n_prompt < 1 || req->n_prompt > max_prompt)
        return lp_err_set(err, "prompt of %d tokens: a session takes 1..%d", req->n_prompt,
                          max_prompt);
    if (req->score_cb)
        return req->score_from >= 0 && req->score_from < req->n_prompt ? 0
               : lp_err_set(err, "scoring from position %d of a %d-token prompt",
                            req->score_from, req->n_prompt);
    if (req->top_logprobs < 0 || req->top_logprobs > LP_CLUSTER_MAX_TOP)
        return lp_err_set(err, "top_logprobs %d is outside 0..%d", req->top_logprobs,
                          LP_CLUSTER_MAX_TOP);
    return lp_sampler_params_validate(&req->sampling, err);
}

/* A session id no one can guess (a Result or Error names its session,
 * so a sequential id would let a peer aim at another user's stream), and
 * none in use here. 0 when the system gives no randomness. */
static uint64_t new_session_id(const lp_cluster *c)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t id = 0;
        if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
            continue;
        bool taken = id == 0;
        for (int i = 0; i < c->n_s && !taken; i++)
            taken = c->s[i].id == id || c->s[i].wire == id;
        for (int i = 0; i < c->n_closing && !taken; i++)
            taken = c->closing[i].session == id;
        if (!taken)
            return id;
    }
    return 0;
}

uint64_t lp_cluster_start(lp_cluster *c, const lp_session_req *req, lp_err *err)
{
    if (check_request(c, req, err) != 0)
        return 0;
    const uint64_t id = new_session_id(c);
    if (!id)
        return lp_err_set(err, "no random session id: getrandom failed"), 0;
    int32_t *prompt = malloc(sizeof *prompt * (size_t)req->n_prompt);
    if (!prompt || !grow(c)) {
        free(prompt);
        lp_err_set(err, "out of memory");
        return 0;
    }
    memcpy(prompt, req->prompt, sizeof *prompt * (size_t)req->n_prompt);
    c->s[c->n_s] = (cl_session){.id = id, .wire = id, .prompt = prompt,
                                .n_prompt = req->n_prompt,
                                .sampling = req->sampling, .logprob = req->logprob,
                                .top_logprobs = req->top_logprobs,
                                .cb = req->cb, .user = req->user, .score_cb = req->score_cb,
                                .score_from = req->score_from, .score_rows = req->score_rows};
    if (!c->ready) { /* recovering: it waits as the interrupted ones do */
        c->s[c->n_s].lost_ms = lp_now_ms();
        snprintf(c->s[c->n_s].lost_why, sizeof c->s[c->n_s].lost_why, "%s", c->lost_why);
    }
    return c->s[c->n_s++].id;
}

/* One Forward of n tokens at pos0; `last` steps end in a Result. */
static int send_step(lp_cluster *c, cl_session *s, const int32_t *toks, int n, int pos0,
                     bool first, bool last, lp_err *err)
{
    Lp__SamplingParams sp;
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = s->wire;
    f.pos0 = (uint32_t)pos0;
    f.n_tokens = (uint32_t)n;
    f.token_ids = (int32_t *)(uintptr_t)toks;
    f.n_token_ids = (size_t)n;
    f.new_session = first;
    f.top_logprobs = (uint32_t)s->top_logprobs;
    f.logprob = s->logprob || s->top_logprobs > 0;
    cl_score_fill(s, &f, pos0, n);
    if (last && pos0 + n == s->n_prompt) { /* the prompt's last chunk: the sampler starts */
        lp_wire_sampling_from(&sp, &s->sampling);
        f.sampling = &sp;
        f.history = s->prompt;
        f.n_history = (size_t)s->n_prompt;
    } else if (last) {
        f.sample = true; /* a decode step: the sampler the last worker made then */
    }
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = s->wire;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &f;
    if (lp_wire_send(c->data_push, NULL, &env, c->o.dead_after_ms, err) != 0)
        return lp_err_set(err, "could not hand session %llu to worker %s",
                          (unsigned long long)s->id, c->w[0].info.name);
    s->pending++;
    return 0;
}

int lp_cluster_prompt_chunk(const lp_cluster *c, int n_prompt)
{
    int k = c->o.prompt_chunk;
    if (k <= 0) {
        lp_pipe_model m = {.n = c->n_workers < LP_PIPE_MAX ? c->n_workers : LP_PIPE_MAX};
        for (int i = 0; i < m.n; i++) {
            const lp_cluster_worker *w = &c->w[i].info;
            m.stage_ms[i] = w->decode_steps ? w->decode_us / 1e3 / (double)w->decode_steps : 0;
            m.prompt_ms[i] = w->prompt_tokens ? w->prompt_us / 1e3 / (double)w->prompt_tokens : 0;
        }
        if ((k = lp_pipe_chunk(&m, n_prompt, c->o.n_batch)) <= 0)
            k = 64; /* until measured: enough rows for the tiles, a 512-token prompt in 8 */
    }
    return k < c->o.n_batch ? k : c->o.n_batch;
}

static int send_prompt(lp_cluster *c, cl_session *s, lp_err *err)
{
    if (!s->chunk) /* kept: a replay must cut the prompt as it was cut */
        s->chunk = lp_cluster_prompt_chunk(c, s->n_prompt);
    const int chunk = s->chunk;
    for (int done = 0; done < s->n_prompt;) {
        int n = s->n_prompt - done < chunk ? s->n_prompt - done : chunk;
        const bool last = done + n == s->n_prompt && !s->score_cb; /* scoring samples nothing */
        if (send_step(c, s, s->prompt + done, n, done, done == 0, last, err) != 0)
            return -1;
        done += n;
    }
    s->started = true;
    s->sent_ms = lp_now_ms();
    s->step_tokens = s->n_prompt;
    return 0;
}

static cl_closing *add_closing(lp_cluster *c, uint64_t id)
{
    cl_closing *v = lp_vec_reserve(c->closing, &c->cap_closing, (size_t)c->n_closing, 1,
                                   sizeof *v);
    if (!v)
        return NULL; /* then the slot is simply counted free at once */
    c->closing = v;
    cl_closing *e = &c->closing[c->n_closing++];
    *e = (cl_closing){.session = id, .since_ms = lp_now_ms()};
    return e;
}

static void end_on_workers(lp_cluster *c, uint64_t id)
{
    Lp__EndSession es = LP__END_SESSION__INIT;
    es.session = id;
    cl_closing *e = add_closing(c, id);
    for (int i = 0; i < c->n_workers; i++) {
        Lp__Envelope env = LP__ENVELOPE__INIT;
        env.request_id = ++c->hb_seq;
        env.body_case = LP__ENVELOPE__BODY_END_SESSION;
        env.end_session = &es;
        bool sent = c->w[i].info.alive && lp_wire_send(c->w[i].ctl, NULL, &env, 0, NULL) == 0;
        if (e && sent) {
            e->req[i] = env.request_id;
            e->pending++;
        }
    }
    if (e && e->pending == 0)
        c->n_closing--;
}

void cl_on_end_ack(lp_cluster *c, int worker, uint64_t request_id)
{
    for (int k = 0; k < c->n_closing; k++) {
        cl_closing *e = &c->closing[k];
        if (e->req[worker] != request_id)
            continue;
        e->req[worker] = 0;
        if (--e->pending == 0)
            c->closing[k] = c->closing[--c->n_closing];
        return;
    }
}

/* A worker that never answers (lost) must not hold a slot forever. */
void cl_expire_closing(lp_cluster *c)
{
    int64_t now = lp_now_ms();
    for (int k = 0; k < c->n_closing; k++)
        if (now - c->closing[k].since_ms > 2 * c->o.dead_after_ms)
            c->closing[k--] = c->closing[--c->n_closing];
}

/* The session's last callback, then it is gone (index i of c->s). */
static void finish(lp_cluster *c, int i, const char *error)
{
    cl_session s = c->s[i];
    c->s[i] = c->s[--c->n_s];
    if (s.started)
        end_on_workers(c, s.wire);
    s.cb(s.user, s.id, NULL, error);
    free(s.prompt);
    free(s.gen);
}

void cl_fail_all(lp_cluster *c, const char *why)
{
    while (c->n_s > 0)
        finish(c, c->n_s - 1, why);
}

void lp_cluster_cancel(lp_cluster *c, uint64_t session)
{
    for (int i = 0; i < c->n_s; i++)
        if (c->s[i].id == session) {
            cl_session s = c->s[i];
            c->s[i] = c->s[--c->n_s];
            if (s.started)
                end_on_workers(c, s.wire);
            free(s.prompt);
            free(s.gen);
            return;
        }
}

static int n_started(const lp_cluster *c)
{
    int n = c->n_closing;
    for (int i = 0; i < c->n_s; i++)
        n += c->s[i].started;
    return n;
}

/* A session that waited for recovery in vain, or a new one while the pool
 * is not whole. */
static void give_up(lp_cluster *c, int i)
{
    char why[700];
    const cl_session *s = &c->s[i];
    if (!s->lost_ms) {
        finish(c, i, "the pool is not ready (a worker is lost or loading)");
        return;
    }
    snprintf(why, sizeof why, "%s, and the pool was not whole again within %.0f s", s->lost_why,
             c->o.recover_ms / 1000.0);
    c->rec.gave_up++;
    finish(c, i, why);
}

/* A replay sends the steps the session took, all at once: its prompt in
 * the chunks it was cut in, then one decode step per token generated.
 * (One prefill of it all would be faster, but a batch computes the KV in
 * another order than single steps did, and a greedy run that differs by a
 * rounding then picks another token thousands of tokens later.) */
static int replay(lp_cluster *c, cl_session *s, lp_err *err)
{
    cl_log(c, "replaying a session's %d + %d tokens after %.1f s", s->n_prompt,
            s->n_gen, (lp_now_ms() - s->lost_ms) / 1000.0);
    c->rec.replays++;
    c->rec.replayed_tokens += (uint64_t)(s->n_prompt + s->n_gen);
    s->lost_ms = 0;
    if (send_prompt(c, s, err) != 0)
        return -1;
    for (int j = 0; j < s->n_gen; j++)
        if (send_step(c, s, &s->gen[j], 1, s->n_prompt + j, false, true, err) != 0)
            return -1;
    s->swallow = s->n_gen;
    s->step_tokens = s->n_prompt + s->n_gen;
    return 0;
}

static int replay_or_start(lp_cluster *c, cl_session *s, lp_err *err)
{
    if (s->lost_ms && (s->n_gen > 0 || s->chunk))
        return replay(c, s, err);
    s->lost_ms = 0; /* a session that came while the pool recovered: a plain start */
    return send_prompt(c, s, err);
}

/* Start queued sessions while slots are free. */
int cl_drive_sessions(lp_cluster *c, lp_err *err)
{
    (void)err;
    cl_expire_closing(c);
    const int64_t now = lp_now_ms();
    for (int i = 0; i < c->n_s; i++) {
        cl_session *s = &c->s[i];
        if (s->started)
            continue;
        lp_err serr = {0};
        if (!c->ready && s->lost_ms && now - s->lost_ms < c->o.recover_ms)
            continue; /* waits for the lost worker's replacement */
        if (!c->ready)
            give_up(c, i--);
        else if (n_started(c) < c->o.n_slots && replay_or_start(c, s, &serr) != 0)
            finish(c, i--, serr.msg);
    }
    return 0;
}

/* How long the steps a session awaits may take: 10x what the measured
 * speed of every stage says for their tokens, at least step_timeout_ms
 * (10x that before anything is measured). */
static int64_t deadline_ms(const lp_cluster *c, const cl_session *s)
{
    double per_token = 0, per_step = 0;
    for (int i = 0; i < c->n_workers; i++) {
        const lp_cluster_worker *w = &c->w[i].info;
        per_token += w->prompt_tokens ? w->prompt_us / 1e3 / (double)w->prompt_tokens : 0;
        per_step += w->decode_steps ? w->decode_us / 1e3 / (double)w->decode_steps : 0;
    }
    if (per_token == 0 && per_step == 0) /* nothing measured yet: a big model's first chunk */
        return 10 * (int64_t)c->o.step_timeout_ms;
    const double want = 10 * (s->step_tokens > 1 ? per_token * s->step_tokens : per_step);
    return want > c->o.step_timeout_ms ? (int64_t)want : c->o.step_timeout_ms;
}

void cl_check_deadlines(lp_cluster *c, int64_t now)
{
    char why[300];
    for (int i = 0; c->o.step_timeout_ms > 0 && i < c->n_s; i++) {
        const cl_session *s = &c->s[i];
        if (!s->started || s->pending == 0 || now - s->sent_ms <= deadline_ms(c, s))
            continue;
        snprintf(why, sizeof why, "a step of %d token(s) did not come back within %.1f s "
                 "(a worker is stuck, or a link between workers drops messages)",
                 s->step_tokens, deadline_ms(c, s) / 1000.0);
        cl_log(c, "%s", why);
        finish(c, i--, why);
    }
}

void cl_interrupt_all(lp_cluster *c, const char *why)
{
    const int64_t now = lp_now_ms();
    int waiting = 0;
    for (int i = 0; i < c->n_s; i++) {
        cl_session *s = &c->s[i];
        if (c->o.recover_ms <= 0 || s->score_cb) { /* a scoring session is not replayed */
            finish(c, i--, why);
            continue;
        }
        if (s->started)
            end_on_workers(c, s->wire); /* the KV it had on the others */
        const uint64_t wire = new_session_id(c);
        if (!wire) {
            finish(c, i--, why);
            continue;
        }
        s->wire = wire;
        s->started = false;
        s->pending = 0;
        s->swallow = 0;
        s->acct_pos = 0;
        if (!s->lost_ms) {
            s->lost_ms = now;
            snprintf(s->lost_why, sizeof s->lost_why, "%s", why);
        }
        waiting++;
    }
    if (waiting)
        cl_log(c, "%d session(s) wait up to %.0f s for the pool to be whole "
                "again, then are replayed", waiting, c->o.recover_ms / 1000.0);
}

/* Each hop's compute time; a decode step (one token after the prompt)
 * counts towards the per-token figure, a prompt chunk (its tokens: the
 * positions since the session's last Result) towards the per-prompt-token
 * one, which lp_cluster_prompt_chunk reads. */
static void account(lp_cluster *c, cl_session *s, const Lp__Result *r, bool decode)
{
    const uint32_t n = r->pos > s->acct_pos ? r->pos - s->acct_pos : 0;
    s->acct_pos = r->pos > s->acct_pos ? r->pos : s->acct_pos;
    for (size_t i = 0; i < r->n_compute_us && i < (size_t)c->n_workers; i++) {
        lp_cluster_worker *w = &c->w[i].info;
        w->compute_us += r->compute_us[i];
        w->steps++;
        w->decode_us += decode ? r->compute_us[i] : 0;
        w->decode_steps += decode;
        w->prompt_us += !decode && n > 0 ? r->compute_us[i] : 0;
        w->prompt_tokens += !decode ? n : 0;
    }
}

/* A scoring session ends once every chunk's last Result is in. */
static int on_score_result(lp_cluster *c, int idx, const Lp__Result *r)
{
    cl_session *s = &c->s[idx];
    char why[300];
    int rc = cl_score_deliver(c, s, r, why, sizeof why);
    if (rc != 0) {
        finish(c, idx, rc < 0 ? why : NULL);
        return 0;
    }
    if (r->more)
        return 0;
    account(c, s, r, false);
    if (--s->pending == 0)
        finish(c, idx, NULL);
    return 0;
}

/* With CURVE, a Result counts only from the last worker (the ZAP handler
 * vouched for the sender by its key); an Error may come from any worker. */
static bool from_last(const lp_cluster *c, const Lp__Envelope *env, const char *from)
{
    char last[16];
    snprintf(last, sizeof last, "%d", c->n_workers - 1);
    return !c->o.key || env->body_case != LP__ENVELOPE__BODY_RESULT || !strcmp(from, last);
}

uint64_t lp_cluster_results_dropped(const lp_cluster *c)
{
    return c->forged;
}

lp_cluster_recovery lp_cluster_get_recovery(const lp_cluster *c)
{
    return c->rec;
}

int cl_on_result(lp_cluster *c, const Lp__Envelope *env, const char *from)
{
    if (!from_last(c, env, from)) {
        c->forged++;
        return 0;
    }
    uint64_t id = env->body_case == LP__ENVELOPE__BODY_RESULT ? env->result->session
                                                               : env->request_id;
    cl_session *s = find(c, id);
    if (!s || s->pending == 0)
        return 0; /* cancelled, or not ours: nothing to do */
    int idx = (int)(s - c->s);
    if (env->body_case == LP__ENVELOPE__BODY_ERROR) {
        char why[600];
        snprintf(why, sizeof why, "a worker failed the step: %s", env->error->message);
        finish(c, idx, why);
        return 0;
    }
    if (env->body_case != LP__ENVELOPE__BODY_RESULT)
        return 0;
    if (s->score_cb)
        return on_score_result(c, idx, env->result);
    account(c, s, env->result, s->n_gen > 0); /* the first token ends the prompt's steps */
    s->pending--;
    int32_t tok = env->result->token;
    if (tok < 0)
        return 0; /* an inner prompt chunk went through */
    if (s->swallow > 0) { /* a replayed step: the token it gave before */
        const int k = s->n_gen - s->swallow--;
        if (tok != s->gen[k])
            finish(c, idx, "after a lost worker the replay did not give the same tokens "
                           "again (a worker computes differently now): the text cannot go on");
        return 0;
    }
    int32_t *g = lp_vec_reserve(s->gen, &s->cap_gen, (size_t)s->n_gen, 1, sizeof *g);
    if (!g) {
        finish(c, idx, "out of memory");
        return 0;
    }
    s->gen = g;
    g[s->n_gen++] = tok; /* kept for a replay */
    lp_sampled sm = {.token = tok, .logprob = env->result->logprob};
    for (size_t k = 0; k < env->result->n_top && k < LP_CLUSTER_MAX_TOP; k++, sm.n_top++) {
        sm.top_token[k] = env->result->top[k]->token;
        sm.top_logprob[k] = env->result->top[k]->logprob;
    }
    bool go_on = s->cb(s->user, s->id, &sm, NULL);
    int pos = s->n_prompt + s->n_gen - 1; /* where tok is fed */
    lp_err err = {0};
    if (!go_on || pos >= c->o.n_ctx) /* the context guard: never a step past it */
        finish(c, idx, NULL);
    else if (send_step(c, s, &tok, 1, pos, false, true, &err) != 0)
        finish(c, idx, err.msg);
    else {
        s->sent_ms = lp_now_ms();
        s->step_tokens = 1;
    }
    return 0;
}
