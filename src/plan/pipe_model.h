/* pipe_model.h — what a pipeline of workers should do, from what it is
 * made of: per-stage compute, per-hop latency, link speed, bytes per
 * token. coord bench-pool prints it beside each measurement (so a gap
 * says something the model leaves out: batching, queueing, a slow hop),
 * and README's table for a 70B model on home machines comes from it.
 *
 *   decode, one session: a token crosses every stage and every hop:
 *     step = sum(stage) + hops x latency + (bytes on the wire) / rate
 *   decode, S sessions: S tokens in flight, none faster than the slowest
 *     stage or link allows (batching, which makes a stage's per-token
 *     cost fall with S, is left out: the measurement shows its gain):
 *     total = min(S / step, 1 / max(stage), rate / hop bits)
 *   prompt of P tokens in chunks of C: the chunks flow through the
 *     stages as through a pipeline; after the first chunk has crossed,
 *     one chunk leaves per max(slowest stage, slowest hop) per chunk. */
#ifndef LP_PIPE_MODEL_H
#define LP_PIPE_MODEL_H

#define LP_PIPE_MAX 64

typedef struct lp_pipe_model {
    int n;                               /* stages (workers) */
    double stage_ms[LP_PIPE_MAX];     /* compute per decode token */
    double prompt_ms[LP_PIPE_MAX];    /* compute per prompt token */
    double hop_bytes;                    /* per token, worker to worker */
    double result_bytes;                 /* per token, last worker to us */
    double in_bytes;                     /* per token, us to the first */
    double latency_ms;                   /* per hop, besides the bytes */
    double bits_per_s;                   /* 0: unlimited */
} lp_pipe_model;

typedef struct lp_pipe_pred {
    double tg_session, tg_total; /* decode tok/s: one session's, all S */
    double pp;                   /* prompt tok/s */
} lp_pipe_pred;

/* Prediction for S sessions and a prompt of P tokens in chunks of C. */
void lp_pipe_predict(const lp_pipe_model *m, int sessions, int n_prompt, int chunk,
                        lp_pipe_pred *out);

/* A model on N like machines: its weights split evenly, each stage's
 * decode time its share of the bytes over the memory bandwidth it reaches
 * (mem_gbs x efficiency), prompt time its share of 2 x params FLOPs over
 * its GFLOP/s. */
typedef struct lp_pipe_machine {
    int n;
    double weight_gb, params_b;  /* the model: GB of weights, billions */
    int n_embd;                  /* its hidden width */
    double wire_bytes;           /* bytes per value on the wire (2: f16) */
    double mem_gbs, efficiency, gflops;
    double bits_per_s, latency_ms;
} lp_pipe_machine;

void lp_pipe_of_machines(const lp_pipe_machine *mc, lp_pipe_model *m);

/* The prompt chunk that keeps m's stages busy. A chunk of k tokens costs a
 * stage a fixed part f, its weights read once (what a decode step costs:
 * the slowest stage_ms), and c per token (the slowest of a stage's
 * prompt_ms and a hop's wire time per token); the P / k chunks cross the
 * N stages in about (P / k + N - 1)(f + k c), least at
 *   k = sqrt(P f / ((N - 1) c)):
 * smaller chunks fill the pipeline sooner but read the weights more often.
 * Rounded up to a multiple of 16 (the prefill tiles' rows; the cost is
 * flat near k and steeper below it), at least 16, at most max_chunk; max_chunk for one stage (nothing to overlap) or a prompt that
 * fits one chunk of 16; 0 when m lacks the figures (no step measured yet). */
int lp_pipe_chunk(const lp_pipe_model *m, int n_prompt, int max_chunk);

#endif
