#include "http_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "tokenizer.h"

#define MAX_SEED 9007199254740992.0 /* 2^53: beyond it a JSON number is not exact */

/* A field; absent and null both give NULL (clients send null for "unset"). */
static const cJSON *field(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return f && !cJSON_IsNull(f) ? f : NULL;
}

static int get_bool(const cJSON *o, const char *name, bool *out, lp_err *err)
{
    const cJSON *f = field(o, name);
    if (f && !cJSON_IsBool(f))
        return lp_err_set(err, "'%s' must be a boolean", name);
    if (f)
        *out = cJSON_IsTrue(f);
    return 0;
}

static int get_num(const cJSON *o, const char *name, double lo, double hi, double *out,
                   lp_err *err)
{
    const cJSON *f = field(o, name);
    if (!f)
        return 0;
    if (!cJSON_IsNumber(f))
        return lp_err_set(err, "'%s' must be a number", name);
    if (!isfinite(f->valuedouble) || f->valuedouble < lo || f->valuedouble > hi)
        return lp_err_set(err, "'%s' must be between %g and %g, not %g", name, lo, hi,
                          f->valuedouble);
    *out = f->valuedouble;
    return 0;
}

static int get_float(const cJSON *o, const char *name, double lo, double hi, float *out,
                     lp_err *err)
{
    double v = *out;
    if (get_num(o, name, lo, hi, &v, err) != 0)
        return -1;
    *out = (float)v;
    return 0;
}

static int get_int(const cJSON *o, const char *name, double lo, double hi, long long *out,
                   lp_err *err)
{
    const cJSON *f = field(o, name);
    if (f && (!cJSON_IsNumber(f) || floor(f->valuedouble) != f->valuedouble))
        return lp_err_set(err, "'%s' must be an integer", name);
    double v = (double)*out;
    if (get_num(o, name, lo, hi, &v, err) != 0)
        return -1;
    *out = (long long)v;
    return 0;
}

static int check_text(const char *s, const char *name, lp_err *err)
{
    size_t bad;
    if (!lp_utf8_valid(s, strlen(s), &bad))
        return lp_err_set(err, "'%s' is not valid UTF-8 (byte %zu)", name, bad);
    return 0;
}

/* OpenAI lets content be a list of parts; only text parts mean anything
 * here. They are joined into one string that replaces the list in the
 * tree, so the tree still owns every string. */
static int join_parts(cJSON *msg, cJSON *parts, const char *name, lp_err *err)
{
    size_t len = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parts) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text))
            return lp_err_set(err, "'%s' may only hold {\"type\":\"text\",\"text\":...} parts",
                              name);
        len += strlen(text->valuestring);
    }
    char *joined = malloc(len + 1);
    if (!joined)
        return lp_err_set(err, "out of memory");
    len = 0;
    cJSON_ArrayForEach(p, parts) {
        const char *t = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
        memcpy(joined + len, t, strlen(t));
        len += strlen(t);
    }
    joined[len] = 0;
    cJSON *s = cJSON_CreateString(joined);
    free(joined);
    if (!s || !cJSON_ReplaceItemInObjectCaseSensitive(msg, "content", s)) {
        cJSON_Delete(s);
        return lp_err_set(err, "out of memory");
    }
    return 0;
}

static int read_message(cJSON *m, size_t i, lp_chat_msg *out, lp_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "messages[%zu]", i);
    if (!cJSON_IsObject(m))
        return lp_err_set(err, "'%s' must be an object", name);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsString(role))
        return lp_err_set(err, "'%s.role' must be a string", name);
    const char *r = role->valuestring;
    if (!strcmp(r, "developer")) /* OpenAI's newer name for the system turn */
        r = "system";
    if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant"))
        return lp_err_set(err, "'%s.role' must be system, user or assistant, not '%s'", name, r);
    snprintf(name, sizeof name, "messages[%zu].content", i);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsArray(c) && join_parts(m, c, name, err) != 0)
        return -1;
    c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!c || cJSON_IsNull(c)) {
        *out = (lp_chat_msg){r, ""};
        return 0;
    }
    if (!cJSON_IsString(c))
        return lp_err_set(err, "'%s' must be a string or an array of text parts", name);
    *out = (lp_chat_msg){r, c->valuestring};
    return check_text(c->valuestring, name, err);
}

