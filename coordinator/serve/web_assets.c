/* web_assets.c — look up the page's files, built into the binary from
 * coordinator/web/ by cmake/embed_web.cmake. */
#include "web_assets.h"

#include <string.h>

typedef struct lp_web_file {
    const char *path; /* "/index.html" */
    const char *mime;
    const unsigned char *bytes;
    size_t len;
} lp_web_file;

#include "web_assets_data.h"

#define ASSETS_PREFIX "/assets"

const char *sv_web_asset(const char *path, size_t *len, const char **mime)
{
    if (!path)
        return NULL;
    if (!strcmp(path, "/"))
        path = "/index.html";
    /* The page names its files /assets/NAME, so an HTTP side may route that
     * prefix here and leave every other path to the API; /NAME works too. */
    size_t np = strlen(ASSETS_PREFIX);
    if (!strncmp(path, ASSETS_PREFIX, np) && path[np] == '/')
        path += np;
    for (size_t i = 0; i < sizeof LP_WEB_FILES / sizeof LP_WEB_FILES[0]; i++) {
        const lp_web_file *f = &LP_WEB_FILES[i];
        if (!strcmp(path, f->path)) {
            if (len)
                *len = f->len;
            if (mime)
                *mime = f->mime;
            return (const char *)f->bytes;
        }
    }
    return NULL;
}
