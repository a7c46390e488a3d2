/* tokenizer.h — llama.cpp-exact tokenizers from a GGUF file's metadata.
 *
 * Two kinds, chosen by tokenizer.ggml.model:
 *   "llama" — SentencePiece BPE (SPM): score-driven merges, byte fallback
 *             tokens <0xNN>, whitespace as U+2581, a space prefixed to the
 *             text (tokenizer.ggml.add_space_prefix, default on).
 *   "gpt2"  — byte-level BPE with merge ranks and the pre-tokenizer named
 *             by tokenizer.ggml.pre: "llama-bpe" (and llama.cpp's aliases
 *             for the Llama 3 split), "qwen2" (and aliases), the GPT-2
 *             split ("gpt-2", ...) and llama.cpp's "default" split.
 * Ids, pieces and flags are what llama.cpp (llama-vocab.cpp) produces;
 * where we differ, the function below says so.
 *
 * Ownership: lp_tokenizer_load returns a tokenizer the caller owns and
 * frees with lp_tokenizer_free. Token texts and merges point into the
 * lp_gguf's mapping, so the lp_gguf must stay open until the tokenizer is
 * freed. A loaded tokenizer is immutable: any number of threads may use it
 * at once (each call allocates its own scratch).
 *
 * Text is bytes (UTF-8 expected). Invalid UTF-8 is accepted as llama.cpp
 * accepts it: SPM emits each invalid byte as a byte token; BPE reads each
 * invalid byte as U+FFFD (so it tokenizes as "\xEF\xBF\xBD"). Use
 * lp_utf8_valid to reject such input first where that is wanted. */
#ifndef LP_TOKENIZER_H
#define LP_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"

typedef int32_t lp_token;
#define LP_TOKEN_NULL ((lp_token)-1)

typedef enum lp_tok_kind {
    LP_TOK_SPM = 1, /* tokenizer.ggml.model "llama" */
    LP_TOK_BPE = 2, /* tokenizer.ggml.model "gpt2" */
} lp_tok_kind;

/* Token attributes, llama.cpp's llama_token_attr bits. tokenizer.ggml.
 * token_type maps 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte; anything else is UNDEFINED (0). */
enum {
    LP_TOKATTR_UNDEFINED = 0,
    LP_TOKATTR_UNKNOWN = 1 << 0,
    LP_TOKATTR_UNUSED = 1 << 1,
    LP_TOKATTR_NORMAL = 1 << 2,
    LP_TOKATTR_CONTROL = 1 << 3,
    LP_TOKATTR_USER_DEFINED = 1 << 4,
    LP_TOKATTR_BYTE = 1 << 5,
};

typedef struct lp_tokenizer lp_tokenizer;

/* Build a tokenizer from g's tokenizer.* metadata, validating it all (types,
 * equal array lengths, byte tokens, merges, no duplicate token texts).
 * NULL on error; err names the key at fault. A GGUF without
 * tokenizer.ggml.model fails with "no tokenizer in this GGUF". */
lp_tokenizer *lp_tokenizer_load(const lp_gguf *g, lp_err *err);
void lp_tokenizer_free(lp_tokenizer *t);

/* ---- encoding ------------------------------------------------------- */

/* Tokenize len bytes of text (no NUL needed). add_special: add BOS/EOS as
 * the model asks (add_bos / add_eos flags). parse_special: control and
 * unknown token texts in the input (e.g. "<|eot_id|>") become their ids;
 * without it they are tokenized as plain text. User-defined tokens are
 * always matched, as llama.cpp does; plain text never yields a control
 * token. On success *out is a malloc'd array of *n_out ids (the caller
 * frees it; NULL when *n_out is 0) and 0 is returned; -1 on out-of-memory
 * or text longer than INT32_MAX bytes. */
int lp_tokenize(const lp_tokenizer *t, const char *text, size_t len,
                bool add_special, bool parse_special,
                lp_token **out, size_t *n_out, lp_err *err);

/* True if the len bytes at s are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). On false, *bad_at (if
 * non-NULL) gets the offset of the first bad byte. */
bool lp_utf8_valid(const char *s, size_t len, size_t *bad_at);

/* ---- decoding ------------------------------------------------------- */

/* The text of one token as llama.cpp's token_to_piece renders it: SPM
 * U+2581 -> ' ', byte tokens -> their byte, BPE byte-level chars -> bytes.
 * Control/unknown tokens render as their text only if `special`; unused
 * and undefined ones render empty. Returns a pointer owned by t (valid
 * until lp_tokenizer_free; not NUL-terminated) and sets *len; an id out of
 * range gives NULL and *len 0. */
const char *lp_token_piece(const lp_tokenizer *t, lp_token id, bool special,
                           size_t *len);

