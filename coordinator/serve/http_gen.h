/* http_gen.h — one request's generation as the HTTP side sees it: a job in
 * the hub, whose tokens arrive with their text and whose end arrives with
 * its reason (the pool side decides both: gen.h). While it waits for the
 * pool it watches the client's socket, so a client that hangs up ends the
 * job (its session, and the KV it holds on every worker) within a fraction
 * of a second, even before the first token.
 *
 * Ownership: sv_gen_start fills a caller-owned sv_gen and holds the HTTP
 * side's reference to the job; sv_gen_free cancels the job if it has not
 * ended and lets go of it. The stopping flag is borrowed and must outlive
 * the sv_gen; the stop strings are copied into the job. */
#ifndef LP_COORD_HTTP_GEN_H
#define LP_COORD_HTTP_GEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "serve_hub.h"
#include "tokenizer.h"

typedef struct sv_gen {
    sv_job *job;
    const lp_tokenizer *tok;      /* for the logprobs' text offsets */
    int sock;                     /* the client's; -1: not watched */
    const atomic_bool *stopping;  /* the server is shutting down */
    int n_prompt, n_predict, n_gen;
    bool ended;                   /* the job is over (no cancel needed) */
    const char *finish;           /* "stop" or "length" once ended */
    char error[512];              /* after SV_GEN_FAILED */
    double t_start, t_first;      /* seconds (monotonic); t_first 0 until a token */
    lp_sampled last;              /* the token of the last SV_GEN_TOKEN */
    size_t piece_bytes;           /* bytes of the pieces before `last` */
} sv_gen;

typedef struct sv_gen_req {
    const lp_token *prompt;
    int n_prompt, n_predict;
    lp_sampler_params sampling;
    bool logprob;
    int top_logprobs;
    const char *const *stops;
    size_t n_stops;
    int sock;
    const atomic_bool *stopping;
} sv_gen_req;

/* Submit the job. -1 on error; *busy true when the hub is full (503). */
int sv_gen_start(sv_gen *g, sv_hub *hub, const lp_tokenizer *tok, const sv_gen_req *r,
                 bool *busy, lp_err *err);

typedef enum sv_gen_ev {
    SV_GEN_TOKEN,  /* g->last came; *text holds what it released (maybe 0 bytes) */
    SV_GEN_END,    /* over: *text holds the last held-back text; g->finish says why */
    SV_GEN_FAILED, /* the pool failed the job: g->error */
    SV_GEN_GONE,   /* the client hung up, or the server is stopping */
} sv_gen_ev;

/* Wait for the next event. Text pointers are valid until the next call. */
sv_gen_ev sv_gen_next(sv_gen *g, const char **text, size_t *len);

void sv_gen_free(sv_gen *g);

#endif
