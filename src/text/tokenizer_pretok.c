/* tokenizer_pretok.c — the BPE pre-tokenizers: the regex splits of
 * llama.cpp's unicode_regex_split, written out by hand (no regex engine).
 *
 * As in llama.cpp, a split is a list of piece lengths (in codepoints) and
 * each regex stage splits every piece further: its matches and the gaps
 * between them become pieces. Codepoint classes come from lp_ucd_flags:
 * \p{L} letter, \p{N} number, \s whitespace, "other" = none of the three.
 *
 * GPT-2 and Llama 3 follow llama.cpp's hand-written fast paths
 * (unicode_regex_split_custom_gpt2 / _llama3). Qwen2's regex
 *   (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])
 *   |[^\r\n\p{L}\p{N}]?\p{L}+ |\p{N} | ?[^\s\p{L}\p{N}]+[\r\n]*
 *   |\s*[\r\n]+ |\s+(?!\S) |\s+
 * runs in llama.cpp through std::regex (ECMAScript: first alternative that
 * matches wins, quantifiers backtrack) on text collapsed to one byte per
 * codepoint class. Worked through alternative by alternative, that is the
 * Llama 3 procedure with \p{N} taking one digit instead of up to three,
 * which is how it is done here. */
#include <stdlib.h>

#include "tokenizer_internal.h"
#include "vec.h"

typedef struct lens {
    size_t *v;
    size_t n, cap;
} lens;

static int lens_push(lens *l, size_t len)
{
    if (len == 0)
        return 0;
    size_t *v = lp_vec_reserve(l->v, &l->cap, l->n, 1, sizeof *v);
    if (!v)
        return -1;
    l->v = v;
    l->v[l->n++] = len;
    return 0;
}

/* One piece [ini, end) of the text; positions outside read as nothing. */
typedef struct piece {
    const uint32_t *cpts;
    size_t ini, end, prev_end;
    lens *out;
    int rc;
} piece;

#define OUT_OF_RANGE 0xFFFFFFFFu

static uint32_t cpt_at(const piece *p, size_t pos)
{
    return pos >= p->ini && pos < p->end ? p->cpts[pos] : OUT_OF_RANGE;
}

/* 0 outside the piece: llama.cpp's empty unicode_cpt_flags{} */
static uint16_t flags_at(const piece *p, size_t pos)
{
    return pos >= p->ini && pos < p->end ? lp_ucd_flags(p->cpts[pos]) : 0;
}

static bool is_l(uint16_t f) { return f & LP_UCD_LETTER; }
static bool is_n(uint16_t f) { return f & LP_UCD_NUMBER; }
static bool is_ws(uint16_t f) { return f & LP_UCD_WHITESPACE; }
/* [^\s\p{L}\p{N}] inside the piece */
static bool is_other(uint16_t f) { return f && !(f & (LP_UCD_WHITESPACE | LP_UCD_LETTER | LP_UCD_NUMBER)); }

/* End the current word at `end`; returns its length. */
static size_t add_word(piece *p, size_t end)
{
    size_t len = end - p->prev_end;
    p->rc |= lens_push(p->out, len);
    p->prev_end = end;
    return len;
}

static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 's 't 're 've 'm 'll 'd at pos: the contraction's length, else 0. */
static size_t contraction(const piece *p, size_t pos, bool any_case)
{
    if (cpt_at(p, pos) != '\'' || pos + 1 >= p->end)
        return 0;
    uint32_t a = cpt_at(p, pos + 1);
    if (any_case)
        a = ascii_lower(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (pos + 2 >= p->end)
        return 0;
    uint32_t b = cpt_at(p, pos + 2);
    if (any_case)
        b = ascii_lower(b);
    return ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) ? 3 : 0;
}

/* \s+(?!\S) then \s+ at pos (n whitespace chars there): a run not at the
 * piece's end leaves its last space to the next word. */
