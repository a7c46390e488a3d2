/* Built only by tests/layering/check.sh, against lp_base alone: base is
 * the lowest folder, so the forward pass's header is not on its include
 * path and this must fail to compile. */
#include "model.h"

int lp_layering_wrong_way(void);
int lp_layering_wrong_way(void)
{
    return 0;
}
