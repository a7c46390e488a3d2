/* tokenizer_detok.c — ids back to text: each token's rendered piece (built
 * once at load, as llama.cpp's cache_token_to_piece), llama_detokenize
 * with its space clean-up, and a UTF-8-safe streaming decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "vec.h"

#define ATTR_SPECIAL (LP_TOKATTR_UNKNOWN | LP_TOKATTR_CONTROL)

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static int buf_put(buf *b, const void *s, size_t n)
{
    char *p = lp_vec_reserve(b->p, &b->cap, b->n, n + 1, 1);
    if (!p)
        return -1;
    b->p = p;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int hex_val(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* A byte-level BPE token's bytes (llama_decode_text): each char maps back
 * to its byte; a char outside the alphabet renders as
 * "[UNK_BYTE_0x<its utf8 in hex><the whole token text>]", as llama.cpp. */
static int bpe_decode(buf *b, const char *s, size_t n)
{
    uint32_t cpts[64], *cp = n <= 64 ? cpts : malloc(n * sizeof *cp);
    if (!cp)
        return -1;
    size_t nc = lp_utf8_decode(s, n, cp);
    int rc = 0;
    for (size_t i = 0; i < nc && rc == 0; i++) {
        int byte = lp_bpe_cpt_to_byte(cp[i]);
        if (byte >= 0) {
            char c = (char)byte;
            rc = buf_put(b, &c, 1);
            continue;
        }
        char u[4], hex[16] = "";
        size_t k = lp_utf8_encode(cp[i], u);
        for (size_t j = 0; j < k; j++)
            snprintf(hex + 2 * j, 3, "%02x", (uint8_t)u[j]);
        rc = buf_put(b, "[UNK_BYTE_0x", 12) | buf_put(b, hex, 2 * k) | buf_put(b, s, n) |
             buf_put(b, "]", 1);
    }
    if (cp != cpts)
        free(cp);
    return rc;
}

/* SPM normal token: U+2581 stands for a space. */
static int spm_unescape(buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(s + i, "\xe2\x96\x81", 3)) {
            if (buf_put(b, " ", 1))
                return -1;
            i += 3;
        } else {
            size_t j = i + 1;
            while (j < n && !(j + 3 <= n && !memcmp(s + j, "\xe2\x96\x81", 3)))
                j++;
            if (buf_put(b, s + i, j - i))
                return -1;
            i = j;
        }
    }
    return 0;
}

/* token_to_piece(special = true) for one token. */
static int render(const lp_tokenizer *t, lp_token id, buf *b)
{
    uint16_t a = t->attr[id];
    const char *s = t->text[id];
    size_t n = t->text_len[id];
    if (a & (ATTR_SPECIAL | LP_TOKATTR_USER_DEFINED))
        return buf_put(b, s, n);
    if (a & LP_TOKATTR_NORMAL)
        return t->kind == LP_TOK_SPM ? spm_unescape(b, s, n) : bpe_decode(b, s, n);
    if (a & LP_TOKATTR_BYTE) { /* text checked to be <0xHH> at load */
        char c = (char)(hex_val(s[3]) * 16 + hex_val(s[4]));
        return buf_put(b, &c, 1);
    }
    return 0; /* unused / undefined render as nothing */
}

int lp_tok_build_pieces(lp_tokenizer *t, lp_err *err)
{
    buf b = {0};
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    if (!t->piece_off)
        return lp_err_set(err, "tokenizer: out of memory for pieces");
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        t->piece_off[id] = b.n;
        if (render(t, (lp_token)id, &b)) {
            free(b.p);
            return lp_err_set(err, "tokenizer: out of memory for pieces");
        }
    }
    t->piece_off[t->n_vocab] = b.n;
    t->piece_buf = b.p ? b.p : calloc(1, 1);
    if (!t->piece_buf)
        return lp_err_set(err, "tokenizer: out of memory for pieces");
    return 0;
}

const char *lp_token_piece(const lp_tokenizer *t, lp_token id, bool special, size_t *len)
{
    *len = 0;
    if (id < 0 || (uint32_t)id >= t->n_vocab)
        return NULL;
    if (!special && (t->attr[id] & ATTR_SPECIAL))
        return t->piece_buf;
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece_buf + t->piece_off[id];
}

/* llama.cpp's clean_up_tokenization_spaces, three in-place passes kept
 * index for index (each reads text[i - 1] after earlier writes). */
static size_t clean_spaces(char *text, size_t total)
{
    size_t total1 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total1; ++i) {
        char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
            total--; /* " ?", " !", " .", " ," */
        text[total++] = x;
    }
    size_t total2 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total2; ++i) {
        char x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;        /* " ' " */
            text[++i] = 0;
        }
        text[total++] = x;
    }
    size_t total3 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total3; ++i) {
        char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm')
                total--; /* " 's", " 'm" */
            else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e'))
                    total--; /* " 're", " 've" */
            }
        }
        text[total++] = x;
    }
    return total;
}