/* llama.cpp's llama_detokenize: the pieces concatenated; the SPM leading
 * space of the first piece removed (add_space_prefix); with remove_special,
 * a leading BOS / trailing EOS dropped when add_bos / add_eos; BPE
 * vocabularies with clean_spaces (e.g. llama-bpe, not qwen2) tidy " ." etc.
 * *out is malloc'd and NUL-terminated (caller frees), *len its length.
 * -1 on out-of-memory or an id out of range. */
int lp_detokenize(const lp_tokenizer *t, const lp_token *ids, size_t n,
                  bool remove_special, bool unparse_special,
                  char **out, size_t *len, lp_err *err);

/* Streaming detokenizer: feed ids as they are generated and get back text
 * that never ends inside a UTF-8 character. Bytes of an incomplete
 * character wait for the next piece; bytes that can never form a valid
 * character (stray continuation bytes, overlong forms, ...) come out as
 * U+FFFD, as Python's errors="replace" does, so the output is always valid
 * UTF-8. No clean_spaces tidying (it needs look-ahead). Owned by the
 * caller; holds t, which must outlive it. */
typedef struct lp_detok_stream lp_detok_stream;

/* special: render control tokens' text. strip_first_space: drop the leading
 * space of the first piece on SPM vocabularies, as lp_detokenize does. */
lp_detok_stream *lp_detok_stream_new(const lp_tokenizer *t, bool special,
                                     bool strip_first_space, lp_err *err);
void lp_detok_stream_free(lp_detok_stream *s);

/* Append id's piece. Returns the text now complete (pointer owned by the
 * stream, valid until its next call; not NUL-terminated) and its length in
 * *len, possibly 0. NULL on out-of-memory or an id out of range. */
const char *lp_detok_stream_push(lp_detok_stream *s, lp_token id, size_t *len);

/* End of stream: whatever bytes still wait, as U+FFFD per broken
 * character. Same return contract as push. The stream can be reused. */
const char *lp_detok_stream_flush(lp_detok_stream *s, size_t *len);

/* ---- the vocabulary ------------------------------------------------- */

lp_tok_kind lp_tokenizer_kind(const lp_tokenizer *t);
uint32_t lp_tokenizer_n_vocab(const lp_tokenizer *t);

/* Special ids, LP_TOKEN_NULL when the model has none. Defaults are
 * llama.cpp's (SPM: bos 1, eos 2, unk 0; BPE: bos = eos = 11, no unk) when
 * the GGUF does not set them; ids in the GGUF that are out of range are
 * ignored (llama.cpp warns and keeps the default), e.g. stories260K's pad
 * 0xFFFFFFFF. eot is found by name (<|eot_id|>, <|im_end|>, ...) when not
 * set: llama.cpp takes whichever its hash map yields first; we take the
 * first name of its list that exists. */
lp_token lp_tokenizer_bos(const lp_tokenizer *t);
lp_token lp_tokenizer_eos(const lp_tokenizer *t);
lp_token lp_tokenizer_eot(const lp_tokenizer *t);
lp_token lp_tokenizer_pad(const lp_tokenizer *t);
lp_token lp_tokenizer_unk(const lp_tokenizer *t);
lp_token lp_tokenizer_nl(const lp_tokenizer *t); /* the "\n" token */
bool lp_tokenizer_add_bos(const lp_tokenizer *t);
bool lp_tokenizer_add_eos(const lp_tokenizer *t);

/* End of generation: eos, eot, eom and the tokens llama.cpp's list names
 * (<|endoftext|>, <|im_end|>, <end_of_turn>, ...). */
bool lp_tokenizer_is_eog(const lp_tokenizer *t, lp_token id);

/* Raw token text as stored (not rendered); NULL if id is out of range. */
const char *lp_tokenizer_text(const lp_tokenizer *t, lp_token id, size_t *len);
uint32_t lp_tokenizer_attr(const lp_tokenizer *t, lp_token id);
float lp_tokenizer_score(const lp_tokenizer *t, lp_token id);
/* Id of the token whose text is exactly s[0..len), or LP_TOKEN_NULL. */
lp_token lp_tokenizer_find(const lp_tokenizer *t, const char *s, size_t len);
/* The most bytes of text one token can stand for: a stored piece is never
 * shorter than the text it covers (SPM writes a space as 3 bytes, byte-
 * level BPE a byte as 1 or 2, a byte token as 6), and an unknown character
 * is at most 4. So a text of len bytes is at least len / this many tokens,
 * known before tokenizing it. */
size_t lp_tokenizer_max_token_bytes(const lp_tokenizer *t);
/* tokenizer.ggml.pre as stored ("" when absent). */
const char *lp_tokenizer_pre_name(const lp_tokenizer *t);

#endif
