/* tokenizer_encode.c — lp_tokenize: cut special-token texts out of the
 * input (llama.cpp's tokenizer_st_partition), then run SPM or BPE on the
 * plain fragments, with BOS/EOS around them. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "vec.h"

typedef struct frag {
    lp_token id; /* LP_TOKEN_NULL: plain text [off, off + len) */
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static int frags_push(frags *f, frag x)
{
    frag *v = lp_vec_reserve(f->v, &f->cap, f->n, 1, sizeof *v);
    if (!v)
        return -1;
    f->v = v;
    f->v[f->n++] = x;
    return 0;
}

/* Cut every occurrence of special token `id` out of the plain fragments
 * of `in`, leftmost first, into `out`. */
static int cut_token(const lp_tokenizer *t, lp_token id, const char *text, const frags *in,
                     frags *out)
{
    const char *s = t->text[id];
    size_t sn = t->text_len[id];
    out->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        frag f = in->v[k];
        if (f.id != LP_TOKEN_NULL) {
            if (frags_push(out, f))
                return -1;
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        const char *m;
        while (pos < end && (m = memmem(text + pos, end - pos, s, sn)) != NULL) {
            size_t at = (size_t)(m - text);
            if ((at > pos && frags_push(out, (frag){LP_TOKEN_NULL, pos, at - pos})) ||
                frags_push(out, (frag){id, 0, 0}))
                return -1;
            pos = at + sn;
        }
        if (pos < end && frags_push(out, (frag){LP_TOKEN_NULL, pos, end - pos}))
            return -1;
    }
    return 0;
}

/* llama.cpp goes through the special tokens longest first, each one
 * cutting all fragments left by the longer ones. Without parse_special
 * only user-defined tokens are cut. */
static int partition(const lp_tokenizer *t, const char *text, size_t len, bool parse_special,
                     frags *f)
{
    frags tmp = {0};
    int rc = frags_push(f, (frag){LP_TOKEN_NULL, 0, len});
    for (uint32_t i = 0; rc == 0 && i < t->n_special; i++) {
        lp_token id = t->special[i];
        if (!parse_special && (t->attr[id] & (LP_TOKATTR_CONTROL | LP_TOKATTR_UNKNOWN)))
            continue;
        if (!memmem(text, len, t->text[id], t->text_len[id]))
            continue; /* the common case: nothing to cut */
        rc = cut_token(t, id, text, f, &tmp);
        frags swap = *f;
        *f = tmp;
        tmp = swap;
    }
    free(tmp.v);
    return rc;
}

/* SPM fragment: a leading space after BOS/special tokens (add_space_prefix)
 * and every space as U+2581, then the merges. */
static int spm_fragment(const lp_tokenizer *t, const char *s, size_t n, bool prefix,
                        lp_tokvec *out)
{
    size_t spaces = prefix;
    for (size_t i = 0; i < n; i++)
        spaces += s[i] == ' ';
    char *e = malloc(n + 2 * spaces + 1);
    if (!e)
        return -1;
    size_t w = 0;
    if (prefix)
        memcpy(e, "\xe2\x96\x81", 3), w = 3;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            memcpy(e + w, "\xe2\x96\x81", 3), w += 3;
        else
            e[w++] = s[i];
    }
    int rc = lp_spm_encode(t, e, w, out);
    free(e);
    return rc;
}

int lp_tokenize(const lp_tokenizer *t, const char *text, size_t len,
                bool add_special, bool parse_special,
                lp_token **out, size_t *n_out, lp_err *err)
{
    *out = NULL;
    *n_out = 0;
    if (len > INT32_MAX)
        return lp_err_set(err, "tokenize: %zu bytes of text is more than 2 GiB", len);
    frags f = {0};
    lp_tokvec tv = {0};
    int rc = len ? partition(t, text, len, parse_special, &f) : 0;
    bool spm = t->kind == LP_TOK_SPM;
    if (rc == 0 && add_special && t->add_bos)
        rc = lp_tokvec_push(&tv, t->bos);
    bool prev_special = true; /* SPM: the text's start counts as one */
    for (size_t k = 0; rc == 0 && k < f.n; k++) {
        frag g = f.v[k];
        if (g.id != LP_TOKEN_NULL) {
            rc = lp_tokvec_push(&tv, g.id);
            prev_special = true;
        } else if (spm) {
            rc = spm_fragment(t, text + g.off, g.len, t->add_space_prefix && prev_special, &tv);
            prev_special = false;
        } else {
            rc = lp_bpe_encode(t, text + g.off, g.len, &tv);
        }
    }
    if (rc == 0 && add_special && t->add_eos)
        rc = lp_tokvec_push(&tv, t->eos);
    free(f.v);
    if (rc) {
        free(tv.v);
        return lp_err_set(err, "tokenize: out of memory (or a word too long to merge)");
    }
    *out = tv.v;
    *n_out = tv.n;
    return 0;
}
