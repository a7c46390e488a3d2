/* wire_check.c — what a message must satisfy on its own, before the
 * receiver looks at it against its state; and small builders of the
 * values that travel inside messages (errors, sampling, hidden sizes). */
#include "keys.h"
#include "wire.h"
#include "wire_sampling.h"

#include <stdio.h>
#include <string.h>

#include "quant.h"
#include "sha256.h"

static int str_ok(const char *s, const char *field, lp_err *err)
{
    if (s && strnlen(s, LP_WIRE_MAX_STR) >= LP_WIRE_MAX_STR)
        return lp_err_set(err, "%s is longer than %d bytes", field, LP_WIRE_MAX_STR - 1);
    return 0;
}

static int id_ok(const ProtobufCBinaryData *id, bool required, const char *field, lp_err *err)
{
    if (id->len == 0 && !required)
        return 0;
    if (id->len != LP_SHA256_BYTES)
        return lp_err_set(err, "%s is %zu bytes, not %d", field, id->len, LP_SHA256_BYTES);
    return 0;
}

static const char *dtype_name(Lp__HiddenDtype d)
{
    switch (d) {
    case LP__HIDDEN_DTYPE__HIDDEN_F32: return "f32";
    case LP__HIDDEN_DTYPE__HIDDEN_F16: return "f16";
    case LP__HIDDEN_DTYPE__HIDDEN_BF16: return "bf16";
    case LP__HIDDEN_DTYPE__HIDDEN_Q8_0: return "q8_0";
    default: return NULL;
    }
}

uint32_t lp_wire_dtype_type(Lp__HiddenDtype d)
{
    switch (d) {
    case LP__HIDDEN_DTYPE__HIDDEN_F32: return LP_TYPE_F32;
    case LP__HIDDEN_DTYPE__HIDDEN_F16: return LP_TYPE_F16;
    case LP__HIDDEN_DTYPE__HIDDEN_BF16: return LP_TYPE_BF16;
    case LP__HIDDEN_DTYPE__HIDDEN_Q8_0: return LP_TYPE_Q8_0;
    default: return LP_TYPE_COUNT;
    }
}

size_t lp_wire_hidden_bytes(Lp__HiddenDtype dtype, uint32_t n_tokens, uint32_t n_embd)
{
    size_t row = lp_type_row_bytes(lp_wire_dtype_type(dtype), n_embd), total;
    if (row == 0 || __builtin_mul_overflow(row, (size_t)n_tokens, &total))
        return 0;
    return total;
}

static int check_sampling(const Lp__SamplingParams *sp, lp_err *err)
{
    lp_sampler_params p;
    return sp ? lp_wire_sampling_to(sp, &p, err) : 0;
}

/* The scored positions lie within the step; a step scores or samples. */
static int check_scoring(const Lp__Forward *f, lp_err *err)
{
    if (f->n_score_targets == 0)
        return f->score_rows ? lp_err_set(err, "Forward: score_rows without positions") : 0;
    if (f->sampling || f->sample)
        return lp_err_set(err, "Forward: both scoring and sampling");
    if (f->score_pos < f->pos0 || f->n_score_targets > f->n_tokens ||
        f->score_pos - f->pos0 > f->n_tokens - f->n_score_targets)
        return lp_err_set(err, "Forward: %zu scored positions from %u, outside the step's "
                          "%u..%u", f->n_score_targets, f->score_pos, f->pos0,
                          f->pos0 + f->n_tokens - 1);
    return 0;
}

