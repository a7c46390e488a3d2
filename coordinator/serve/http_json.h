/* http_json.h — an OpenAI request body (chat or text completion) read
 * into a plain struct, every field checked. Field names and defaults are
 * the OpenAI API's as llama-server implements it: temperature 0.8, top_k
 * 40, top_p 0.95, min_p 0.05, repeat_penalty 1 (llama.cpp extension, with
 * repeat_last_n 64), presence/frequency 0, seed random (-1 or absent).
 * Unknown fields are ignored; null counts as absent; a known field of the
 * wrong type or out of range is an error naming it (HTTP 400).
 *
 * Ownership: sv_api_parse fills a caller-owned sv_api_req; every string in
 * it points into its cJSON tree (root), which sv_api_req_free frees along
 * with msgs. */
#ifndef LP_COORD_HTTP_JSON_H
#define LP_COORD_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "err.h"
#include "sampler.h"
#include "stopstr.h"

typedef enum sv_api_kind { SV_API_CHAT, SV_API_COMPLETION } sv_api_kind;

typedef struct sv_api_req {
    sv_api_kind kind;
    void *root;                /* cJSON *, owned */
    const char *model;         /* NULL if not given */
    lp_chat_msg *msgs;         /* chat: owned array, strings in root */
    size_t n_msgs;
    const char *prompt;        /* completion */
    int max_tokens;            /* -1: until the context is full */
    lp_sampler_params sp;      /* penalty_last_n -1 = the whole context */
    const char *stops[LP_STOPSTR_MAX];
    size_t n_stops;
    bool stream, include_usage;
    int logprobs;              /* -1 none; else alternatives per token (0..20) */
} sv_api_req;

/* Parse len bytes of JSON. -1 with err naming the field (or saying the
 * JSON is malformed); r is then still to be freed. */
int sv_api_parse(sv_api_kind kind, const char *body, size_t len, sv_api_req *r, lp_err *err);
void sv_api_req_free(sv_api_req *r);

#endif
