/* http_openai.h — the JSON the OpenAI API answers with, as llama-server
 * writes it: chat.completion / text_completion objects, their streaming
 * chunks (chat.completion.chunk; text_completion again for completions),
 * usage, logprobs in both APIs' shapes, and error objects.
 *
 * Ownership: every char * returned is malloc'd (cJSON's allocator, which
 * is malloc here) and the caller frees it; NULL means out of memory.
 * Functions taking a logprobs object (from sv_oa_logprobs_new) take it
 * over, also on failure. */
#ifndef LP_COORD_HTTP_OPENAI_H
#define LP_COORD_HTTP_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "http_json.h"
#include "tokenizer.h"

/* What every object of one response repeats. */
typedef struct sv_oa_ctx {
    sv_api_kind kind;
    char id[48];          /* "chatcmpl-N" or "cmpl-N" */
    long long created;    /* Unix seconds */
    const char *model;
} sv_oa_ctx;

void sv_oa_ctx_init(sv_oa_ctx *c, sv_api_kind kind, uint64_t request_id, const char *model);

typedef struct sv_usage {
    int prompt, completion;
} sv_usage;

/* Logprobs of generated tokens: chat {"content":[{token, logprob, bytes,
 * top_logprobs:[...]}]}; completions {tokens, token_logprobs, top_logprobs:
 * [{piece: logprob}], text_offset}. text_offset: where the token's text
 * starts in the completion text. */
void *sv_oa_logprobs_new(sv_api_kind kind);          /* cJSON * */
int sv_oa_logprobs_add(void *lp, sv_api_kind kind, const lp_tokenizer *tok,
                       const lp_sampled *s, size_t text_offset);
void sv_oa_logprobs_free(void *lp);

/* The whole answer of a non-streaming request. */
char *sv_oa_final(const sv_oa_ctx *c, const char *text, size_t len, const char *finish,
                  void *logprobs, sv_usage u);

/* One streaming chunk: text (len bytes, may be 0), the chat's role on the
 * first chunk, finish_reason (NULL while going on), logprobs or NULL. */
char *sv_oa_chunk(const sv_oa_ctx *c, const char *text, size_t len, bool first,
                  const char *finish, void *logprobs);
/* The usage chunk that stream_options.include_usage asks for (no choices). */
char *sv_oa_usage_chunk(const sv_oa_ctx *c, sv_usage u);

/* {"error":{"message":...,"type":...,"code":status}}; type from status. */
char *sv_oa_error(int status, const char *message);

/* s[0..n) as valid UTF-8 (bad bytes become U+FFFD), NUL-terminated. */
char *sv_utf8_lossy(const char *s, size_t n);

#endif
