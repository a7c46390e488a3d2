/* tokenizer_heap.h — the priority queue of candidate merges that both BPE
 * variants (SPM by score, byte-level by rank) pop from. Elements are
 * copied in and out by value; the comparator says which comes out first.
 *
 * Ownership: the heap owns its array (free with lp_heap_free); reset keeps
 * the array for the next word so tokenizing allocates once per call. */
#ifndef LP_TOKENIZER_HEAP_H
#define LP_TOKENIZER_HEAP_H

#include <stdbool.h>
#include <stddef.h>

typedef bool (*lp_heap_before)(const void *a, const void *b);

typedef struct lp_heap {
    unsigned char *v;
    size_t n, cap, elem;
    lp_heap_before before;
} lp_heap;

void lp_heap_init(lp_heap *h, size_t elem, lp_heap_before before);
void lp_heap_free(lp_heap *h);
int lp_heap_push(lp_heap *h, const void *e); /* -1 on out-of-memory */
void lp_heap_pop(lp_heap *h, void *out);     /* h->n must be > 0 */

#endif