static size_t ws_run_end(const piece *p, size_t pos, size_t n)
{
    if (n > 1 && cpt_at(p, pos + n) != OUT_OF_RANGE)
        return pos + n - 1;
    return pos + n;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(piece *p)
{
    for (size_t pos = p->ini; pos < p->end;) {
        uint32_t cpt = cpt_at(p, pos);
        size_t c = contraction(p, pos, false);
        if (c) {
            pos += add_word(p, pos + c);
            continue;
        }
        uint16_t f2 = cpt == ' ' ? flags_at(p, pos + 1) : flags_at(p, pos);
        bool (*cls)(uint16_t) = is_l(f2) ? is_l : is_n(f2) ? is_n : is_other(f2) ? is_other : NULL;
        if (cls) {
            pos += cpt == ' ';
            while (cls(flags_at(p, pos)))
                pos++;
            add_word(p, pos);
            continue;
        }
        size_t n = 0;
        while (is_ws(flags_at(p, pos + n)))
            n++;
        if (n > 0) {
            pos = ws_run_end(p, pos, n);
            add_word(p, pos);
            continue;
        }
        add_word(p, ++pos); /* no alternative matched: one char alone */
    }
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
 * | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(piece *p, size_t max_digits)
{
    for (size_t pos = p->ini; pos < p->end;) {
        uint32_t cpt = cpt_at(p, pos);
        uint16_t f = flags_at(p, pos);
        size_t c = contraction(p, pos, true);
        if (c) {
            pos += add_word(p, pos + c);
            continue;
        }
        if (!(cpt == '\r' || cpt == '\n' || is_n(f)) && (is_l(f) || is_l(flags_at(p, pos + 1)))) {
            pos++;
            while (is_l(flags_at(p, pos)))
                pos++;
            add_word(p, pos);
            continue;
        }
        if (is_n(f)) { /* consecutive groups of up to max_digits */
            size_t ini = pos;
            while (is_n(flags_at(p, pos)))
                if (++pos - ini >= max_digits) {
                    add_word(p, pos);
                    ini = pos;
                }
            add_word(p, pos);
            continue;
        }
        /* llama.cpp tests the current char's flags, not f2's, for being in
         * the piece; a lone trailing space so becomes its own word, which
         * is what \s+ would have given too */
        uint16_t f2 = cpt == ' ' ? flags_at(p, pos + 1) : f;
        if (!(f2 & (LP_UCD_WHITESPACE | LP_UCD_LETTER | LP_UCD_NUMBER)) && f) {
            pos += cpt == ' ';
            while (is_other(flags_at(p, pos)))
                pos++;
            for (uint32_t c2 = cpt_at(p, pos); c2 == '\r' || c2 == '\n'; c2 = cpt_at(p, ++pos))
                ;
            add_word(p, pos);
            continue;
        }
        size_t n = 0, last_crlf_end = 0;
        for (uint32_t c2; is_ws(flags_at(p, pos + n)); n++)
            if ((c2 = cpt_at(p, pos + n)) == '\r' || c2 == '\n')
                last_crlf_end = pos + n + 1;
        if (last_crlf_end > 0) { /* \s*[\r\n]+ */
            pos = last_crlf_end;
            add_word(p, pos);
            continue;
        }
        if (n > 0) {
            pos = ws_run_end(p, pos, n);
            add_word(p, pos);
            continue;
        }
        add_word(p, ++pos);
    }
}

/* The regex runs of the "default" list: [\p{P}\$\+<=>\^~\|]+ and \p{N}+.
 * Runs of the class are matches, stretches between them gaps: either way
 * a piece ends wherever the class changes. */
static bool in_punct_set(uint32_t c)
{
    uint16_t f = lp_ucd_flags(c);
    return ((f & LP_UCD_PUNCT) && !(f & LP_UCD_WHITESPACE)) || c == '$' || c == '+' ||
           c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|';
}

static bool in_number_set(uint32_t c) { return is_n(lp_ucd_flags(c)); }

static void split_runs(piece *p, bool (*in)(uint32_t))
{
    size_t pos = p->ini;
    while (pos < p->end) {
        bool m = in(p->cpts[pos]);
        while (++pos < p->end && in(p->cpts[pos]) == m)
            ;
        add_word(p, pos);
    }
}

static bool ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

/* [0-9][0-9][0-9]: leftmost non-overlapping triples; the rest are gaps. */
static void split_triples(piece *p)
{
    size_t pos = p->ini;
    while (pos + 3 <= p->end) {
        if (ascii_digit(p->cpts[pos]) && ascii_digit(p->cpts[pos + 1]) &&
            ascii_digit(p->cpts[pos + 2])) {
            add_word(p, pos);
            add_word(p, pos + 3);
            pos += 3;
        } else {
            pos++;
        }
    }
    add_word(p, p->end);
}

typedef enum stage { ST_GPT2, ST_LLAMA3, ST_QWEN2, ST_PUNCT, ST_NUMBER, ST_TRIPLES } stage;

/* Apply one stage to every piece of `in`, giving `out`. */
static int run_stage(stage st, const uint32_t *cpts, const lens *in, lens *out)
{
    size_t start = 0;
    for (size_t k = 0; k < in->n; k++) {
        piece p = {cpts, start, start + in->v[k], start, out, 0};
        switch (st) {
        case ST_GPT2: split_gpt2(&p); break;
        case ST_LLAMA3: split_llama3(&p, 3); break;
        case ST_QWEN2: split_llama3(&p, 1); break;
        case ST_PUNCT: split_runs(&p, in_punct_set); break;
        case ST_NUMBER: split_runs(&p, in_number_set); break;
        case ST_TRIPLES: split_triples(&p); break;
        }
        if (p.rc)
            return -1;
        start = p.end;
    }
    return 0;
}

int lp_pretok_split(lp_pretok pre, const uint32_t *cpts, size_t n, size_t **out_lens,
                    size_t *n_words)
{
    static const stage DEFAULT[] = {ST_PUNCT, ST_GPT2, ST_NUMBER, ST_TRIPLES};
    static const stage GPT2[] = {ST_GPT2}, LLAMA3[] = {ST_LLAMA3}, QWEN2[] = {ST_QWEN2};
    const stage *stages = pre == LP_PRE_GPT2 ? GPT2 : pre == LP_PRE_LLAMA3 ? LLAMA3
                        : pre == LP_PRE_QWEN2 ? QWEN2 : DEFAULT;
    size_t n_stages = pre == LP_PRE_DEFAULT ? 4 : 1;

    lens cur = {0}, next = {0};
    int rc = lens_push(&cur, n);
    for (size_t s = 0; rc == 0 && s < n_stages; s++) {
        next.n = 0;
        rc = run_stage(stages[s], cpts, &cur, &next);
        lens tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.v);
    if (rc) {
        free(cur.v);
        return -1;
    }
    *out_lens = cur.v;
    *n_words = cur.n;
    return 0;
}
