#include "serve_route.h"

#include <string.h>

#include "web_assets.h"

static const struct {
    const char *path;
    sv_route route;
} ROUTES[] = {
    {"/health", SV_R_HEALTH},
    {"/v1/health", SV_R_HEALTH},
    {"/metrics", SV_R_METRICS},
    {"/v1/models", SV_R_MODELS},
    {"/models", SV_R_MODELS},
    {"/v1/pool", SV_R_POOL},
    {"/v1/chat/completions", SV_R_CHAT},
    {"/chat/completions", SV_R_CHAT},
    {"/v1/completions", SV_R_COMPLETIONS},
    {"/completions", SV_R_COMPLETIONS},
};

const char *sv_route_name(sv_route r)
{
    static const char *const NAMES[] = {"none", "health", "metrics", "models",
                                        "pool", "chat", "completions", "page"};
    return (unsigned)r < sizeof NAMES / sizeof NAMES[0] ? NAMES[r] : "none";
}

bool sv_route_is_completion(sv_route r)
{
    return r == SV_R_CHAT || r == SV_R_COMPLETIONS;
}

bool sv_route_is_open(sv_route r)
{
    return r == SV_R_HEALTH || r == SV_R_PAGE;
}

const char *sv_route_allow(sv_route r)
{
    return sv_route_is_completion(r) ? "POST" : "GET, HEAD";
}

sv_route sv_route_find(const char *path, const char *method, bool *method_ok)
{
    sv_route r = SV_R_NONE;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0] && r == SV_R_NONE; i++)
        if (!strcmp(path, ROUTES[i].path))
            r = ROUTES[i].route;
    if (r == SV_R_NONE && sv_web_asset(path, NULL, NULL))
        r = SV_R_PAGE;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    *method_ok = sv_route_is_completion(r) ? !strcmp(method, "POST") : get;
    return r;
}

enum MHD_Result sv_route_page(struct MHD_Connection *c, const char *path, int *status)
{
    size_t len = 0;
    const char *mime = NULL;
    const char *data = sv_web_asset(path, &len, &mime);
    if (!data)
        return MHD_NO;
    /* The bytes are static: MHD may send them as they are. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            mime ? mime : "application/octet-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    *status = 200;
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}
