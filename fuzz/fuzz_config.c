/* fuzz_config.c — libFuzzer harness for cluster files (INI through inih,
 * then every key's value parser): any text either loads into a config
 * whose fields are within their documented ranges or fails with a message
 * that names the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lp_config c; /* large: not on the stack; reset by every parse */
    lp_err err;
    err.msg[0] = 0;
    if (lp_config_parse((const char *)data, size, "fuzz.ini", "/nonexistent", &c, &err) != 0) {
        if (strncmp(err.msg, "fuzz.ini", 8) != 0)
            abort(); /* every refusal names the file */
        return 0;
    }
    if (c.n_workers < 1 || c.n_workers > LP_CONFIG_MAX_WORKERS || c.batch < 1 ||
        c.sessions < 1 || c.prompt_chunk > c.batch || !c.model_path[0])
        abort(); /* a config that loaded is whole */
    for (int i = 0; i < c.n_workers; i++)
        if (!c.workers[i].mem || !(c.workers[i].speed > 0))
            abort();
    return 0;
}
