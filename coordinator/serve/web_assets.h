/* web_assets.h — the files of the web page at / (coordinator/web/), built
 * into the binary so `coord serve` needs nothing beside it. */
#ifndef LP_COORD_WEB_ASSETS_H
#define LP_COORD_WEB_ASSETS_H

#include <stddef.h>

/* The asset at path ("/", "/index.html", "/app.js", ...), its length and
 * MIME type; NULL if there is none. */
const char *sv_web_asset(const char *path, size_t *len, const char **mime);

#endif
