/* serve_route.h — which endpoint a request is for, which methods it takes,
 * whether it needs the API key; and the web page's files (web_assets.h).
 * The OpenAI paths answer with and without the /v1 prefix, as
 * llama-server's do. */
#ifndef LP_COORD_SERVE_ROUTE_H
#define LP_COORD_SERVE_ROUTE_H

#include <microhttpd.h>
#include <stdbool.h>

typedef enum sv_route {
    SV_R_NONE,
    SV_R_HEALTH,
    SV_R_METRICS,
    SV_R_MODELS,
    SV_R_POOL,
    SV_R_CHAT,
    SV_R_COMPLETIONS,
    SV_R_PAGE,        /* a file of the web page */
} sv_route;

/* The route's name in /metrics ("none" for SV_R_NONE). */
const char *sv_route_name(sv_route r);

/* The route at path; *method_ok says whether it takes method (HEAD goes
 * with GET). SV_R_NONE: nothing there (404). */
sv_route sv_route_find(const char *path, const char *method, bool *method_ok);
const char *sv_route_allow(sv_route r); /* the Allow header's value */
bool sv_route_is_completion(sv_route r);
/* Open without the API key: /health (for load balancers) and the page
 * (static files; the page's own API calls carry the key). */
bool sv_route_is_open(sv_route r);

/* Queue the page file at path; *status gets the status sent. */
enum MHD_Result sv_route_page(struct MHD_Connection *c, const char *path, int *status);

#endif
