/* ppl_pool.c — scoring windows through a pool of workers (being written). */
#include <stdlib.h>

#include "ppl.h"

struct ppl_pool {
    int unused;
};

ppl_pool *ppl_pool_open(const ppl_opts *o, lp_err *err)
{
    (void)o;
    lp_err_set(err, "perplexity through a pool is not available yet");
    return NULL;
}

void ppl_pool_close(ppl_pool *p)
{
    free(p);
}

ppl_source ppl_pool_source(ppl_pool *p)
{
    return (ppl_source){.self = p};
}

const lp_gguf *ppl_pool_gguf(const ppl_pool *p)
{
    (void)p;
    return NULL;
}

const lp_tokenizer *ppl_pool_tokenizer(const ppl_pool *p)
{
    (void)p;
    return NULL;
}

int ppl_pool_n_ctx(const ppl_pool *p)
{
    (void)p;
    return 0;
}
