/* tokenizer_unicode.c — UTF-8 coding, codepoint categories, and the GPT-2
 * byte-level alphabet, with llama.cpp's (unicode.cpp) leniencies. */
#include "tokenizer_internal.h"
#include "vec.h"

#define LP_MAX_CPT 0x110000u

uint16_t lp_ucd_flags(uint32_t cpt)
{
    if (cpt < 0x80)
        return lp_ucd_ascii[cpt]; /* most text: no search */
    if (cpt >= LP_MAX_CPT)
        return LP_UCD_UNDEFINED;
    /* last range whose start <= cpt */
    size_t lo = 0, hi = lp_ucd_n_ranges;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lp_ucd_range_start[mid] <= cpt)
            lo = mid;
        else
            hi = mid;
    }
    return lp_ucd_range_flags[lo];
}

size_t lp_utf8_seq_len(uint8_t lead)
{
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

static bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

/* One codepoint at s[*i], or U+FFFD for a malformed sequence (then one byte
 * is consumed), mirroring unicode_cpt_from_utf8 + its caller's catch. */
static uint32_t decode_one(const uint8_t *s, size_t len, size_t *i)
{
    size_t o = *i;
    uint8_t b0 = s[o];
    if (b0 < 0x80) {
        *i = o + 1;
        return b0;
    }
    size_t n = (b0 & 0x40) == 0 ? 0 : (b0 & 0x20) == 0 ? 2 : (b0 & 0x10) == 0 ? 3
             : (b0 & 0x08) == 0 ? 4 : 0;
    bool ok = n != 0 && o + n <= len;
    for (size_t k = 1; ok && k < n; k++)
        ok = is_cont(s[o + k]);
    if (!ok) {
        *i = o + 1;
        return 0xFFFD;
    }
    uint32_t c = b0 & (0x7Fu >> n);
    for (size_t k = 1; k < n; k++)
        c = (c << 6) | (s[o + k] & 0x3Fu);
    *i = o + n;
    /* F5..F7 leads reach past U+10FFFF: llama.cpp throws on re-encoding
     * those; we read them as one replacement character instead. */
    return c < LP_MAX_CPT ? c : 0xFFFD;
}

size_t lp_utf8_decode(const char *s, size_t len, uint32_t *out)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, n = 0;
    while (i < len)
        out[n++] = decode_one(u, len, &i);
    return n;
}

size_t lp_utf8_encode(uint32_t c, char out[4])
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | ((c >> 18) & 0x07));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

bool lp_utf8_valid(const char *s, size_t len, size_t *bad_at)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint8_t b = u[i];
        size_t n = b < 0x80 ? 1 : (b >= 0xC2 && b <= 0xDF) ? 2
                 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 0;
        bool ok = n != 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = is_cont(u[i + k]);
        /* the second byte's range excludes overlongs, surrogates, > U+10FFFF */
        if (ok && n >= 3) {
            uint8_t b1 = u[i + 1];
            ok = !((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F) ||
                   (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 > 0x8F));
        }
        if (!ok) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += n;
    }
    return true;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves;
 * the other 68 bytes, in order, take U+0100.. so every byte is visible. */
static bool byte_is_self(uint32_t b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t lp_bpe_byte_to_cpt(uint8_t b)
{
    if (byte_is_self(b))
        return b;
    if (b <= 0x20)
        return 0x100u + b;          /* 0x00..0x20: 33 bytes */
    if (b >= 0x7F && b <= 0xA0)
        return 0x121u + (b - 0x7Fu); /* 0x7F..0xA0: 34 bytes */
    return 0x143;                    /* 0xAD */
}

int lp_bpe_cpt_to_byte(uint32_t c)
{
    if (c < 0x100)
        return byte_is_self(c) ? (int)c : -1;
    if (c <= 0x120)
        return (int)(c - 0x100);
    if (c <= 0x142)
        return (int)(c - 0x121 + 0x7F);
    if (c == 0x143)
        return 0xAD;
    return -1;
}

int lp_tokvec_push(lp_tokvec *tv, lp_token id)
{
    lp_token *v = lp_vec_reserve(tv->v, &tv->cap, tv->n, 1, sizeof *v);
    if (!v)
        return -1;
    tv->v = v;
    tv->v[tv->n++] = id;
    return 0;
}