static int check_forward(const Lp__Forward *f, lp_err *err)
{
    if (f->n_tokens < 1 || f->n_tokens > LP_WIRE_MAX_TOKENS)
        return lp_err_set(err, "Forward: n_tokens %u is outside [1, %d]", f->n_tokens,
                          LP_WIRE_MAX_TOKENS);
    if (f->pos0 > (uint32_t)INT32_MAX - f->n_tokens)
        return lp_err_set(err, "Forward: position %u + %u tokens overflows", f->pos0,
                          f->n_tokens);
    bool toks = f->n_token_ids > 0, hid = f->hidden.len > 0;
    if (toks == hid)
        return lp_err_set(err, "Forward: needs token ids or hidden states, %s",
                          toks ? "got both" : "got neither");
    if (toks && f->n_token_ids != f->n_tokens)
        return lp_err_set(err, "Forward: %zu token ids for n_tokens %u", f->n_token_ids,
                          f->n_tokens);
    if (hid) {
        const lp_type_traits *t = lp_type_traits_get(lp_wire_dtype_type(f->dtype));
        if (!t)
            return lp_err_set(err, "Forward: unknown hidden dtype %d", (int)f->dtype);
        size_t row = f->hidden.len / f->n_tokens;
        if (f->hidden.len % f->n_tokens != 0 || row % t->type_size != 0)
            return lp_err_set(err, "Forward: %zu bytes of %s hidden states are not %u whole rows",
                              f->hidden.len, dtype_name(f->dtype), f->n_tokens);
    }
    if (f->n_compute_us > LP_WIRE_MAX_HOPS)
        return lp_err_set(err, "Forward: %zu compute times (at most %d hops)", f->n_compute_us,
                          LP_WIRE_MAX_HOPS);
    if (f->top_logprobs > LP_WIRE_MAX_TOP)
        return lp_err_set(err, "Forward: top_logprobs %u is over %d", f->top_logprobs,
                          LP_WIRE_MAX_TOP);
    if (f->n_history > 0 && !f->sampling)
        return lp_err_set(err, "Forward: history without sampling parameters");
    if (f->sample && f->sampling)
        return lp_err_set(err, "Forward: sampling settings and the sample flag (which means: "
                          "the settings sent before)");
    if (check_scoring(f, err) != 0)
        return -1;
    return check_sampling(f->sampling, err);
}

static int check_result(const Lp__Result *r, lp_err *err)
{
    if (r->n_top > LP_WIRE_MAX_TOP)
        return lp_err_set(err, "Result: %zu top logprobs (at most %d)", r->n_top, LP_WIRE_MAX_TOP);
    if (r->n_compute_us > LP_WIRE_MAX_HOPS)
        return lp_err_set(err, "Result: %zu compute times (at most %d hops)", r->n_compute_us,
                          LP_WIRE_MAX_HOPS);
    for (size_t i = 0; i < r->n_top; i++)
        if (!r->top[i])
            return lp_err_set(err, "Result: empty top entry");
    if (r->n_score_nll != r->n_score_top)
        return lp_err_set(err, "Result: %zu scores but %zu top tokens", r->n_score_nll,
                          r->n_score_top);
    if (r->score_rows.len % sizeof(float) != 0 || (r->score_rows.len && r->n_score_nll))
        return lp_err_set(err, "Result: score rows of %zu bytes%s", r->score_rows.len,
                          r->n_score_nll ? " next to scores" : ", not whole floats");
    return 0;
}

static int check_load(const Lp__LoadShard *l, lp_err *err)
{
    if (id_ok(&l->model_id, true, "LoadShard.model_id", err) ||
        id_ok(&l->shard_id, false, "LoadShard.shard_id", err) ||
        str_ok(l->model_path, "LoadShard.model_path", err) ||
        str_ok(l->next_endpoint, "LoadShard.next_endpoint", err) ||
        str_ok(l->result_endpoint, "LoadShard.result_endpoint", err))
        return -1;
    if ((l->model_path[0] != 0) == (l->shard_id.len != 0))
        return lp_err_set(err, "LoadShard: needs model_path or shard_id, %s",
                          l->model_path[0] ? "got both" : "got neither");
    if (l->first_layer >= l->last_layer)
        return lp_err_set(err, "LoadShard: empty layer range [%u, %u)", l->first_layer,
                          l->last_layer);
    if (l->n_ctx > LP_WIRE_MAX_CTX || l->n_slots < 1 || l->n_slots > LP_WIRE_MAX_SLOTS ||
        l->n_batch < 1 || l->n_batch > LP_WIRE_MAX_TOKENS || l->n_threads > 1024)
        return lp_err_set(err, "LoadShard: n_ctx %u / n_slots %u / n_batch %u / n_threads %u "
                          "out of range", l->n_ctx, l->n_slots, l->n_batch, l->n_threads);
    if (!l->result_endpoint[0])
        return lp_err_set(err, "LoadShard: result_endpoint is empty");
    if (!dtype_name(l->wire_dtype))
        return lp_err_set(err, "LoadShard: unknown wire dtype %d", (int)l->wire_dtype);
    if ((l->next_public_key[0] && !lp_key_valid(l->next_public_key)) ||
        (l->prev_public_key[0] && !lp_key_valid(l->prev_public_key)))
        return lp_err_set(err, "LoadShard: a neighbour's public key is not 40 Z85 characters");
    return 0;
}

