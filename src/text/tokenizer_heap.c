#include "tokenizer_heap.h"

#include <stdlib.h>
#include <string.h>

#include "vec.h"

#define AT(h, i) ((h)->v + (i) * (h)->elem)

void lp_heap_init(lp_heap *h, size_t elem, lp_heap_before before)
{
    *h = (lp_heap){.elem = elem, .before = before};
}

void lp_heap_free(lp_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

int lp_heap_push(lp_heap *h, const void *e)
{
    unsigned char *v = lp_vec_reserve(h->v, &h->cap, h->n, 1, h->elem);
    if (!v)
        return -1;
    h->v = v;
    size_t i = h->n++;
    while (i > 0 && h->before(e, AT(h, (i - 1) / 2))) {
        memcpy(AT(h, i), AT(h, (i - 1) / 2), h->elem);
        i = (i - 1) / 2;
    }
    memcpy(AT(h, i), e, h->elem);
    return 0;
}

void lp_heap_pop(lp_heap *h, void *out)
{
    memcpy(out, AT(h, 0), h->elem);
    const unsigned char *last = AT(h, --h->n);
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->before(AT(h, c + 1), AT(h, c)))
            c++;
        if (!h->before(AT(h, c), last))
            break;
        memcpy(AT(h, i), AT(h, c), h->elem);
        i = c;
    }
    if (h->n)
        memcpy(AT(h, i), last, h->elem);
}
