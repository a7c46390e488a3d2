/* vec.h — room in a growing array: the one grow-by-doubling realloc for
 * every array kept as (pointer, count, capacity) in its owner's struct.
 *
 * Ownership: the array stays its owner's. lp_vec_reserve reallocs it and
 * returns the new pointer, which the caller stores over the old one; the
 * owner frees it with free(). The pointer goes in and out by value, never
 * through a void **: writing an `int *` object through a `void **` lvalue
 * is undefined behaviour (the two types need not share a representation),
 * and with a void ** every caller would need a cast that hides it.
 *
 *     lp_token *v = lp_vec_reserve(tv->v, &tv->cap, tv->n, 1, sizeof *v);
 *     if (!v)
 *         return -1;           // tv->v is untouched and still tv's
 *     tv->v = v;
 *     tv->v[tv->n++] = id;
 */
#ifndef LP_VEC_H
#define LP_VEC_H

#include <stddef.h>

/* Fewest elements a first allocation holds, so pushing one at a time does
 * not realloc for each of the first few. */
#define LP_VEC_MIN_CAP 16

/* An array (data, *cap elements of elem bytes; data may be NULL with *cap
 * 0) with room for `more` elements after its first n: data itself if it
 * has that room already, else data realloc'd to at least twice *cap (and
 * at least LP_VEC_MIN_CAP and n + more), *cap updated. Never NULL on
 * success, even for n + more == 0. NULL when out of memory or the size
 * overflows size_t: data and *cap are then unchanged. */
void *lp_vec_reserve(void *data, size_t *cap, size_t n, size_t more, size_t elem);

#endif
