#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "support_ref.h"
#include "support_serve.h"
#include "tokenizer.h"

void sv_t_ref_load(sv_t_ref *r)
{
    static const char *const prompts[SV_T_CASES] = {
        "Once upon a time", "The little dog was", "Lily and Ben went to the park. They saw"};
    char model[4096];
    lp_err err = {0};
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    lp_gguf *g = lp_gguf_open(model, &err);
    lp_tokenizer *tok = g ? lp_tokenizer_load(g, &err) : NULL;
    if (!tok)
        fail_msg("%s: %s", model, err.msg);
    ref_model m;
    assert_int_equal(ref_load("stories260K", &m), 0);
    assert_int_equal(m.n_cases, SV_T_CASES);
    for (int c = 0; c < SV_T_CASES; c++) {
        size_t k = 0, len;
        char *want = calloc(1, 16384);
        assert_non_null(want);
        for (int i = 0; i < m.cases[c].n_greedy; i++) {
            const char *piece = lp_token_piece(tok, m.cases[c].greedy[i], false, &len);
            assert_true(k + len < 16384);
            memcpy(want + k, piece, len);
            k += len;
        }
        r->prompt[c] = prompts[c];
        r->want[c] = want;
        r->n_prompt[c] = m.cases[c].n_prompt;
        r->n_gen[c] = m.cases[c].n_greedy;
    }
    ref_free(&m);
    lp_tokenizer_free(tok);
    lp_gguf_close(g);
}

void sv_t_ref_free(sv_t_ref *r)
{
    for (int c = 0; c < SV_T_CASES; c++)
        free(r->want[c]);
}

char *sv_t_config(char *buf, size_t cap, const char *dir, const char *name, int workers,
                  int ctx, int sessions, const char *server_lines)
{
    char rel[4096], model[PATH_MAX];
    lp_test_shared(rel, sizeof rel, "models/stories260K.gguf");
    assert_non_null(realpath(rel, model));
    snprintf(buf, cap, "%s/%s.ini", dir, name);
    FILE *f = fopen(buf, "w");
    assert_non_null(f);
    fprintf(f, "[model]\npath = %s\nctx = %d\nsessions = %d\nthreads = 1\n\n"
               "[server]\nlisten = 127.0.0.1:8080\n%s\n[local]\nworkers = %d\nmem = 1G\n",
            model, ctx, sessions, server_lines ? server_lines : "", workers);
    fclose(f);
    return buf;
}

static void *request(int port, const char *method, const char *path, const char *json,
                     const char *extra, int *status)
{
    lp_http_resp r;
    if (lp_http(port, method, path, extra, json, json ? strlen(json) : 0, &r,
                SV_T_TIMEOUT_MS) != 0)
        fail_msg("%s %s: no answer", method, path);
    *status = r.status;
    cJSON *o = cJSON_Parse(r.body);
    if (!o)
        fail_msg("%s %s: %d, not JSON: %.300s", method, path, r.status, r.body);
    lp_http_free(&r);
    return o;
}

void *sv_t_post(int port, const char *path, const char *json, const char *extra, int *status)
{
    return request(port, "POST", path, json, extra, status);
}

void *sv_t_get(int port, const char *path, int *status)
{
    return request(port, "GET", path, NULL, NULL, status);
}

void *sv_t_get_with(int port, const char *path, const char *extra, int *status)
{
    return request(port, "GET", path, NULL, extra, status);
}

