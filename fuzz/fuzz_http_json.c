/* fuzz_http_json.c — libFuzzer harness for the bodies of the OpenAI routes
 * (/v1/chat/completions and /v1/completions): any bytes either parse into
 * a request whose fields are in range, or fail with a message (a 400); a
 * request that parses then goes the rest of the way to the pool as coord
 * serve takes it (sv_prompt_build): the chat template (chatml) applied,
 * the length checked against a context of 256, tokenized with
 * stories260K's real vocabulary, max_tokens and the sampling settings
 * checked. The tokenizer is loaded once (libFuzzer's entry points take no
 * context: it lives in this file's one static). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "http_json.h"
#include "http_prompt.h"

typedef struct harness {
    lp_gguf *g; /* the vocabulary's file: the tokenizer points into it */
    sv_prompt_ctx pc;
} harness;

static harness *H;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *shared = getenv("LP_SHARED") ? getenv("LP_SHARED") : "../shared";
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared);
    lp_err err = {0};
    H = calloc(1, sizeof *H);
    if (!H || !(H->g = lp_gguf_open(path, &err)) || !(H->pc.tok = lp_tokenizer_load(H->g, &err)) ||
        lp_chat_resolve("chatml", NULL, 0, &H->pc.tmpl, &err) != 0) {
        fprintf(stderr, "fuzz_http_json: %s: %s\n", path, err.msg);
        exit(1);
    }
    H->pc.tmpl_ok = true;
    H->pc.n_ctx = 256;
    return 0;
}

/* The parsed request the rest of the way: a status and a reason, or ids
 * that fit the context. */
static void build(sv_api_req *r)
{
    const sv_prompt_ctx *pc = &H->pc;
    lp_token *ids = NULL;
    size_t n = 0;
    int n_predict = 0;
    lp_err err;
    err.msg[0] = 0;
    int st = sv_prompt_build(pc, r, &ids, &n, &n_predict, &err);
    if (st != 0 && (err.msg[0] == 0 || (st != 400 && st != 413 && st != 500)))
        abort();
    if (st == 0 && (n == 0 || n_predict < 1 || (long long)n + n_predict > pc->n_ctx))
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= lp_tokenizer_n_vocab(pc->tok))
            abort();
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int k = 0; k < 2; k++) {
        sv_api_req r;
        lp_err err;
        err.msg[0] = 0;
        const sv_api_kind kind = k ? SV_API_CHAT : SV_API_COMPLETION;
        if (sv_api_parse(kind, (const char *)data, size, &r, &err) != 0) {
            if (err.msg[0] == 0)
                abort();
        } else {
            volatile size_t sink = 0;
            for (size_t i = 0; i < r.n_msgs; i++)
                sink += strlen(r.msgs[i].content) + strlen(r.msgs[i].role);
            for (size_t i = 0; i < r.n_stops; i++)
                sink += strlen(r.stops[i]);
            if (isnan(r.sp.temp) || r.sp.temp < 0 || sink == SIZE_MAX)
                abort();
            build(&r);
        }
        sv_api_req_free(&r);
    }
    return 0;
}
