/* Built only by tests/layering/check.sh, against lp_model: model's own
 * header and those of the folders below it (base's err.h) compile, so a
 * failure of wrong_way.c is the layering at work, not a broken setup. */
#include "err.h"
#include "model.h"

int lp_layering_right_way(void);
int lp_layering_right_way(void)
{
    return 0;
}
