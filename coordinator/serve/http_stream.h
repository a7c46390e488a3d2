/* http_stream.h — a completion request's answer, produced from its
 * generation (http_gen.h): either one JSON object at the end, or
 * Server-Sent Events as tokens come (`data: {chunk}\n\n` ..., then
 * `data: [DONE]\n\n`), as the OpenAI API and llama-server stream.
 *
 * The status is decided by the first event: a job that fails before its
 * first token (pool not ready, worker lost) is a 503 with an error object,
 * not a stream that breaks; one that fails later ends its stream with an
 * error event.
 *
 * Ownership: the caller owns the sv_out (sv_out_init / sv_out_free); it
 * owns its sv_gen, which the caller starts (sv_gen_start on &o->gen) after
 * sv_out_init. req and model are borrowed. */
#ifndef LP_COORD_HTTP_STREAM_H
#define LP_COORD_HTTP_STREAM_H

#include <stdbool.h>
#include <sys/types.h>

#include "http_gen.h"
#include "http_json.h"
#include "http_openai.h"

typedef struct sv_out {
    sv_gen gen;
    sv_oa_ctx oa;
    const sv_api_req *req;
    void *lp;             /* logprobs not yet sent (streaming) or all of them */
    char *buf;            /* the text (one answer) or the events not yet sent */
    size_t len, cap, sent;
    bool done;            /* the last event is in buf */
} sv_out;

void sv_out_init(sv_out *o, const sv_api_req *req, uint64_t request_id, const char *model);
void sv_out_free(sv_out *o);

/* One answer: run to the end. Returns the HTTP status (200, or 503 when the
 * pool failed the job; 500 out of memory) with *body (malloc'd JSON), or 0
 * if the client went away (no answer to send). */
int sv_out_answer(sv_out *o, char **body);

/* Streaming: wait for the first event. 200: the stream may begin
 * (sv_out_read); 503/500: *body holds the error object; 0: the client
 * went away. */
int sv_out_stream_begin(sv_out *o, char **body);

/* The next bytes of the stream (blocks until there are some): the byte
 * count, -1 at the end of the stream, -2 if the client went away. */
ssize_t sv_out_read(sv_out *o, char *dst, size_t max);

#endif
