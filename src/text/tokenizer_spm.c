/* tokenizer_spm.c — SentencePiece BPE as llama.cpp's llm_tokenizer_spm:
 * start from one symbol per UTF-8 character, repeatedly merge the adjacent
 * pair whose concatenation is the highest-scoring token (leftmost on a tie),
 * then emit each symbol's token, or its bytes as byte tokens. */
#include <stdlib.h>

#include "tokenizer_heap.h"
#include "tokenizer_internal.h"

typedef struct sym {
    int prev, next;
    size_t start, n; /* n == 0: merged into its left neighbour */
} sym;

typedef struct bigram {
    int left, right;
    float score;
    size_t size;
} bigram;

/* a comes out before b: higher score, then the leftmost */
static bool before(const void *pa, const void *pb)
{
    const bigram *a = pa, *b = pb;
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct spm {
    const lp_tokenizer *t;
    const char *text;
    sym *syms;
    lp_heap q;
} spm;

static int try_bigram(spm *s, int left, int right)
{
    if (left == -1 || right == -1)
        return 0;
    size_t size = s->syms[left].n + s->syms[right].n;
    lp_token id = lp_tok_lookup(s->t, s->text + s->syms[left].start, size);
    if (id == LP_TOKEN_NULL)
        return 0;
    return lp_heap_push(&s->q, &(bigram){left, right, s->t->score[id], size});
}

/* A final symbol: its token, or failing that its bytes. llama.cpp throws
 * when a byte has no token at all; we fall back to unk, else drop it. */
static int emit(const spm *s, const sym *y, lp_tokvec *out)
{
    const char *p = s->text + y->start;
    lp_token id = lp_tok_lookup(s->t, p, y->n);
    if (id != LP_TOKEN_NULL)
        return lp_tokvec_push(out, id);
    for (size_t j = 0; j < y->n; j++) {
        lp_token b = s->t->byte_tok[(uint8_t)p[j]];
        if (b == LP_TOKEN_NULL)
            b = s->t->unk;
        if (b != LP_TOKEN_NULL && lp_tokvec_push(out, b))
            return -1;
    }
    return 0;
}

int lp_spm_encode(const lp_tokenizer *t, const char *text, size_t len, lp_tokvec *out)
{
    if (len == 0)
        return 0;
    if (len > INT32_MAX) /* symbol links are ints; escaping can triple a text */
        return -1;
    spm s = {t, text, malloc(len * sizeof(sym)), {0}};
    lp_heap_init(&s.q, sizeof(bigram), before);
    if (!s.syms)
        return -1;
    int n = 0, rc = 0;
    for (size_t off = 0; off < len; n++) {
        size_t cl = lp_utf8_seq_len((uint8_t)text[off]);
        if (cl > len - off)
            cl = len - off;
        s.syms[n] = (sym){n - 1, off + cl == len ? -1 : n + 1, off, cl};
        off += cl;
    }
    for (int i = 1; i < n && rc == 0; i++)
        rc = try_bigram(&s, i - 1, i);
    while (s.q.n && rc == 0) {
        bigram g;
        lp_heap_pop(&s.q, &g);
        sym *l = &s.syms[g.left], *r = &s.syms[g.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size)
            continue; /* stale: one side changed since it was queued */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s.syms[r->next].prev = g.left;
        rc = try_bigram(&s, l->prev, g.left) | try_bigram(&s, g.left, l->next);
    }
    for (int i = 0; i != -1 && rc == 0; i = s.syms[i].next)
        rc = emit(&s, &s.syms[i], out);
    free(s.syms);
    lp_heap_free(&s.q);
    return rc;
}
