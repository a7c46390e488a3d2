/* tokenizer_internal.h — what the tokenizer_*.c files share. Not API. */
#ifndef LP_TOKENIZER_INTERNAL_H
#define LP_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tokenizer.h"

/* ---- Unicode (tokenizer_unicode.c, tables in tokenizer_unicode_data.c) --
 * One General_Category bit per codepoint plus WHITESPACE, as llama.cpp's
 * unicode_cpt_flags (minus the case/NFD bits, which no tokenizer here
 * reads). Codepoints past U+10FFFF are UNDEFINED. */
#define LP_UCD_UNDEFINED 0x001
#define LP_UCD_NUMBER 0x002
#define LP_UCD_LETTER 0x004
#define LP_UCD_SEPARATOR 0x008
#define LP_UCD_MARK 0x010
#define LP_UCD_PUNCT 0x020
#define LP_UCD_SYMBOL 0x040
#define LP_UCD_CONTROL 0x080
#define LP_UCD_WHITESPACE 0x100

extern const uint32_t lp_ucd_range_start[];
extern const uint16_t lp_ucd_range_flags[];
extern const size_t lp_ucd_n_ranges;
extern const uint16_t lp_ucd_ascii[128];

uint16_t lp_ucd_flags(uint32_t cpt);

/* Bytes in the UTF-8 sequence that `lead` starts, by its high nibble, as
 * llama.cpp's unicode_len_utf8 (continuation bytes count 1). */
size_t lp_utf8_seq_len(uint8_t lead);

/* Decode as llama.cpp's unicode_cpts_from_utf8: a malformed sequence (bad
 * lead, missing continuation) yields U+FFFD and skips one byte. Overlong
 * forms and surrogates decode as llama.cpp does (to their value); values
 * past U+10FFFF, which llama.cpp cannot re-encode (it throws), become
 * U+FFFD. out must hold len entries; returns the count. */
size_t lp_utf8_decode(const char *s, size_t len, uint32_t *out);

/* Encode cpt (<= U+10FFFF) into out; returns 1..4. */
size_t lp_utf8_encode(uint32_t cpt, char out[4]);

/* GPT-2 byte-level BPE alphabet: byte -> codepoint and back (-1: none). */
uint32_t lp_bpe_byte_to_cpt(uint8_t b);
int lp_bpe_cpt_to_byte(uint32_t cpt);

/* ---- growable id vector ---------------------------------------------- */
typedef struct lp_tokvec {
    lp_token *v;
    size_t n, cap;
} lp_tokvec;

int lp_tokvec_push(lp_tokvec *tv, lp_token id); /* 0, or -1 on OOM */

/* ---- hash tables (tokenizer_hash.c) ---------------------------------- */

/* Open addressing, linear probing; slots hold index + 1 (0 = empty). */
typedef struct lp_strmap {
    uint32_t *slots;
    uint64_t mask;
} lp_strmap;

typedef struct lp_merge {
    const char *l, *r;
    uint32_t ll, rl;
} lp_merge;

uint64_t lp_hash_bytes(uint64_t h, const char *s, size_t n);
#define LP_HASH_SEED 0xcbf29ce484222325ull

/* ---- pre-tokenizers (tokenizer_pretok.c) ----------------------------- */
typedef enum lp_pretok {
    LP_PRE_DEFAULT = 0, /* llama.cpp's fallback list of four regexes */
    LP_PRE_GPT2,
    LP_PRE_LLAMA3,
    LP_PRE_QWEN2,
} lp_pretok;

/* Split n codepoints into words as llama.cpp's unicode_regex_split does for
 * the pre-tokenizer; *lens gets the words' lengths in codepoints (malloc'd,
 * caller frees), *n_words their count. -1 on OOM. */
int lp_pretok_split(lp_pretok pre, const uint32_t *cpts, size_t n,
                    size_t **lens, size_t *n_words);

/* ---- the tokenizer --------------------------------------------------- */
struct lp_tokenizer {
    lp_tok_kind kind;
    lp_pretok pre;
    char pre_name[64];
    uint32_t n_vocab;

    /* per token, n_vocab entries */
    const char **text;  /* into the gguf mapping, or into empty_arena */
    uint32_t *text_len;
    uint32_t max_text_len; /* the longest, "[EMPTY_<id>]" stand-ins included */
    float *score;
    uint16_t *attr;
    uint8_t *eog;       /* 1 = end of generation */

    lp_strmap tokmap;   /* text -> id */

    lp_merge *merges;   /* rank = index */
    uint32_t n_merges;
    lp_strmap mergemap; /* (l, r) -> rank, the first of duplicates */

    lp_token bos, eos, eot, eom, unk, sep, pad, nl;
    lp_token fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix, ignore_merges, clean_spaces;

    /* control / user-defined / unknown ids, longest text first */
    lp_token *special;
    uint32_t n_special;

    lp_token byte_tok[256]; /* SPM byte fallback: <0xNN>, else the char */

    /* rendered pieces (special = true): piece_off[n_vocab + 1] */
    char *piece_buf;
    uint64_t *piece_off;

    char *empty_arena;  /* "[EMPTY_<id>]" texts for empty tokens */
};

/* tokenizer_hash.c */
int lp_tokmap_build(lp_tokenizer *t, lp_err *err);
lp_token lp_tok_lookup(const lp_tokenizer *t, const char *s, size_t n);
int lp_mergemap_build(lp_tokenizer *t, lp_err *err);
int32_t lp_merge_rank(const lp_tokenizer *t, const char *l, size_t ll,
                      const char *r, size_t rl);
void lp_strmap_free(lp_strmap *m);

/* tokenizer_special.c: default ids, eot/eog detection by name, the sorted
 * special list. After the texts, attrs and GGUF ids are in place. */
int lp_tok_specials_finish(lp_tokenizer *t, lp_err *err);

/* tokenizer_detok.c: fill piece_buf / piece_off. */
int lp_tok_build_pieces(lp_tokenizer *t, lp_err *err);

/* tokenizer_spm.c / tokenizer_bpe.c: encode one fragment of raw text. */
int lp_spm_encode(const lp_tokenizer *t, const char *text, size_t len,
                  lp_tokvec *out);
int lp_bpe_encode(const lp_tokenizer *t, const char *text, size_t len,
                  lp_tokvec *out);

#endif