static int read_messages(cJSON *root, sv_api_req *r, lp_err *err)
{
    cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!ms || cJSON_IsNull(ms))
        return lp_err_set(err, "'messages' is required");
    int n = cJSON_GetArraySize(ms);
    if (!cJSON_IsArray(ms) || n == 0)
        return lp_err_set(err, "'messages' must be a non-empty array");
    if (!(r->msgs = calloc((size_t)n, sizeof *r->msgs)))
        return lp_err_set(err, "out of memory");
    cJSON *m;
    cJSON_ArrayForEach(m, ms) {
        if (read_message(m, r->n_msgs, &r->msgs[r->n_msgs], err) != 0)
            return -1;
        r->n_msgs++;
    }
    return 0;
}

static int read_prompt(const cJSON *root, sv_api_req *r, lp_err *err)
{
    const cJSON *p = field(root, "prompt");
    if (!p)
        return lp_err_set(err, "'prompt' is required");
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1)
        p = cJSON_GetArrayItem(p, 0); /* a batch of one */
    if (!cJSON_IsString(p))
        return lp_err_set(err, "'prompt' must be a string (or an array of one string)");
    r->prompt = p->valuestring;
    return check_text(r->prompt, "prompt", err);
}

static int read_stops(const cJSON *root, sv_api_req *r, lp_err *err)
{
    const cJSON *s = field(root, "stop"), *e;
    if (!s)
        return 0;
    if (cJSON_IsString(s)) {
        r->stops[r->n_stops++] = s->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(s))
        return lp_err_set(err, "'stop' must be a string or an array of strings");
    if (cJSON_GetArraySize(s) > LP_STOPSTR_MAX)
        return lp_err_set(err, "'stop' may hold at most %d strings", LP_STOPSTR_MAX);
    cJSON_ArrayForEach(e, s) {
        if (!cJSON_IsString(e))
            return lp_err_set(err, "'stop' must be a string or an array of strings");
        r->stops[r->n_stops++] = e->valuestring;
    }
    return 0;
}

static int read_sampling(const cJSON *o, lp_sampler_params *sp, lp_err *err)
{
    long long top_k = sp->top_k, last_n = sp->penalty_last_n, seed = -1;
    int rc = get_float(o, "temperature", 0, 1000, &sp->temp, err);
    rc = rc ? rc : get_float(o, "top_p", 0, 1, &sp->top_p, err);
    rc = rc ? rc : get_int(o, "top_k", -1e9, 1e9, &top_k, err);
    rc = rc ? rc : get_float(o, "min_p", 0, 1, &sp->min_p, err);
    rc = rc ? rc : get_float(o, "presence_penalty", -2, 2, &sp->presence_penalty, err);
    rc = rc ? rc : get_float(o, "frequency_penalty", -2, 2, &sp->frequency_penalty, err);
    rc = rc ? rc : get_float(o, "repeat_penalty", 0, 1000, &sp->repeat_penalty, err);
    rc = rc ? rc : get_int(o, "repeat_last_n", -1, LP_SAMPLER_MAX_LAST_N, &last_n, err);
    rc = rc ? rc : get_int(o, "seed", -1, MAX_SEED, &seed, err);
    if (rc != 0)
        return -1;
    if (sp->repeat_penalty <= 0)
        return lp_err_set(err, "'repeat_penalty' must be above 0");
    if (sp->top_p <= 0) { /* nothing but the most likely token, as llama.cpp keeps one */
        sp->top_p = 1;
        top_k = 1;
    }
    sp->top_k = top_k > 0 ? (int32_t)top_k : 0;
    sp->penalty_last_n = (int32_t)last_n;
    sp->seed = seed < 0 ? LP_SAMPLER_SEED_RANDOM : (uint64_t)seed;
    return 0;
}

