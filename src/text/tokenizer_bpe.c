/* tokenizer_bpe.c — byte-level BPE as llama.cpp's llm_tokenizer_bpe: split
 * the text into words (tokenizer_pretok.c), spell each word's bytes in the
 * GPT-2 alphabet, then repeatedly merge the adjacent pair of lowest merge
 * rank (leftmost on a tie) and emit each symbol's token. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_heap.h"
#include "tokenizer_internal.h"

typedef struct sym {
    int prev, next;
    size_t start, n;
} sym;

typedef struct bigram {
    int left, right;
    int32_t rank;
    uint32_t ln, rn; /* the sides' lengths when queued */
} bigram;

/* a comes out before b: lower rank, then the leftmost */
static bool before(const void *pa, const void *pb)
{
    const bigram *a = pa, *b = pb;
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct word {
    const lp_tokenizer *t;
    const char *w;
    sym *syms;
    int n_syms;
    lp_heap q;
} word;

static int add_bigram(word *s, int left, int right)
{
    if (left == -1 || right == -1)
        return 0;
    const sym *l = &s->syms[left], *r = &s->syms[right];
    int32_t rank = lp_merge_rank(s->t, s->w + l->start, l->n, s->w + r->start, r->n);
    if (rank < 0)
        return 0;
    return lp_heap_push(&s->q, &(bigram){left, right, rank, (uint32_t)l->n, (uint32_t)r->n});
}

/* A final symbol: its token, else each of its bytes that is a token by
 * itself (llama.cpp looks up the single raw bytes of the spelled text and
 * silently skips those that are not tokens). */
static int emit(const lp_tokenizer *t, const char *p, size_t n, lp_tokvec *out)
{
    lp_token id = lp_tok_lookup(t, p, n);
    if (id != LP_TOKEN_NULL)
        return lp_tokvec_push(out, id);
    for (size_t j = 0; j < n; j++) {
        lp_token b = lp_tok_lookup(t, p + j, 1);
        if (b != LP_TOKEN_NULL && lp_tokvec_push(out, b))
            return -1;
    }
    return 0;
}

/* Merge one spelled word (n bytes at w) and emit its tokens. syms has room
 * for n symbols. */
static int bpe_word(word *s, size_t n, lp_tokvec *out)
{
    const lp_tokenizer *t = s->t;
    if (t->ignore_merges && lp_tok_lookup(t, s->w, n) != LP_TOKEN_NULL)
        return emit(t, s->w, n, out);
    int k = 0, rc = 0;
    for (size_t off = 0; off < n; k++) {
        size_t cl = lp_utf8_seq_len((uint8_t)s->w[off]);
        if (cl > n - off)
            cl = n - off;
        s->syms[k] = (sym){k - 1, off + cl == n ? -1 : k + 1, off, cl};
        off += cl;
    }
    s->q.n = 0;
    for (int i = 1; i < k && rc == 0; i++)
        rc = add_bigram(s, i - 1, i);
    while (s->q.n && rc == 0) {
        bigram g;
        lp_heap_pop(&s->q, &g);
        sym *l = &s->syms[g.left], *r = &s->syms[g.right];
        /* same start, same lengths <=> same text as when queued */
        if (l->n == 0 || r->n == 0 || l->n != g.ln || r->n != g.rn)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s->syms[r->next].prev = g.left;
        rc = add_bigram(s, l->prev, g.left) | add_bigram(s, g.left, l->next);
    }
    for (int i = 0; i != -1 && k > 0 && rc == 0; i = s->syms[i].next)
        rc = emit(t, s->w + s->syms[i].start, s->syms[i].n, out);
    return rc;
}

/* Spell codepoints in the byte-level alphabet: their UTF-8 bytes, each
 * byte as the codepoint that stands for it (1 or 2 UTF-8 bytes). */
static size_t spell(const uint32_t *cpts, size_t n, char *dst)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char u[4];
        size_t k = lp_utf8_encode(cpts[i], u);
        for (size_t j = 0; j < k; j++)
            w += lp_utf8_encode(lp_bpe_byte_to_cpt((uint8_t)u[j]), dst + w);
    }
    return w;
}

int lp_bpe_encode(const lp_tokenizer *t, const char *text, size_t len, lp_tokvec *out)
{
    uint32_t *cpts = malloc((len ? len : 1) * sizeof *cpts);
    size_t *lens = NULL, n_words = 0, max_cp = 0;
    if (!cpts)
        return -1;
    size_t n = lp_utf8_decode(text, len, cpts);
    int rc = lp_pretok_split(t->pre, cpts, n, &lens, &n_words);
    for (size_t i = 0; rc == 0 && i < n_words; i++)
        if (lens[i] > max_cp)
            max_cp = lens[i];
    /* a codepoint is at most 4 bytes, each spelled in at most 2; symbol
     * links are ints */
    if (rc == 0 && max_cp > INT32_MAX / 8)
        rc = -1;
    size_t cap = rc == 0 ? max_cp * 8 + 1 : 1;
    word s = {t, malloc(cap), malloc(cap * sizeof(sym)), 0, {0}};
    lp_heap_init(&s.q, sizeof(bigram), before);
    if (rc == 0 && (!s.w || !s.syms))
        rc = -1;
    size_t start = 0;
    for (size_t i = 0; rc == 0 && i < n_words; i++) {
        size_t nb = spell(cpts + start, lens[i], (char *)s.w);
        rc = bpe_word(&s, nb, out);
        start += lens[i];
    }
    free((char *)s.w);
    free(s.syms);
    lp_heap_free(&s.q);
    free(lens);
    free(cpts);
    return rc;
}
