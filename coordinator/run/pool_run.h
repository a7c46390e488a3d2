/* pool_run.h — `coord run` through a pipeline of workers (--local-workers
 * N or --config FILE): the coordinator holds the tokenizer and the GGUF
 * header only; the workers hold the layers. */
#ifndef LP_COORD_POOL_RUN_H
#define LP_COORD_POOL_RUN_H

#include "run_opts.h"

int pool_run(const run_opts *o, lp_err *err);

#endif