static int read_limits(const cJSON *o, sv_api_req *r, lp_err *err)
{
    long long max = -1, n = 1;
    const char *names[] = {"n_predict", "max_tokens", "max_completion_tokens"};
    for (int i = 0; i < 3; i++) { /* the last given wins: OpenAI's newest name */
        long long v = -2;
        if (get_int(o, names[i], -1, 1 << 30, &v, err) != 0)
            return -1;
        if (v == 0)
            return lp_err_set(err, "'%s' must be at least 1 (or -1: no limit)", names[i]);
        if (v != -2)
            max = v;
    }
    r->max_tokens = (int)max;
    if (get_int(o, "n", 1, 1, &n, err) != 0)
        return lp_err_set(err, "'n' must be 1: one choice per request");
    return 0;
}

static int read_logprobs(const cJSON *o, sv_api_req *r, lp_err *err)
{
    long long top = 0;
    if (r->kind == SV_API_COMPLETION) {
        long long lp = -1;
        if (get_int(o, "logprobs", 0, LP_CLUSTER_MAX_TOP, &lp, err) != 0)
            return -1;
        r->logprobs = (int)lp;
        return 0;
    }
    bool on = false;
    if (get_bool(o, "logprobs", &on, err) != 0 ||
        get_int(o, "top_logprobs", 0, LP_CLUSTER_MAX_TOP, &top, err) != 0)
        return -1;
    r->logprobs = on ? (int)top : -1;
    return 0;
}

static int read_stream(const cJSON *o, sv_api_req *r, lp_err *err)
{
    bool echo = false;
    if (get_bool(o, "stream", &r->stream, err) != 0 || get_bool(o, "echo", &echo, err) != 0)
        return -1;
    if (echo)
        return lp_err_set(err, "'echo' is not supported");
    const cJSON *so = field(o, "stream_options");
    if (so && !cJSON_IsObject(so))
        return lp_err_set(err, "'stream_options' must be an object");
    if (so && get_bool(so, "include_usage", &r->include_usage, err) != 0)
        return lp_err_set(err, "'stream_options.include_usage' must be a boolean");
    return 0;
}

/* A NUL in the body, raw or as the escape \u0000 in a string: C strings
 * would end there, and the model would see a prompt cut short. */
static int refuse_nul(const char *body, size_t len, lp_err *err)
{
    if (memchr(body, 0, len))
        return lp_err_set(err, "the body contains a NUL byte");
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '"') {
            in_str = !in_str;
        } else if (in_str && body[i] == '\\' && i + 1 < len) {
            if (body[i + 1] == 'u' && i + 5 < len && !strncmp(body + i + 2, "0000", 4))
                return lp_err_set(err, "a string contains \\u0000 (NUL), which this server "
                                       "does not take");
            i++; /* the escaped character, whatever it is */
        }
    }
    return 0;
}

/* Only white space may follow the JSON value. */
static bool only_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p == end;
}

int sv_api_parse(sv_api_kind kind, const char *body, size_t len, sv_api_req *r, lp_err *err)
{
    *r = (sv_api_req){.kind = kind, .max_tokens = -1, .logprobs = -1,
                      .sp = lp_sampler_params_default()};
    if (refuse_nul(body, len, err) != 0)
        return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    r->root = root;
    if (!root) /* (cJSON's error position is a global: not for threads) */
        return lp_err_set(err, "the body is not valid JSON");
    if (!end || !only_space(end, body + len))
        return lp_err_set(err, "the body has more after its JSON value");
    if (!cJSON_IsObject(root))
        return lp_err_set(err, "the body must be a JSON object");
    const cJSON *model = field(root, "model");
    if (model && !cJSON_IsString(model))
        return lp_err_set(err, "'model' must be a string");
    r->model = model ? model->valuestring : NULL;
    if ((kind == SV_API_CHAT ? read_messages(root, r, err) : read_prompt(root, r, err)) != 0)
        return -1;
    if (read_stops(root, r, err) != 0 || read_sampling(root, &r->sp, err) != 0 ||
        read_limits(root, r, err) != 0 || read_logprobs(root, r, err) != 0 ||
        read_stream(root, r, err) != 0)
        return -1;
    return 0;
}

void sv_api_req_free(sv_api_req *r)
{
    cJSON_Delete(r->root);
    free(r->msgs);
    memset(r, 0, sizeof *r);
}
