/* run_opts.h — the options of `coord run` (and, later, of the other
 * commands that generate). */
#ifndef LP_COORD_RUN_OPTS_H
#define LP_COORD_RUN_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "sampler.h"
#include "stopstr.h"
#include "shard.h"

typedef struct run_opts {
    const char *model;
    const char *prompt;  /* -p, borrowed from argv */
    int32_t *tokens;     /* --tokens, owned */
    int n_tokens;
    long n_predict;
    bool ids, ignore_eos;
    bool chat;                 /* --chat: interactive turns */
    bool verbose;              /* -v: the shard's memory at load */
    const char *chat_template; /* --chat-template NAME, or NULL */
    const char *system;        /* --system TEXT, or NULL */
    const char *stops[LP_STOPSTR_MAX]; /* --stop TEXT (repeatable), borrowed */
    size_t n_stops;
    const char *config;        /* --config FILE: run through that pool */
    int local_workers;         /* --local-workers N: start N workers here */
    lp_sampler_params sampling;
    lp_shard_opts shard;
} run_opts;

/* 0 ok; 1 help was printed; -1 error (printed). Free with run_opts_free
 * whatever the result. */
int run_opts_parse(int argc, char **argv, run_opts *o);
void run_opts_free(run_opts *o);

#endif