int lp_detokenize(const lp_tokenizer *t, const lp_token *ids, size_t n,
                  bool remove_special, bool unparse_special,
                  char **out, size_t *len, lp_err *err)
{
    bool remove_space = t->add_space_prefix;
    if (remove_special && t->add_bos && n > 0 && ids[0] == t->bos) {
        remove_space = false;
        ids++, n--;
    }
    if (remove_special && t->add_eos && n > 0 && ids[n - 1] == t->eos)
        n--;
    buf b = {0};
    if (buf_put(&b, "", 0))
        return lp_err_set(err, "detokenize: out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t pn;
        const char *p = lp_token_piece(t, ids[i], unparse_special, &pn);
        if (!p) {
            free(b.p);
            return lp_err_set(err, "detokenize: token id %d is out of range (vocab %u)",
                              ids[i], t->n_vocab);
        }
        if (remove_space && pn && p[0] == ' ')
            p++, pn--;
        remove_space = false;
        if (buf_put(&b, p, pn)) {
            free(b.p);
            return lp_err_set(err, "detokenize: out of memory");
        }
    }
    if (t->clean_spaces) {
        b.n = clean_spaces(b.p, b.n);
        b.p[b.n] = 0;
    }
    *out = b.p;
    *len = b.n;
    return 0;
}

/* ---- streaming -------------------------------------------------------- */

struct lp_detok_stream {
    const lp_tokenizer *t;
    bool special, strip, first;
    char pend[4]; /* bytes of a character not yet complete */
    size_t n_pend;
    buf out;
};

lp_detok_stream *lp_detok_stream_new(const lp_tokenizer *t, bool special,
                                     bool strip_first_space, lp_err *err)
{
    lp_detok_stream *s = calloc(1, sizeof *s);
    if (!s) {
        lp_err_set(err, "detokenize: out of memory");
        return NULL;
    }
    s->t = t;
    s->special = special;
    s->strip = strip_first_space && t->add_space_prefix;
    s->first = true;
    return s;
}

void lp_detok_stream_free(lp_detok_stream *s)
{
    if (s) {
        free(s->out.p);
        free(s);
    }
}

/* Allowed range of the second byte after lead b, and the sequence length
 * (0: b can never start a character). Unicode Table 3-7. */
static size_t seq_rule(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80, *hi = 0xBF;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0)
            *lo = 0xA0;
        if (b == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0)
            *lo = 0x90;
        if (b == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* Emit from s[0..n) all that is decided: whole characters as they are,
 * each maximal broken subpart as U+FFFD. Returns how many bytes at the end
 * wait for more input (all of them decided when `final`). */
static size_t emit_utf8(buf *o, const uint8_t *s, size_t n, bool final, int *rc)
{
    static const char fffd[3] = {'\xEF', '\xBF', '\xBD'};
    size_t i = 0;
    while (i < n) {
        uint8_t lo, hi;
        size_t need = seq_rule(s[i], &lo, &hi), k = 1;
        while (k < need && i + k < n && s[i + k] >= lo && s[i + k] <= hi)
            lo = 0x80, hi = 0xBF, k++;
        if (need && k == need)
            *rc |= buf_put(o, s + i, need);
        else if (need && i + k == n && !final)
            return n - i; /* a prefix that may still complete */
        else
            *rc |= buf_put(o, fffd, 3);
        i += (need && k == need) ? need : k;
    }
    return 0;
}

static const char *stream_feed(lp_detok_stream *s, const char *p, size_t pn, bool final,
                               size_t *len)
{
    uint8_t tmp[64];
    size_t n = s->n_pend + pn;
    uint8_t *w = n <= sizeof tmp ? tmp : malloc(n);
    if (!w)
        return NULL;
    memcpy(w, s->pend, s->n_pend);
    if (pn)
        memcpy(w + s->n_pend, p, pn);
    s->out.n = 0;
    int rc = buf_put(&s->out, "", 0);
    size_t keep = emit_utf8(&s->out, w, n, final, &rc);
    memcpy(s->pend, w + n - keep, keep); /* keep <= 3: a lead plus 2 */
    s->n_pend = keep;
    if (w != tmp)
        free(w);
    if (rc)
        return NULL;
    *len = s->out.n;
    return s->out.p;
}

const char *lp_detok_stream_push(lp_detok_stream *s, lp_token id, size_t *len)
{
    size_t pn;
    *len = 0;
    const char *p = lp_token_piece(s->t, id, s->special, &pn);
    if (!p)
        return NULL;
    if (s->first && s->strip && pn && p[0] == ' ')
        p++, pn--;
    s->first = false;
    return stream_feed(s, p, pn, false, len);
}

const char *lp_detok_stream_flush(lp_detok_stream *s, size_t *len)
{
    *len = 0;
    const char *r = stream_feed(s, NULL, 0, true, len);
    s->first = true;
    return r;
}
