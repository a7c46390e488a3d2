/* support_ids.h — the token ids `coord run --ids` prints. */
#ifndef LP_TEST_SUPPORT_IDS_H
#define LP_TEST_SUPPORT_IDS_H

#include <stdint.h>

/* Parse comma-separated ids from s up to its first newline, at most cap of
 * them. Returns how many, or -1 where something other than a number
 * stands. */
int lp_test_parse_ids(const char *s, int32_t *ids, int cap);

#endif
