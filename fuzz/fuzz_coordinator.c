/* fuzz_coordinator.c — libFuzzer harness for the coordinator's handlers of
 * what workers send it: answers on a worker's control link (cl_on_control:
 * ShardReady, Stats, Error, Ok, ...) and Results and Errors at the result
 * endpoint (cl_on_result), as a compromised or broken worker could send
 * them. The pool is real: two keyed local workers on stories260K from
 * ../shared, with a generation session kept running, so a Result or Error
 * that names no session (0) is aimed at the live one. An input holds
 * several messages separated by "\n--\n"; each one's first byte says
 * where it lands (bit 0: from worker 0 or 1; bit 1: control link or result
 * endpoint), the rest is the Envelope. After each input the cluster's loop
 * turns once, so what the messages set off (steps to the workers, their
 * answers) runs too.
 *
 * libFuzzer's entry points take no context: the pool lives in this file's
 * one static, set up once by LLVMFuzzerInitialize. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"
#include "gguf.h"
#include "hparams.h"
#include "local_workers.h"
#include "model_id.h"

enum { N_WORKERS = 2 };

typedef struct harness {
    lp_wire *wire;
    lp_cluster *cl;
    lp_local_workers lw;
    uint64_t live;   /* the running session, 0 between sessions */
} harness;

static harness *H;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_coordinator: %s: %s\n", what, why);
    exit(1);
}

static bool on_token(void *user, uint64_t session, const lp_sampled *t, const char *error)
{
    harness *h = user;
    (void)error;
    if (!t && h->live == session)
        h->live = 0;
    return t != NULL;
}

static void start_session(harness *h)
{
    static const int32_t prompt[] = {1, 403, 407, 261, 378};
    lp_err err = {0};
    lp_session_req req = {.prompt = prompt, .n_prompt = 5,
                          .sampling = lp_sampler_params_default(), .cb = on_token, .user = h};
    req.sampling.temp = 0.0f;
    h->live = lp_cluster_start(h->cl, &req, &err);
}

static void load(harness *h, const char *model)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(model, &err);
    lp_hparams hp;
    uint8_t id[LP_SHA256_BYTES];
    if (!g || lp_hparams_read(g, &hp, &err) != 0 || lp_model_id(g, id, &err) != 0)
        die(model, err.msg);
    lp_gguf_close(g);
    int first[N_WORKERS], last[N_WORKERS];
    const char *paths[N_WORKERS];
    for (int i = 0; i < N_WORKERS; i++) {
        first[i] = (int)hp.n_layer * i / N_WORKERS;
        last[i] = (int)hp.n_layer * (i + 1) / N_WORKERS;
        paths[i] = model;
    }
    if (lp_cluster_load(h->cl, id, paths, NULL, first, last, (int)hp.n_vocab, &err) != 0)
        die("load", err.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *shared = getenv("LP_SHARED") ? getenv("LP_SHARED") : "../shared";
    char rel[4096], model[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/models/stories260K.gguf", shared);
    if (!realpath(rel, model)) /* a LoadShard names absolute paths only */
        die(rel, "not found");
    lp_err err = {0};
    lp_cluster_opts co;
    lp_cluster_opts_default(&co);
    co.n_ctx = 128;
    co.n_slots = 2;
    co.n_batch = 16;
    H = calloc(1, sizeof *H);
    if (!H || !(H->wire = lp_wire_new(&err)) ||
        lp_local_workers_start(&H->lw, N_WORKERS, 1, NULL, model, &err) != 0)
        die("workers", err.msg);
    co.key = &H->lw.coord;
    if (!(H->cl = lp_cluster_new(H->wire, &co, &err)))
        die("cluster", err.msg);
    for (int i = 0; i < N_WORKERS; i++)
        if (lp_cluster_add_worker_keyed(H->cl, H->lw.control[i], H->lw.key[i].pub, &err) != 0)
            die("worker", err.msg);
    load(H, model);
    return 0;
}

/* One message where its first byte says. */
static void deliver(harness *h, const uint8_t *p, size_t n)
{
    Lp__Envelope *env = NULL;
    lp_wire_info info = {0};
    lp_err err = {0};
    if (n < 1 || lp_wire_parse(p + 1, n - 1, LP_WIRE_MAX_MSG, &env, &info, &err) != 0)
        return;
    const int from = p[0] & 1;
    if (env->body_case == LP__ENVELOPE__BODY_RESULT && env->result->session == 0)
        env->result->session = h->live;
    if (env->body_case == LP__ENVELOPE__BODY_ERROR && env->request_id == 0)
        env->request_id = h->live;
    if (p[0] & 2)
        cl_on_result(h->cl, env, from ? "1" : "0");
    else
        cl_on_control(h->cl, from, env);
    lp_wire_env_free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char SEP[] = "\n--\n";
    lp_err err = {0};
    if (!H->live && lp_cluster_ready(H->cl))
        start_session(H);
    const uint8_t *p = data, *end = data + size;
    for (int k = 0; k < 8 && p <= end; k++) {
        const uint8_t *q = memmem(p, (size_t)(end - p), SEP, 4);
        deliver(H, p, (size_t)((q ? q : end) - p));
        if (!q)
            break;
        p = q + 4;
    }
    lp_cluster_poll(H->cl, 0, &err);
    return 0;
}
