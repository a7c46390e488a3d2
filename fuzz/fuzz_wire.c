/* fuzz_wire.c — libFuzzer harness for the wire: every byte string a peer
 * can send is decoded and checked as lp_wire_recv does it (the size cap,
 * protobuf-c under an allocation budget, lp_wire_check's bounds on every
 * field). Either it is a valid Envelope, then every field lp_wire_check
 * vouched for is read, or it fails with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wire.h"

static void touch_forward(const Lp__Forward *f, volatile uint64_t *sink)
{
    for (size_t i = 0; i < f->n_token_ids; i++)
        *sink += (uint32_t)f->token_ids[i];
    if (f->hidden.len)
        *sink += f->hidden.data[f->hidden.len - 1];
    for (size_t i = 0; i < f->n_history; i++)
        *sink += (uint32_t)f->history[i];
    for (size_t i = 0; i < f->n_compute_us; i++)
        *sink += f->compute_us[i];
    for (size_t i = 0; i < f->n_score_targets; i++)
        *sink += (uint32_t)f->score_targets[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Lp__Envelope *env = NULL;
    lp_wire_info info = {0};
    lp_err err;
    err.msg[0] = 0;
    if (lp_wire_parse(data, size, LP_WIRE_MAX_MSG, &env, &info, &err) != 0) {
        if (err.msg[0] == 0)
            abort(); /* every refusal must say why */
        return 0;
    }
    volatile uint64_t sink = env->request_id;
    if (env->body_case == LP__ENVELOPE__BODY_FORWARD)
        touch_forward(env->forward, &sink);
    if (env->body_case == LP__ENVELOPE__BODY_LOAD_SHARD && env->load_shard->model_path)
        sink += (uint8_t)env->load_shard->model_path[0];
    if (env->body_case == LP__ENVELOPE__BODY_SHARD_CHUNK && env->shard_chunk->data.len)
        sink += env->shard_chunk->data.data[env->shard_chunk->data.len - 1];
    lp_wire_env_free(env);
    return 0;
}