static int check_chunk(const Lp__ShardChunk *c, lp_err *err)
{
    if (id_ok(&c->shard_id, true, "ShardChunk.shard_id", err) ||
        id_ok(&c->chunk_hash, true, "ShardChunk.chunk_hash", err))
        return -1;
    if (c->data.len > LP_WIRE_CHUNK)
        return lp_err_set(err, "ShardChunk: %zu bytes of data (at most %u)", c->data.len,
                          LP_WIRE_CHUNK);
    if (c->offset > c->total_size || c->data.len > c->total_size - c->offset)
        return lp_err_set(err, "ShardChunk: bytes [%llu, +%zu) lie outside the %llu-byte file",
                          (unsigned long long)c->offset, c->data.len,
                          (unsigned long long)c->total_size);
    if (c->last && c->offset + c->data.len != c->total_size)
        return lp_err_set(err, "ShardChunk: the last chunk does not end the file");
    return 0;
}

static int check_caps(const Lp__Capabilities *c, lp_err *err)
{
    if (str_ok(c->name, "Capabilities.name", err) || str_ok(c->isa, "Capabilities.isa", err) ||
        str_ok(c->gpu, "Capabilities.gpu", err) ||
        str_ok(c->data_endpoint, "Capabilities.data_endpoint", err))
        return -1;
    for (size_t i = 0; i < c->n_cached_shards; i++)
        if (id_ok(&c->cached_shards[i], true, "Capabilities.cached_shards", err))
            return -1;
    return 0;
}

static int check_body(const Lp__Envelope *e, lp_err *err)
{
    switch (e->body_case) {
    case LP__ENVELOPE__BODY_FORWARD: return check_forward(e->forward, err);
    case LP__ENVELOPE__BODY_RESULT: return check_result(e->result, err);
    case LP__ENVELOPE__BODY_LOAD_SHARD: return check_load(e->load_shard, err);
    case LP__ENVELOPE__BODY_SHARD_CHUNK: return check_chunk(e->shard_chunk, err);
    case LP__ENVELOPE__BODY_CAPABILITIES: return check_caps(e->capabilities, err);
    case LP__ENVELOPE__BODY_SHARD_READY:
        return id_ok(&e->shard_ready->model_id, true, "ShardReady.model_id", err);
    case LP__ENVELOPE__BODY_CHUNK_ACK:
        return id_ok(&e->chunk_ack->shard_id, true, "ChunkAck.shard_id", err);
    case LP__ENVELOPE__BODY_HELLO: return str_ok(e->hello->coordinator, "Hello.coordinator", err);
    case LP__ENVELOPE__BODY_ERROR:
        return str_ok(e->error->message, "Error.message", err) ||
                       str_ok(e->error->worker, "Error.worker", err)
                   ? -1
                   : 0;
    case LP__ENVELOPE__BODY_HEARTBEAT:
    case LP__ENVELOPE__BODY_STATS_REQUEST:
    case LP__ENVELOPE__BODY_STATS:
    case LP__ENVELOPE__BODY_END_SESSION:
    case LP__ENVELOPE__BODY_SHUTDOWN:
    case LP__ENVELOPE__BODY_OK: return 0;
    default:
        return lp_err_set(err, "envelope without a body (or with one this version does not know)");
    }
}

int lp_wire_check(const Lp__Envelope *env, lp_err *err)
{
    if (env->version == 0)
        return lp_err_set(err, "envelope without a protocol version (not a layerpool message?)");
    if (env->version != LP_PROTOCOL_VERSION)
        return lp_err_set(err, "protocol version %u from the peer, but this side speaks version %u",
                          env->version, LP_PROTOCOL_VERSION);
    /* A body the parser produced is never NULL, but a hand-built one may be. */
    if (env->body_case != LP__ENVELOPE__BODY__NOT_SET && !env->hello)
        return lp_err_set(err, "envelope body is missing");
    return check_body(env, err);
}

Lp__Envelope *lp_wire_error(lp_wire_error_msg *out, uint64_t request_id, uint32_t code,
                            const char *message)
{
    lp__envelope__init(&out->env);
    lp__error__init(&out->error);
    snprintf(out->text, sizeof out->text, "%s", message ? message : "");
    out->error.code = code;
    out->error.message = out->text;
    out->env.version = LP_PROTOCOL_VERSION;
    out->env.request_id = request_id;
    out->env.body_case = LP__ENVELOPE__BODY_ERROR;
    out->env.error = &out->error;
    return &out->env;
}
