/* bpool_out.h — coord bench-pool's results: one row per point, printed as
 * a table line while the sweep runs, and at the end written as CSV, JSON
 * and charts (gnuplot, SVG and PNG: decode and prompt tok/s and bytes per
 * token against shard count, one line per link speed).
 *
 * Ownership: rows are the caller's; the writers only read them. */
#ifndef LP_COORD_BPOOL_OUT_H
#define LP_COORD_BPOOL_OUT_H

#include <stdio.h>

#include "bpool_point.h"
#include "pipe_model.h"

typedef struct bpool_row {
    const char *engine;     /* "layerpool" or "llama.cpp-rpc" */
    int shards, threads, sessions;
    char link[16];          /* "unlimited", "1gbit", .. */
    double bits_per_s;      /* 0: unlimited */
    char dtype[8];
    bpool_result r;
    lp_pipe_pred pred;      /* the model's figures (layerpool rows) */
    bool has_pred;
} bpool_row;

void bpool_out_header(FILE *f);
void bpool_out_row(FILE *f, const bpool_row *row);

/* The files under dir: bench-pool.csv, bench-pool.json and, when gnuplot
 * is installed, bench-pool-{decode,prompt,bytes}.{svg,png}. `machine`
 * describes where it ran; `model` what. 0, or -1 with err. */
int bpool_out_files(const char *dir, const bpool_row *rows, int n, const char *machine,
                    const char *model, lp_err *err);

/* Render the charts again from the .dat files a run left in dir (after a
 * change of their style, without measuring again). 0, or -1 with err. */
int bpool_out_replot(const char *dir, lp_err *err);

#endif
