/* bpool_predict.h — `coord bench-pool --predict`: the pipeline model
 * (pipe_model.h) applied to Llama 3 70B at Q4_K_M (42.5 GB, 70.55 B
 * weights, n_embd 8192) on home machines, each assumption printed beside
 * the figures: README's table. */
#ifndef LP_COORD_BPOOL_PREDICT_H
#define LP_COORD_BPOOL_PREDICT_H

#include <stdio.h>

void bpool_predict_70b(FILE *f);

#endif
