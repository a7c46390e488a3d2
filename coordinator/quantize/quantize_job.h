/* quantize_job.h — what `coord quantize` does with a model: the plan (each
 * tensor's output type, by llama.cpp's rules), the streamed write (chunks
 * of rows converted on a thread pool as the GGUF writer asks for them, so
 * no model needs to fit in memory), and the progress display.
 *
 * Ownership: qz_plan_make fills a plan the caller frees with qz_plan_free;
 * it borrows the lp_gguf, which must outlive it. */
#ifndef LP_COORD_QUANTIZE_JOB_H
#define LP_COORD_QUANTIZE_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "gguf.h"
#include "quant_mix.h"

typedef struct qz_tensor {
    const lp_gguf_tensor *src;
    char name[LP_GGUF_MAX_NAME];
    lp_type type;          /* as written */
    bool convert;          /* else its bytes are copied as they are */
    lp_mix_choice choice;  /* how the rules chose type, when convert */
    uint64_t out_bytes;
} qz_tensor;

typedef struct qz_plan {
    lp_ftype ftype;
    lp_mix mix;
    qz_tensor *t;          /* n entries in llama.cpp's order; owned */
    int n;
    int n_requant;         /* converted tensors whose source is Q8_0 */
    uint64_t in_bytes, out_bytes, n_elements;
} qz_plan;

/* Every tensor's type, checked before anything is written: -1 with *err
 * for an architecture or model the rules refuse, a tensor already
 * quantized below Q8_0, or a type we cannot produce. */
int qz_plan_make(const lp_gguf *g, lp_ftype ft, qz_plan *p, lp_err *err);
void qz_plan_free(qz_plan *p);

/* Called after each chunk of tensor i is written (out_done of its
 * out_bytes). Returns 0 to go on, or -1 with *err set to stop the write. */
typedef int (*qz_progress_fn)(void *ctx, const qz_plan *p, int i, uint64_t out_done,
                              lp_err *err);

/* Writes the quantized model to path (through a temporary file: on any
 * failure nothing is left under path) with n_threads threads. */
int qz_write(const lp_gguf *g, const qz_plan *p, const char *path, int n_threads,
             qz_progress_fn fn, void *ctx, lp_err *err);

/* The display: on a terminal one bar redrawn in place (tensor, MB/s,
 * ETA); elsewhere one line per tensor. */
typedef struct qz_bar {
    FILE *f;
    bool tty;
    double t0, last_draw;  /* seconds, monotonic */
    int printed;           /* tensors [0, printed) have been reported */
    uint64_t in_before;    /* input bytes of tensors [0, printed) */
} qz_bar;

void qz_bar_init(qz_bar *b, FILE *f, bool tty);
void qz_bar_update(qz_bar *b, const qz_plan *p, int i, uint64_t out_done);
void qz_bar_finish(qz_bar *b, const qz_plan *p); /* reports what is left */

#endif
