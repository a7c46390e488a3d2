#include "http_openai.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cJSON reports a failed allocation only by a NULL; these record it in *ok
 * so a response is either whole or not sent at all. */
static cJSON *add(cJSON *o, const char *key, cJSON *item, bool *ok)
{
    if (!item || !(key ? cJSON_AddItemToObject(o, key, item) : cJSON_AddItemToArray(o, item))) {
        cJSON_Delete(item);
        *ok = false;
        return NULL;
    }
    return item;
}

static cJSON *add_str_n(cJSON *o, const char *key, const char *s, size_t n, bool *ok)
{
    char *t = sv_utf8_lossy(s, n);
    cJSON *item = add(o, key, t ? cJSON_CreateString(t) : NULL, ok);
    free(t);
    return item;
}

static char *print(cJSON *o, bool ok)
{
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

char *sv_utf8_lossy(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1), *w = out; /* each bad byte grows to 3 */
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        size_t k = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
        if (i + k <= n && lp_utf8_valid(s + i, k, NULL)) {
            memcpy(w, s + i, k);
            w += k;
            i += k;
        } else {
            memcpy(w, "\xEF\xBF\xBD", 3);
            w += 3;
            i++;
        }
    }
    *w = 0;
    return out;
}

void sv_oa_ctx_init(sv_oa_ctx *c, sv_api_kind kind, uint64_t request_id, const char *model)
{
    c->kind = kind;
    snprintf(c->id, sizeof c->id, "%s-%llu", kind == SV_API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)request_id);
    c->created = (long long)time(NULL);
    c->model = model;
}

static cJSON *head(const sv_oa_ctx *c, const char *object, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        *ok = false;
        return NULL;
    }
    add(o, "id", cJSON_CreateString(c->id), ok);
    add(o, "object", cJSON_CreateString(object), ok);
    add(o, "created", cJSON_CreateNumber((double)c->created), ok);
    add(o, "model", cJSON_CreateString(c->model), ok);
    add(o, "system_fingerprint", cJSON_CreateString("layerpool"), ok);
    return o;
}

static void add_usage(cJSON *o, sv_usage u, bool *ok)
{
    cJSON *us = add(o, "usage", cJSON_CreateObject(), ok);
    if (!us)
        return;
    add(us, "prompt_tokens", cJSON_CreateNumber(u.prompt), ok);
    add(us, "completion_tokens", cJSON_CreateNumber(u.completion), ok);
    add(us, "total_tokens", cJSON_CreateNumber((double)u.prompt + u.completion), ok);
}

/* ---- logprobs ---------------------------------------------------------- */

void *sv_oa_logprobs_new(sv_api_kind kind)
{
    bool ok = true;
    cJSON *lp = cJSON_CreateObject();
    if (!lp)
        return NULL;
    if (kind == SV_API_CHAT) {
        add(lp, "content", cJSON_CreateArray(), &ok);
    } else {
        const char *keys[] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
        for (int i = 0; i < 4; i++)
            add(lp, keys[i], cJSON_CreateArray(), &ok);
    }
    if (!ok) {
        cJSON_Delete(lp);
        return NULL;
    }
    return lp;
}

void sv_oa_logprobs_free(void *lp)
{
    cJSON_Delete(lp);
}

/* {"id", "token", "logprob", "bytes"} of one token (chat's shape). */
static cJSON *chat_entry(const lp_tokenizer *tok, int32_t id, float logprob, bool *ok)
{
    size_t len = 0;
    const char *piece = lp_token_piece(tok, id, true, &len);
    cJSON *e = cJSON_CreateObject();
    if (!e) {
        *ok = false;
        return NULL;
    }
    add(e, "id", cJSON_CreateNumber(id), ok);
    add_str_n(e, "token", piece ? piece : "", len, ok);
    add(e, "logprob", cJSON_CreateNumber(logprob), ok);
    cJSON *bytes = add(e, "bytes", cJSON_CreateArray(), ok);
    for (size_t i = 0; bytes && i < len; i++)
        add(bytes, NULL, cJSON_CreateNumber((unsigned char)piece[i]), ok);
    return e;
}

static void add_chat(cJSON *lp, const lp_tokenizer *tok, const lp_sampled *s, bool *ok)
{
    cJSON *e = add(cJSON_GetObjectItemCaseSensitive(lp, "content"), NULL,
                   chat_entry(tok, s->token, s->logprob, ok), ok);
    cJSON *top = e ? add(e, "top_logprobs", cJSON_CreateArray(), ok) : NULL;
    for (int i = 0; top && i < s->n_top && i < LP_CLUSTER_MAX_TOP; i++)
        add(top, NULL, chat_entry(tok, s->top_token[i], s->top_logprob[i], ok), ok);
}

