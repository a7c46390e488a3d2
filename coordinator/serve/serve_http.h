/* serve_http.h — `coord serve`'s HTTP side: the OpenAI-compatible API, the
 * pool's status endpoints and the web page, on libmicrohttpd threads. It
 * never touches the pool: it tokenizes, formats chat templates, submits
 * jobs to the hub and streams what comes back (serve_hub.h).
 *
 * Ownership: sv_http_start returns a server the caller owns; sv_http_stop
 * stops it (every connection closed, every job released) and frees it.
 * Everything in opts is borrowed and must outlive the server. */
#ifndef LP_COORD_SERVE_HTTP_H
#define LP_COORD_SERVE_HTTP_H

#include "err.h"
#include "gguf.h"
#include "serve_hub.h"
#include "tokenizer.h"

typedef struct sv_http_opts {
    const char *listen;        /* "127.0.0.1:8080"; port 0 picks one */
    const char *api_key;       /* NULL or "": no key needed */
    const lp_tokenizer *tok;   /* thread-safe, read-only */
    const lp_gguf *gguf;       /* tokenizer.chat_template, general.name */
    const char *model_name;    /* the id /v1/models lists */
    const char *chat_template; /* override name, or NULL: the model's */
    int n_ctx;                 /* a prompt plus max_tokens must fit */
    size_t max_body;           /* larger request bodies get 413 */
} sv_http_opts;

typedef struct sv_http sv_http;

sv_http *sv_http_start(const sv_http_opts *o, sv_hub *hub, lp_err *err);
/* The port it listens on (useful with port 0). */
int sv_http_port(const sv_http *s);
void sv_http_stop(sv_http *s);

#endif
