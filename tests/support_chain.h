/* support_chain.h — a model's layer ranges run one after the other in
 * memory, handing hidden states along (what the pipeline does over the
 * wire): for comparing shards with the whole model. Include after cmocka's
 * prerequisites. */
#ifndef LP_TEST_SUPPORT_CHAIN_H
#define LP_TEST_SUPPORT_CHAIN_H

#include "shard.h"

enum { LP_CHAIN_CHUNK = 4 }; /* prompt tokens per step: the prompt goes in 3 */

/* Layers [first, last) (last -1: to the end) of the GGUF at path: context
 * 64, 2 threads, one session open in slot 0. Fails the test on error. */
lp_shard *chain_open(const char *path, int first, int last);

/* Logits after a fixed 11-token prompt and after each of n_decode greedy
 * tokens fed back, through the shards in order: (n_decode + 1) x n_vocab
 * floats, which the caller frees. */
float *chain_trace(lp_shard **sh, int n_sh, int n_vocab, int n_decode);

#endif