static void add_completion(cJSON *lp, const lp_tokenizer *tok, const lp_sampled *s,
                           size_t offset, bool *ok)
{
    size_t len = 0;
    const char *piece = lp_token_piece(tok, s->token, true, &len);
    add_str_n(cJSON_GetObjectItemCaseSensitive(lp, "tokens"), NULL, piece ? piece : "", len, ok);
    add(cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs"), NULL,
        cJSON_CreateNumber(s->logprob), ok);
    add(cJSON_GetObjectItemCaseSensitive(lp, "text_offset"), NULL,
        cJSON_CreateNumber((double)offset), ok);
    cJSON *top = add(cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs"), NULL,
                     cJSON_CreateObject(), ok);
    for (int i = 0; top && i < s->n_top && i < LP_CLUSTER_MAX_TOP; i++) {
        piece = lp_token_piece(tok, s->top_token[i], true, &len);
        char *key = sv_utf8_lossy(piece ? piece : "", len);
        add(top, key ? key : "", key ? cJSON_CreateNumber(s->top_logprob[i]) : NULL, ok);
        free(key);
    }
}

int sv_oa_logprobs_add(void *lp, sv_api_kind kind, const lp_tokenizer *tok,
                       const lp_sampled *s, size_t text_offset)
{
    bool ok = lp != NULL;
    if (ok && kind == SV_API_CHAT)
        add_chat(lp, tok, s, &ok);
    else if (ok)
        add_completion(lp, tok, s, text_offset, &ok);
    return ok ? 0 : -1;
}

/* ---- responses --------------------------------------------------------- */

/* choices[0] with its index, logprobs (taken) and finish_reason. */
static cJSON *choice(cJSON *o, const char *finish, void *logprobs, bool *ok)
{
    cJSON *choices = add(o, "choices", cJSON_CreateArray(), ok);
    cJSON *ch = choices ? add(choices, NULL, cJSON_CreateObject(), ok) : NULL;
    if (!ch) {
        cJSON_Delete(logprobs);
        return NULL;
    }
    add(ch, "index", cJSON_CreateNumber(0), ok);
    add(ch, "logprobs", logprobs ? (cJSON *)logprobs : cJSON_CreateNull(), ok);
    add(ch, "finish_reason", finish ? cJSON_CreateString(finish) : cJSON_CreateNull(), ok);
    return ch;
}

char *sv_oa_final(const sv_oa_ctx *c, const char *text, size_t len, const char *finish,
                  void *logprobs, sv_usage u)
{
    bool ok = true;
    bool chat = c->kind == SV_API_CHAT;
    cJSON *o = head(c, chat ? "chat.completion" : "text_completion", &ok);
    cJSON *ch = o ? choice(o, finish, logprobs, &ok) : (cJSON_Delete(logprobs), NULL);
    if (ch && chat) {
        cJSON *m = add(ch, "message", cJSON_CreateObject(), &ok);
        if (m) {
            add(m, "role", cJSON_CreateString("assistant"), &ok);
            add_str_n(m, "content", text, len, &ok);
        }
    } else if (ch) {
        add_str_n(ch, "text", text, len, &ok);
    }
    if (o)
        add_usage(o, u, &ok);
    return print(o, ok);
}

char *sv_oa_chunk(const sv_oa_ctx *c, const char *text, size_t len, bool first,
                  const char *finish, void *logprobs)
{
    bool ok = true;
    bool chat = c->kind == SV_API_CHAT;
    cJSON *o = head(c, chat ? "chat.completion.chunk" : "text_completion", &ok);
    cJSON *ch = o ? choice(o, finish, logprobs, &ok) : (cJSON_Delete(logprobs), NULL);
    if (ch && chat) {
        cJSON *d = add(ch, "delta", cJSON_CreateObject(), &ok);
        if (d && first)
            add(d, "role", cJSON_CreateString("assistant"), &ok);
        if (d && (len > 0 || (first && !finish)))
            add_str_n(d, "content", text, len, &ok);
    } else if (ch) {
        add_str_n(ch, "text", text, len, &ok);
    }
    return print(o, ok);
}

char *sv_oa_usage_chunk(const sv_oa_ctx *c, sv_usage u)
{
    bool ok = true;
    cJSON *o = head(c, c->kind == SV_API_CHAT ? "chat.completion.chunk" : "text_completion",
                    &ok);
    if (o) {
        add(o, "choices", cJSON_CreateArray(), &ok);
        add_usage(o, u, &ok);
    }
    return print(o, ok);
}

static const char *error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

char *sv_oa_error(int status, const char *message)
{
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    cJSON *e = o ? add(o, "error", cJSON_CreateObject(), &ok) : NULL;
    if (e) {
        add_str_n(e, "message", message, strlen(message), &ok);
        add(e, "type", cJSON_CreateString(error_type(status)), &ok);
        add(e, "code", cJSON_CreateNumber(status), &ok);
    }
    return o ? print(o, ok) : NULL;
}
