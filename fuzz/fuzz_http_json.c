/* fuzz_http_json.c — libFuzzer harness for the bodies of the OpenAI routes
 * (/v1/chat/completions and /v1/completions): any bytes either parse into
 * a request whose fields are in range, or fail with a message (a 400). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_json.h"

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
        }
        sv_api_req_free(&r);
    }
    return 0;
}
