#include "vec.h"

#include <stdint.h>
#include <stdlib.h>

void *lp_vec_reserve(void *data, size_t *cap, size_t n, size_t more, size_t elem)
{
    if (elem == 0 || n > SIZE_MAX - more)
        return NULL;
    size_t need = n + more;
    if (data && need <= *cap)
        return data;
    /* Doubling keeps n pushes O(n) in all; where the doubled size no
     * longer fits in size_t, exactly what is needed may still. */
    size_t nc = *cap < LP_VEC_MIN_CAP ? LP_VEC_MIN_CAP : *cap;
    while (nc < need && nc <= SIZE_MAX / 2)
        nc *= 2;
    if (nc < need || nc > SIZE_MAX / elem)
        nc = need;
    if (nc > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(data, nc * elem);
    if (p)
        *cap = nc;
    return p;
}
