/* fuzz_worker.c — libFuzzer harness for the worker's message handlers: a
 * real worker compute state (stories260K from ../shared loaded whole, as
 * the last worker, its results going over real ZeroMQ to a PULL here) is
 * fed what a peer can send to the data endpoint, decoded as the worker
 * decodes it (lp_wire_parse under the Forward cap): Forward messages run
 * as one arrival (wk_forward_all: checks against the shard and sessions,
 * batching, sampling, answers), a LoadShard goes through wk_load (paths
 * inside --models-dir only, the model id, sizes). An input may hold
 * several messages separated by "\n--\n". Every session is closed after
 * each input, so an input's outcome does not hang on the ones before.
 *
 * libFuzzer's entry points take no context: the worker lives in this
 * file's one static, set up once by LLVMFuzzerInitialize. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute.h"
#include "gguf.h"
#include "hparams.h"
#include "model_id.h"

enum { MAX_MSGS = 8 };

typedef struct harness {
    wk_ctx ctx;
    wk_compute c;
    void *results; /* PULL: the coordinator's end */
} harness;

static harness *H;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_worker: %s: %s\n", what, why);
    exit(1);
}

/* The LoadShard a coordinator would send for the whole model. */
static void load_whole(harness *h, const char *model, const char *result_ep)
{
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(model, &err);
    lp_hparams hp;
    uint8_t id[LP_SHA256_BYTES];
    if (!g || lp_hparams_read(g, &hp, &err) != 0 || lp_model_id(g, id, &err) != 0)
        die(model, err.msg);
    lp_gguf_close(g);
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_path = (char *)model;
    ls.model_id = (ProtobufCBinaryData){LP_SHA256_BYTES, id};
    ls.first_layer = 0;
    ls.last_layer = hp.n_layer;
    ls.n_ctx = 64;
    ls.n_slots = 4;
    ls.n_batch = 16;
    ls.n_threads = 1;
    ls.result_endpoint = (char *)result_ep;
    Lp__ShardReady ready = LP__SHARD_READY__INIT;
    uint32_t code;
    if (wk_load(&h->c, &ls, &ready, &code, &err) != 0)
        die("load", err.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *shared = getenv("LP_SHARED") ? getenv("LP_SHARED") : "../shared";
    char rel[4096], models[PATH_MAX], model[PATH_MAX + 32], ep[256];
    snprintf(rel, sizeof rel, "%s/models", shared);
    if (!realpath(rel, models)) /* a LoadShard names absolute paths only */
        die(rel, "not found");
    snprintf(model, sizeof model, "%s/stories260K.gguf", models);
    H = calloc(1, sizeof *H);
    lp_err err = {0};
    char *args[] = {"worker", "--listen", "tcp://127.0.0.1:0", "--models-dir", models,
                    "--name", "fuzz", "-t", "1", "--session-ttl", "0"};
    if (!H || wk_args_parse(11, args, &H->ctx.opts, &err) != 0 ||
        !(H->ctx.wire = lp_wire_new(&err)) ||
        !(H->results = lp_wire_socket(H->ctx.wire, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err)) ||
        lp_wire_endpoint(H->results, ep, sizeof ep, &err) != 0)
        die("setup", err.msg);
    H->c.ctx = &H->ctx;
    lp_ratelog_init(&H->c.unsent_log, 10, 60 * 1000);
    load_whole(H, model, ep);
    return 0;
}

/* What the worker sent the coordinator, dropped (each is well-formed). */
static void drain_results(harness *h)
{
    Lp__Envelope *env;
    lp_err err = {0};
    while (lp_wire_recv(h->results, NULL, &env, 0, &err) == 0) {
        if (env->body_case != LP__ENVELOPE__BODY_RESULT &&
            env->body_case != LP__ENVELOPE__BODY_ERROR)
            abort(); /* the result endpoint gets Results and Errors only */
        lp_wire_env_free(env);
    }
}

static void on_load(harness *h, const Lp__LoadShard *ls)
{
    Lp__ShardReady ready = LP__SHARD_READY__INIT;
    uint32_t code = 0;
    lp_err err;
    err.msg[0] = 0;
    if (wk_load(&h->c, ls, &ready, &code, &err) != 0 && (err.msg[0] == 0 || code == 0))
        abort(); /* every refusal says why, with a code */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char SEP[] = "\n--\n";
    Lp__Envelope *fw[MAX_MSGS];
    int n_fw = 0;
    const uint8_t *p = data, *end = data + size;
    for (int k = 0; k < MAX_MSGS && p <= end; k++) {
        const uint8_t *q = memmem(p, (size_t)(end - p), SEP, 4);
        const uint8_t *stop = q ? q : end;
        Lp__Envelope *env = NULL;
        lp_wire_info info = {0};
        lp_err err = {0};
        if (lp_wire_parse(p, (size_t)(stop - p), 1u << 20, &env, &info, &err) == 0) {
            if (env->body_case == LP__ENVELOPE__BODY_FORWARD) {
                fw[n_fw++] = env;
                env = NULL;
            } else if (env->body_case == LP__ENVELOPE__BODY_LOAD_SHARD) {
                on_load(H, env->load_shard);
            }
            lp_wire_env_free(env);
        }
        if (!q)
            break;
        p = q + 4;
    }
    wk_forward_all(&H->c, fw, n_fw);
    for (int i = 0; i < n_fw; i++)
        lp_wire_env_free(fw[i]);
    if (H->c.shard)
        wk_sessions_expire(H->c.sessions, H->c.shard->kv, INT64_MAX / 2, 0);
    drain_results(H);
    return 0;
}
