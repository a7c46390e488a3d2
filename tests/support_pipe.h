/* support_pipe.h — a pipeline of real workers driven message by message,
 * for the worker's end-to-end tests: start N workers, load a model cut
 * into their layer ranges, step sessions through them, ask for stats.
 * Every helper asserts (cmocka) what a well-behaved worker must answer
 * and waits with a timeout. Include after cmocka.h. */
#ifndef LP_TEST_SUPPORT_PIPE_H
#define LP_TEST_SUPPORT_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "support.h"
#include "support_worker.h"
#include "wire_sampling.h"

enum { E2E_CTX = 128, E2E_BATCH = 16, E2E_MAX_WORKERS = 3, E2E_WAIT_MS = 20000 };

typedef struct e2e_pipe {
    lp_test_worker w[E2E_MAX_WORKERS];
    int n;
    lp_test_coord c;
    uint8_t model_id[32];
} e2e_pipe;

/* Start n workers (extra worker args may be NULL) and connect to them. */
void e2e_pipe_spawn(e2e_pipe *p, int n, const char *args);
/* Load models/<stem>.gguf: worker i holds [first[i], last[i]), chained. */
void e2e_pipe_load(e2e_pipe *p, const char *stem, const int *first, const int *last, int n_ctx,
                   int n_batch);
/* spawn + load with the split at `cut` (two workers) or whole (one). */
void e2e_pipe_start(e2e_pipe *p, const char *stem, int n_workers, int cut);
void e2e_pipe_start_opts(e2e_pipe *p, const char *stem, int n_workers, int cut, int n_ctx,
                         int n_batch);
/* Shutdown every worker; asserts each exits with status 0. */
void e2e_pipe_stop(e2e_pipe *p);

/* Build and send a LoadShard; returns the reply (caller frees) or NULL. */
Lp__Envelope *e2e_load_req(lp_test_coord *c, int i, const uint8_t id[32], const char *path,
                           int first, int last, int n_ctx, int n_batch, const char *next);

Lp__Envelope *e2e_hello(lp_test_coord *c, int i);     /* asserts Capabilities */
Lp__Envelope *e2e_stats(lp_test_coord *c, int i);     /* asserts Stats */
Lp__Envelope *e2e_heartbeat(lp_test_coord *c, int i); /* NULL if none within 2 s */
void e2e_end_session(lp_test_coord *c, int i, uint64_t session);
void e2e_shutdown(lp_test_coord *c, int i, lp_test_worker *w);

/* One Forward into the first worker: n token ids at pos0; `sample` adds
 * greedy sampling; hist/n_hist is the `history` a session's first sampled
 * step carries. */
void e2e_send_forward(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                      int n, bool new_session, bool sample, const int32_t *hist, int n_hist,
                      uint32_t top_logprobs);
/* The same with any sampling parameters (NULL: this step is not sampled). */
void e2e_send_forward_sp(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                         int n, bool new_session, const lp_sampler_params *sp,
                         const int32_t *hist, int n_hist, uint32_t top_logprobs);
void e2e_send_step(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                   int n, bool new_session, bool sample);
/* e2e_send_step, then the next message on the result endpoint (caller frees). */
Lp__Envelope *e2e_step(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                       int n, bool new_session, bool sample);

/* Greedy generation: the prompt in E2E_BATCH-token chunks sent back to
 * back (only the last sampled), then one step per token; n_gen ids out.
 * Asserts every Result (unsampled chunks answer token -1) and that each
 * carries n_hops compute times. */
void e2e_generate_batch(lp_test_coord *c, uint64_t session, const int32_t *prompt, int n_prompt,
                        int n_gen, int32_t *ids, int n_hops, int n_batch);
void e2e_generate(lp_test_coord *c, uint64_t session, const int32_t *prompt, int n_prompt,
                  int n_gen, int32_t *ids, int n_hops);

/* Asserts r is an Error with code whose message contains needle; frees r. */
void e2e_expect_error(Lp__Envelope *r, uint32_t code, const char *needle);

int64_t e2e_now_ms(void);

#endif