static const cJSON *walk(const cJSON *o, const char *path)
{
    char key[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        o = isdigit((unsigned char)key[0]) ? cJSON_GetArrayItem(o, atoi(key))
                                           : cJSON_GetObjectItemCaseSensitive(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

const char *sv_t_str(const void *json, const char *path)
{
    const cJSON *o = walk(json, path);
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

double sv_t_num(const void *json, const char *path)
{
    const cJSON *o = walk(json, path);
    return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

/* ---- streams ---------------------------------------------------------- */

static int append(char **text, size_t *len, const char *s)
{
    size_t n = strlen(s);
    char *t = realloc(*text, *len + n + 1);
    if (!t)
        return -1;
    memcpy(t + *len, s, n + 1);
    *text = t;
    *len += n;
    return 0;
}

static int count_logprobs(const cJSON *choice)
{
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(choice, "logprobs");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(lp, "content");
    if (!arr)
        arr = cJSON_GetObjectItemCaseSensitive(lp, "tokens");
    return cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
}

/* One data event into out; -1 (out->error set) if it is not a chunk. */
static int take_chunk(sv_t_stream *out, const char *data, size_t *len)
{
    cJSON *o = cJSON_Parse(data);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(o, "choices");
    if (!o || !cJSON_IsArray(choices)) {
        snprintf(out->error, sizeof out->error, "not a chunk: %.200s", data);
        cJSON_Delete(o);
        return -1;
    }
    out->n_chunks++;
    const cJSON *ch = cJSON_GetArrayItem(choices, 0);
    const char *t = sv_t_str(ch, "delta.content");
    t = t ? t : sv_t_str(ch, "text");
    if (t && append(&out->text, len, t) != 0)
        snprintf(out->error, sizeof out->error, "out of memory");
    const char *f = sv_t_str(ch, "finish_reason");
    if (f)
        snprintf(out->finish, sizeof out->finish, "%s", f);
    out->n_logprobs += ch ? count_logprobs(ch) : 0;
    if (cJSON_GetObjectItemCaseSensitive(o, "usage")) {
        out->usage_prompt = (int)sv_t_num(o, "usage.prompt_tokens");
        out->usage_completion = (int)sv_t_num(o, "usage.completion_tokens");
        out->usage_total = (int)sv_t_num(o, "usage.total_tokens");
    }
    cJSON_Delete(o);
    return 0;
}

void sv_t_stream_run(int port, const char *path, const char *json, const char *extra,
                     sv_t_stream *out)
{
    memset(out, 0, sizeof *out);
    out->usage_prompt = out->usage_completion = out->usage_total = -1;
    lp_http_stream s;
    size_t len = 0;
    if (lp_http_open(&s, port, "POST", path, extra, json, strlen(json), SV_T_TIMEOUT_MS) != 0) {
        snprintf(out->error, sizeof out->error, "no answer");
        lp_http_close(&s);
        return;
    }
    out->status = s.status;
    append(&out->text, &len, "");
    char *ev;
    bool timed_out = false;
    while (!out->error[0] && (ev = lp_http_next_event(&s, SV_T_TIMEOUT_MS, &timed_out))) {
        if (out->done)
            snprintf(out->error, sizeof out->error, "an event after [DONE]: %.100s", ev);
        else if (!strcmp(ev, "[DONE]"))
            out->done = true;
        else
            take_chunk(out, ev, &len);
        free(ev);
    }
    if (timed_out && !out->error[0])
        snprintf(out->error, sizeof out->error, "timed out after %d chunks", out->n_chunks);
    lp_http_close(&s);
}

void sv_t_stream_free(sv_t_stream *s)
{
    free(s->text);
    s->text = NULL;
}

int sv_t_sessions_open(int port, const char *extra)
{
    lp_http_resp r;
    if (lp_http(port, "GET", "/v1/pool", extra, NULL, 0, &r, SV_T_TIMEOUT_MS) != 0)
        return -1;
    cJSON *o = cJSON_Parse(r.body);
    lp_http_free(&r);
    const cJSON *w, *ws = cJSON_GetObjectItemCaseSensitive(o, "workers");
    int n = cJSON_IsArray(ws) && cJSON_GetArraySize(ws) > 0 ? 0 : -1;
    cJSON_ArrayForEach(w, ws) {
        double v = sv_t_num(w, "sessions_open");
        n = n < 0 || isnan(v) ? -1 : n + (int)v;
    }
    cJSON_Delete(o);
    return n;
}

void sv_t_stop_cleanly(lp_test_server *srv)
{
    int rc = lp_test_server_stop(srv, 60000);
    if (rc != 0) {
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "tail -40 '%s' >&2", srv->log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
        fail_msg("coord serve exited with %d", rc);
    }
}

int sv_t_fixture_start(void **state, int workers, int ctx, int sessions,
                       const char *server_lines, const char *args)
{
    sv_t_fixture *f = calloc(1, sizeof *f);
    char cfg[8192], log[8192];
    assert_non_null(f);
    assert_non_null(lp_test_tmpdir(f->dir, sizeof f->dir));
    sv_t_config(cfg, sizeof cfg, f->dir, "pool", workers, ctx, sessions, server_lines);
    snprintf(log, sizeof log, "%s/serve.log", f->dir);
    if (lp_test_server_start(&f->srv, cfg, args, log, SV_T_TIMEOUT_MS) != 0)
        fail_msg("coord serve did not come up; see %s", log);
    sv_t_ref_load(&f->ref);
    *state = f;
    return 0;
}

int sv_t_fixture_teardown(void **state)
{
    sv_t_fixture *f = *state;
    if (f->srv.pid > 0) /* a test failed before the last one stopped it */
        lp_test_server_stop(&f->srv, 60000);
    sv_t_ref_free(&f->ref);
    lp_test_rmtree(f->dir);
    free(f);
    return 0;
}

void sv_t_test_stops_cleanly(void **state)
{
    sv_t_fixture *f = *state;
    sv_t_stop_cleanly(&f->srv);
}
