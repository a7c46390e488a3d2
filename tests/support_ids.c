/* support_ids.c — see support_ids.h. */
#include "support_ids.h"

#include <stdlib.h>

int lp_test_parse_ids(const char *s, int32_t *ids, int cap)
{
    int n = 0;
    while (*s && *s != '\n' && n < cap) {
        char *end;
        ids[n++] = (int32_t)strtol(s, &end, 10);
        if (end == s)
            return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}
