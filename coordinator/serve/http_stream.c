#include "http_stream.h"

#include <stdlib.h>
#include <string.h>

#include "vec.h"

void sv_out_init(sv_out *o, const sv_api_req *req, uint64_t request_id, const char *model)
{
    memset(o, 0, sizeof *o);
    o->req = req;
    sv_oa_ctx_init(&o->oa, req->kind, request_id, model);
}

void sv_out_free(sv_out *o)
{
    sv_gen_free(&o->gen);
    sv_oa_logprobs_free(o->lp);
    free(o->buf);
    memset(o, 0, sizeof *o);
}

static int put(sv_out *o, const char *s, size_t n)
{
    char *b = lp_vec_reserve(o->buf, &o->cap, o->len, n + 1, 1);
    if (!b)
        return -1;
    o->buf = b;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
    return 0;
}

/* One Server-Sent Event carrying json (taken; NULL: out of memory). */
static int put_event(sv_out *o, char *json)
{
    int rc = json ? 0 : -1;
    rc = rc ? rc : put(o, "data: ", 6);
    rc = rc ? rc : put(o, json, strlen(json));
    rc = rc ? rc : put(o, "\n\n", 2);
    free(json);
    return rc;
}

static int keep_logprobs(sv_out *o)
{
    if (o->req->logprobs < 0)
        return 0;
    if (!o->lp && !(o->lp = sv_oa_logprobs_new(o->req->kind)))
        return -1;
    return sv_oa_logprobs_add(o->lp, o->req->kind, o->gen.tok, &o->gen.last,
                              o->gen.piece_bytes);
}

static sv_usage usage(const sv_out *o)
{
    return (sv_usage){o->gen.n_prompt, o->gen.n_gen};
}

/* Streaming: turn one event into chunks. -1 out of memory. */
static int stream_event(sv_out *o, sv_gen_ev ev, const char *text, size_t len)
{
    void *lp;
    int rc = 0;
    switch (ev) {
    case SV_GEN_TOKEN:
        if (keep_logprobs(o) != 0)
            return -1;
        if (len == 0) /* held back (a stop string may be starting): nothing yet */
            return 0;
        lp = o->lp;
        o->lp = NULL;
        return put_event(o, sv_oa_chunk(&o->oa, text, len, false, NULL, lp));
    case SV_GEN_END:
        lp = o->lp;
        o->lp = NULL;
        if (len > 0 || lp)
            rc = put_event(o, sv_oa_chunk(&o->oa, text, len, false, NULL, lp));
        rc = rc ? rc : put_event(o, sv_oa_chunk(&o->oa, "", 0, false, o->gen.finish, NULL));
        if (rc == 0 && o->req->include_usage)
            rc = put_event(o, sv_oa_usage_chunk(&o->oa, usage(o)));
        rc = rc ? rc : put(o, "data: [DONE]\n\n", 14);
        break;
    case SV_GEN_FAILED:
        rc = put_event(o, sv_oa_error(503, o->gen.error));
        break;
    case SV_GEN_GONE:
        break;
    }
    o->done = true;
    return rc;
}

static int error_status(sv_out *o, int status, const char *msg, char **body)
{
    *body = sv_oa_error(status, msg);
    o->done = true;
    return status;
}

int sv_out_answer(sv_out *o, char **body)
{
    *body = NULL;
    for (;;) {
        const char *text;
        size_t len;
        sv_gen_ev ev = sv_gen_next(&o->gen, &text, &len);
        if (ev == SV_GEN_GONE)
            return 0;
        if (ev == SV_GEN_FAILED)
            return error_status(o, 503, o->gen.error, body);
        if ((ev == SV_GEN_TOKEN && keep_logprobs(o) != 0) || put(o, text, len) != 0)
            return error_status(o, 500, "out of memory", body);
        if (ev == SV_GEN_END)
            break;
    }
    void *lp = o->lp;
    o->lp = NULL;
    o->done = true;
    if (!(*body = sv_oa_final(&o->oa, o->buf ? o->buf : "", o->len, o->gen.finish, lp,
                              usage(o))))
        return error_status(o, 500, "out of memory", body);
    return 200;
}

int sv_out_stream_begin(sv_out *o, char **body)
{
    const char *text;
    size_t len;
    *body = NULL;
    sv_gen_ev ev = sv_gen_next(&o->gen, &text, &len);
    if (ev == SV_GEN_GONE)
        return 0;
    if (ev == SV_GEN_FAILED)
        return error_status(o, 503, o->gen.error, body);
    /* The chat stream opens with the assistant's role, as OpenAI's does. */
    int rc = 0;
    if (o->req->kind == SV_API_CHAT)
        rc = put_event(o, sv_oa_chunk(&o->oa, "", 0, true, NULL, NULL));
    if (rc != 0 || stream_event(o, ev, text, len) != 0)
        return error_status(o, 500, "out of memory", body);
    return 200;
}

ssize_t sv_out_read(sv_out *o, char *dst, size_t max)
{
    while (o->sent == o->len) {
        o->sent = o->len = 0;
        if (o->done)
            return -1;
        const char *text;
        size_t len;
        sv_gen_ev ev = sv_gen_next(&o->gen, &text, &len);
        if (ev == SV_GEN_GONE || stream_event(o, ev, text, len) != 0)
            return -2;
    }
    size_t n = o->len - o->sent < max ? o->len - o->sent : max;
    memcpy(dst, o->buf + o->sent, n);
    o->sent += n;
    return (ssize_t)n;
}
