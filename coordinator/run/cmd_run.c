/* coord run — generate on this machine with one shard holding every layer:
 * text or token ids in, streamed text or ids out, speed on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_loop.h"
#include "commands.h"
#include "pool_run.h"
#include "run_opts.h"
#include "local.h"
#include "shard_mem.h"

static int prompt_tokens(run_local *s, const run_opts *o, run_tokens *out, lp_err *err)
{
    if (o->tokens) {
        for (int i = 0; i < o->n_tokens; i++)
            if (run_tokens_push(out, o->tokens[i]) != 0)
                return lp_err_set(err, "out of memory");
        return 0;
    }
    size_t len = strlen(o->prompt), bad, n;
    if (!lp_utf8_valid(o->prompt, len, &bad))
        return lp_err_set(err, "the prompt is not valid UTF-8 (byte %zu)", bad);
    lp_token *ids;
    if (lp_tokenize(s->tok, o->prompt, len, true, true, &ids, &n, err) != 0)
        return -1;
    out->ids = ids;
    out->n = out->cap = n;
    return 0;
}

static int run_once(run_local *s, const run_opts *o, lp_err *err)
{
    run_tokens prompt = {0};
    const float *logits;
    int rc = prompt_tokens(s, o, &prompt, err);
    if (rc == 0 && prompt.n + (size_t)o->n_predict > s->cap_past)
        rc = lp_err_set(err, "prompt (%zu tokens) + tokens to generate (%ld) exceed the "
                        "context of %zu (raise -c or lower -n)", prompt.n, o->n_predict,
                        s->cap_past);
    if (rc == 0 && !o->ids && o->prompt) {
        fputs(o->prompt, stdout); /* echo the prompt, as llama-cli does */
        fflush(stdout);
    }
    if (rc == 0)
        rc = run_local_set_context(s, prompt.ids, prompt.n, &logits, err);
    if (rc == 0)
        rc = run_local_generate(s, o, logits, NULL, err);
    free(prompt.ids);
    return rc;
}

/* -v: weights are used in place from the mapping, so the RSS should be
 * about weights + KV + buffers; this shows it. */
static void report_memory(const lp_shard *s)
{
    lp_shard_mem mem;
    lp_proc_mem pm;
    char line[256];
    if (lp_shard_mem_of(s, &mem, NULL) == 0)
        fprintf(stderr, "shard: %d layers, %d threads: %s\n", s->model->last - s->model->first,
                s->opts.n_threads,
                lp_shard_mem_line(&mem, lp_proc_mem_read(0, &pm) == 0 ? &pm : NULL, line,
                                  sizeof line));
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = run_opts_parse(argc, argv, &o);
    if (rc != 0) {
        run_opts_free(&o);
        return rc > 0 ? 0 : 2;
    }
    lp_err err = {0};
    if (o.config || o.local_workers) {
        rc = pool_run(&o, &err);
        if (rc != 0)
            fprintf(stderr, "coord run: %s\n", err.msg);
        run_opts_free(&o);
        return rc == 0 ? 0 : 1;
    }
    run_local s;
    rc = run_local_open(&s, &o, &err);
    if (rc == 0 && o.verbose)
        report_memory(s.shard);
    if (rc == 0)
        rc = o.chat ? chat_loop(&(chat_engine){s.shard->gguf, s.tok, chat_turn_local, &s}, &o,
                                stdin, &err)
                    : run_once(&s, &o, &err);
    if (rc == 0)
        run_local_report_speed(&s);
    else
        fprintf(stderr, "coord run: %s\n", err.msg);
    run_local_close(&s);
    run_opts_free(&o);
    return rc == 0 ? 0 : 1;
}
