/* fuzz_tokenizer.c — libFuzzer harness for the tokenizers: any bytes are
 * tokenized (with and without special-token parsing) by each real
 * vocabulary in ../shared/vocab, and the ids detokenized again, whole and
 * streamed (the stream must only ever release valid UTF-8). LP_SHARED
 * points at the shared folder (default ../shared). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

static const char *const VOCABS[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf",
                                     "ggml-vocab-qwen2.gguf"};
enum { N_VOCABS = 3 };
/* loaded once; the fuzzer's process owns them to its end */
static lp_gguf *ggufs[N_VOCABS];
static lp_tokenizer *toks[N_VOCABS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *shared = getenv("LP_SHARED");
    for (int i = 0; i < N_VOCABS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/vocab/%s", shared ? shared : "../shared", VOCABS[i]);
        lp_err err = {0};
        lp_gguf *g = ggufs[i] = lp_gguf_open(path, &err);
        if (!g || !(toks[i] = lp_tokenizer_load(g, &err))) {
            fprintf(stderr, "fuzz_tokenizer: %s: %s\n", path, err.msg);
            exit(1);
        }
    }
    return 0;
}

static void round_trip(const lp_tokenizer *t, const char *text, size_t len, bool special)
{
    lp_token *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    size_t back_len = 0;
    lp_err err = {0};
    if (lp_tokenize(t, text, len, special, special, &ids, &n, &err) != 0)
        abort(); /* only out of memory may fail, and the input is small */
    if (lp_detokenize(t, ids, n, special, special, &back, &back_len, &err) != 0)
        abort();
    lp_detok_stream *s = lp_detok_stream_new(t, special, true, &err);
    if (!s)
        abort();
    for (size_t i = 0; i <= n; i++) {
        size_t piece_len = 0;
        const char *piece = i < n ? lp_detok_stream_push(s, ids[i], &piece_len)
                                  : lp_detok_stream_flush(s, &piece_len);
        if (!piece || (piece_len && !lp_utf8_valid(piece, piece_len, NULL)))
            abort(); /* a stream only ever releases whole, valid characters */
    }
    lp_detok_stream_free(s);
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0; /* long inputs only slow the search down */
    for (int i = 0; i < N_VOCABS; i++) {
        round_trip(toks[i], (const char *)data, size, false);
        round_trip(toks[i], (const char *)data, size, true);
    }
    return 0;
}
