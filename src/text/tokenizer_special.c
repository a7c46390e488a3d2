/* tokenizer_special.c — the special tokens llama.cpp finds by name when
 * the GGUF does not name them (EOT, EOM, FIM), which tokens end a
 * generation, and the longest-first list that parse_special matches.
 *
 * Not mirrored (they concern other model families): llama.cpp's by-model-
 * name attribute fixes (phi-3 rstrip, jina/modern-bert lstrip), the
 * gpt-oss <|channel|>-style user-defined overrides, and the gemma4 /
 * o200k_harmony EOG exceptions. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* Tokens whose text llama.cpp treats as end of generation. */
static const char *const EOG_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
    "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
    "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
    "<turn|>", "<|tool_response>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence"
    "\xef\xbd\x9c>", "[e~[", NULL};

static const char *const EOT_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>", NULL};
static const char *const EOM_NAMES[] = {"<|eom_id|>", NULL};
static const char *const FIM_PRE_NAMES[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>",
    "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const FIM_SUF_NAMES[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>",
    "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const FIM_MID_NAMES[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>",
    "<|code_middle|>", "<|middle|>", NULL};
static const char *const FIM_PAD_NAMES[] = {
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const FIM_REP_NAMES[] = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
static const char *const FIM_SEP_NAMES[] = {"<|file_sep|>", NULL};

static lp_token find_name(const lp_tokenizer *t, const char *s)
{
    return lp_tok_lookup(t, s, strlen(s));
}

/* Unset id: the first listed name in the vocabulary becomes it (llama.cpp
 * takes whichever its unordered_map visits first) and is made a control
 * token. */
static void detect(lp_tokenizer *t, lp_token *id, const char *const *names)
{
    for (int i = 0; *id == LP_TOKEN_NULL && names[i]; i++) {
        lp_token f = find_name(t, names[i]);
        if (f != LP_TOKEN_NULL) {
            *id = f;
            t->attr[f] |= LP_TOKATTR_CONTROL;
        }
    }
}

static void mark_eog(lp_tokenizer *t, lp_token id)
{
    if (id >= 0 && (uint32_t)id < t->n_vocab)
        t->eog[id] = 1;
}

typedef struct by_len {
    uint32_t len;
    lp_token id;
} by_len;

static int cmp_by_len(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int build_special_list(lp_tokenizer *t, lp_err *err)
{
    const uint16_t want = LP_TOKATTR_CONTROL | LP_TOKATTR_USER_DEFINED | LP_TOKATTR_UNKNOWN;
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n_vocab; i++)
        n += (t->attr[i] & want) != 0;
    by_len *v = malloc((n ? n : 1) * sizeof *v);
    t->special = malloc((n ? n : 1) * sizeof *t->special);
    if (!v || !t->special) {
        free(v);
        return lp_err_set(err, "tokenizer: out of memory");
    }
    n = 0;
    for (uint32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & want)
            v[n++] = (by_len){t->text_len[i], (lp_token)i};
    /* llama.cpp's std::sort leaves equal lengths in no set order; ties by
     * id keep ours deterministic */
    qsort(v, n, sizeof *v, cmp_by_len);
    for (uint32_t i = 0; i < n; i++)
        t->special[i] = v[i].id;
    t->n_special = n;
    free(v);
    return 0;
}

int lp_tok_specials_finish(lp_tokenizer *t, lp_err *err)
{
    detect(t, &t->eot, EOT_NAMES);
    detect(t, &t->eom, EOM_NAMES);
    detect(t, &t->fim_pre, FIM_PRE_NAMES);
    detect(t, &t->fim_suf, FIM_SUF_NAMES);
    detect(t, &t->fim_mid, FIM_MID_NAMES);
    detect(t, &t->fim_pad, FIM_PAD_NAMES);
    detect(t, &t->fim_rep, FIM_REP_NAMES);
    detect(t, &t->fim_sep, FIM_SEP_NAMES);

    /* control tokens named "...unused..." are unused (render as nothing) */
    for (uint32_t i = 0; i < t->n_vocab; i++)
        if ((t->attr[i] & LP_TOKATTR_CONTROL) && memmem(t->text[i], t->text_len[i], "unused", 6))
            t->attr[i] |= LP_TOKATTR_UNUSED;

    mark_eog(t, t->fim_pad);
    mark_eog(t, t->fim_rep);
    mark_eog(t, t->fim_sep);
    for (int i = 0; EOG_NAMES[i]; i++) {
        lp_token id = find_name(t, EOG_NAMES[i]);
        if (id != LP_TOKEN_NULL) {
            mark_eog(t, id);
            t->attr[id] |= LP_TOKATTR_CONTROL;
        }
    }
    mark_eog(t, t->eos);
    mark_eog(t, t->eot);
    mark_eog(t, t->eom);
    return build_special_list(t, err);
}
