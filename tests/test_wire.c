/* wire.c and wire_check.c: what lp_wire_check refuses in crafted
 * envelopes, and what the sockets do with real bytes on loopback —
 * round trips with ROUTER identities, a message just over the size cap
 * answered with a clear error, one far over it cut off by ZeroMQ without
 * hurting the link, garbage, a different protocol version, no body,
 * and a parse that would allocate far more than the message's size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "support_wire.h"
#include "wire.h"
#include "wire_sampling.h"

/* ---- lp_wire_check on crafted envelopes --------------------------------- */

typedef struct fwd_msg {
    Lp__Envelope env;
    Lp__Forward f;
    int32_t toks[4];
    float hidden[4 * 8];
} fwd_msg;

static Lp__Envelope *fwd_tokens(fwd_msg *m)
{
    memset(m, 0, sizeof *m);
    return wire_forward(&m->env, &m->f, m->toks, 4);
}

static void test_check_forward(void **state)
{
    (void)state;
    fwd_msg m;
    lp_err err = {0};
    assert_int_equal(lp_wire_check(fwd_tokens(&m), &err), 0);

    fwd_tokens(&m)->forward->n_tokens = 0;
    wire_refused(&m.env, "n_tokens 0");
    fwd_tokens(&m)->forward->n_tokens = LP_WIRE_MAX_TOKENS + 1;
    wire_refused(&m.env, "n_tokens");
    fwd_tokens(&m)->forward->n_token_ids = 3;
    wire_refused(&m.env, "3 token ids for n_tokens 4");
    fwd_tokens(&m)->forward->pos0 = INT32_MAX - 2;
    wire_refused(&m.env, "overflows");

    /* hidden states instead of ids: whole rows of the dtype only */
    fwd_tokens(&m);
    m.f.n_token_ids = 0;
    m.f.hidden = (ProtobufCBinaryData){.len = sizeof m.hidden, .data = (uint8_t *)m.hidden};
    assert_int_equal(lp_wire_check(&m.env, &err), 0);
    m.f.hidden.len = 4 * 8 * 4 - 4; /* 31 floats over 4 tokens */
    wire_refused(&m.env, "not 4 whole rows");
    m.f.hidden.len = 4 * 6; /* 4 rows of 6 bytes: whole f32 rows? no, 1.5 floats */
    wire_refused(&m.env, "whole rows");
    m.f.hidden.len = sizeof m.hidden;
    m.f.dtype = (Lp__HiddenDtype)9;
    wire_refused(&m.env, "unknown hidden dtype 9");
    m.f.dtype = LP__HIDDEN_DTYPE__HIDDEN_F16;
    assert_int_equal(lp_wire_check(&m.env, &err), 0);

    fwd_tokens(&m)->forward->hidden = (ProtobufCBinaryData){.len = 16, .data = (uint8_t *)m.hidden};
    wire_refused(&m.env, "got both");
    fwd_tokens(&m)->forward->n_token_ids = 0;
    wire_refused(&m.env, "got neither");

    fwd_tokens(&m)->forward->top_logprobs = LP_WIRE_MAX_TOP + 1;
    wire_refused(&m.env, "top_logprobs");
    uint64_t us[LP_WIRE_MAX_HOPS + 1] = {0};
    fwd_tokens(&m)->forward->n_compute_us = LP_WIRE_MAX_HOPS + 1;
    m.f.compute_us = us;
    wire_refused(&m.env, "hops");
    /* sampling parameters are validated as the sampler would */
    Lp__SamplingParams sp;
    lp_sampler_params greedy;
    assert_int_equal(lp_wire_sampling_to(NULL, &greedy, &err), 0);
    lp_wire_sampling_from(&sp, &greedy);
    int32_t hist[2] = {1, 2};
    fwd_tokens(&m)->forward->n_history = 2;
    m.f.history = hist;
    wire_refused(&m.env, "history without sampling");
    m.f.sampling = &sp;
    assert_int_equal(lp_wire_check(&m.env, &err), 0);
    sp.top_p = 0;
    wire_refused(&m.env, "top_p");
}

static void test_sampling_round_trip(void **state)
{
    (void)state;
    lp_sampler_params p = lp_sampler_params_default(), back;
    p.seed = 1234567890123ull;
    p.frequency_penalty = 0.25f;
    p.penalty_last_n = 77;
    Lp__SamplingParams sp;
    lp_wire_sampling_from(&sp, &p);
    lp_err err = {0};
    assert_int_equal(lp_wire_sampling_to(&sp, &back, &err), 0);
    assert_memory_equal(&p, &back, sizeof p);
    assert_int_equal(lp_wire_sampling_to(NULL, &back, &err), 0);
    assert_true(back.temp == 0.0f && back.top_k == 0 && back.penalty_last_n == 0);
}

typedef struct load_msg {
    Lp__Envelope env;
    Lp__LoadShard l;
    uint8_t id[32];
} load_msg;

static Lp__Envelope *load(load_msg *m)
{
    memset(m, 0, sizeof *m);
    lp__envelope__init(&m->env);
    lp__load_shard__init(&m->l);
    m->env.version = LP_PROTOCOL_VERSION;
    m->env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    m->env.load_shard = &m->l;
    m->l.model_id = (ProtobufCBinaryData){.len = 32, .data = m->id};
    m->l.model_path = "/models/x.gguf";
    m->l.last_layer = 3;
    m->l.n_ctx = 64;
    m->l.n_slots = 2;
    m->l.n_batch = 8;
    m->l.result_endpoint = "tcp://127.0.0.1:9";
    return &m->env;
}

static void test_check_load_shard(void **state)
{
    (void)state;
    load_msg m;
    lp_err err = {0};
    assert_int_equal(lp_wire_check(load(&m), &err), 0);
    load(&m)->load_shard->model_id.len = 31;
    wire_refused(&m.env, "model_id is 31 bytes");
    load(&m)->load_shard->shard_id = (ProtobufCBinaryData){.len = 32, .data = m.id};
    wire_refused(&m.env, "got both");
    load(&m)->load_shard->model_path = "";
    wire_refused(&m.env, "got neither");
    load(&m)->load_shard->first_layer = 3;
    wire_refused(&m.env, "empty layer range [3, 3)");
    load(&m)->load_shard->n_slots = 0;
    wire_refused(&m.env, "out of range");
    load(&m)->load_shard->result_endpoint = "";
    wire_refused(&m.env, "result_endpoint");
    char *longpath = calloc(1, LP_WIRE_MAX_STR + 8);
    memset(longpath, 'a', LP_WIRE_MAX_STR + 7);
    load(&m)->load_shard->model_path = longpath;
    wire_refused(&m.env, "longer than");
    free(longpath);
}

static void test_check_chunk(void **state)
{
    (void)state;
    uint8_t id[32] = {0}, data[16] = {0};
    Lp__ShardChunk c;
    lp__shard_chunk__init(&c);
    c.shard_id = (ProtobufCBinaryData){.len = 32, .data = id};
    c.chunk_hash = (ProtobufCBinaryData){.len = 32, .data = id};
    c.data = (ProtobufCBinaryData){.len = sizeof data, .data = data};
    c.total_size = 100;
    c.offset = 84;
    c.last = true;
    Lp__Envelope e;
    lp__envelope__init(&e);
    e.version = LP_PROTOCOL_VERSION;
    e.body_case = LP__ENVELOPE__BODY_SHARD_CHUNK;
    e.shard_chunk = &c;
    lp_err err = {0};
    assert_int_equal(lp_wire_check(&e, &err), 0);
    c.offset = 85;
    wire_refused(&e, "outside the 100-byte file");
    c.offset = UINT64_MAX - 4; /* offset + len wraps around */
    wire_refused(&e, "outside");
    c.offset = 10;
    wire_refused(&e, "does not end the file");
    c.last = false;
    assert_int_equal(lp_wire_check(&e, &err), 0);
    c.chunk_hash.len = 20;
    wire_refused(&e, "chunk_hash is 20 bytes");
    c.chunk_hash.len = 32;
    c.data.len = LP_WIRE_CHUNK + 1;
    c.total_size = UINT64_MAX / 2;
    wire_refused(&e, "at most");
}

static void test_check_version_and_body(void **state)
{
    (void)state;
    Lp__Envelope e;
    lp__envelope__init(&e);
    e.version = LP_PROTOCOL_VERSION;
    wire_refused(&e, "without a body");
    Lp__Heartbeat hb;
    lp__heartbeat__init(&hb);
    e.body_case = LP__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &hb;
    lp_err err = {0};
    assert_int_equal(lp_wire_check(&e, &err), 0);
    e.version = 7;
    char want[160];
    snprintf(want, sizeof want, "protocol version 7 from the peer, but this side speaks "
             "version %u", LP_PROTOCOL_VERSION);
    wire_refused(&e, want);
    e.version = LP_PROTOCOL_VERSION;
    e.heartbeat = NULL;
    wire_refused(&e, "missing");
}

static void test_hidden_bytes(void **state)
{
    (void)state;
    assert_int_equal(lp_wire_hidden_bytes(LP__HIDDEN_DTYPE__HIDDEN_F32, 3, 64), 3 * 64 * 4);
    assert_int_equal(lp_wire_hidden_bytes(LP__HIDDEN_DTYPE__HIDDEN_F16, 3, 64), 3 * 64 * 2);
    assert_int_equal(lp_wire_hidden_bytes(LP__HIDDEN_DTYPE__HIDDEN_BF16, 1, 8), 16);
    assert_int_equal(lp_wire_hidden_bytes(LP__HIDDEN_DTYPE__HIDDEN_Q8_0, 2, 64), 2 * 2 * 34);
    assert_int_equal(lp_wire_hidden_bytes(LP__HIDDEN_DTYPE__HIDDEN_Q8_0, 2, 48), 0);
    assert_int_equal(lp_wire_hidden_bytes((Lp__HiddenDtype)5, 2, 64), 0);
}

/* ---- sockets on loopback ----------------------------------------------- */

typedef struct link {
    lp_wire *w;
    void *router, *dealer;
    char ep[256];
} link;

static void link_open(link *l)
{
    lp_err err = {0};
    assert_non_null(l->w = lp_wire_new(&err));
    l->router = lp_wire_socket(l->w, LP_SOCK_ROUTER, "tcp://127.0.0.1:0", &err);
    if (!l->router)
        fail_msg("%s", err.msg);
    assert_int_equal(lp_wire_endpoint(l->router, l->ep, sizeof l->ep, &err), 0);
    assert_non_null(strstr(l->ep, "tcp://127.0.0.1:"));
    assert_string_not_equal(l->ep, "tcp://127.0.0.1:0");
    assert_non_null(l->dealer = lp_wire_socket(l->w, LP_SOCK_DEALER, l->ep, &err));
}

static void link_close(link *l)
{
    lp_wire_close(l->dealer);
    lp_wire_close(l->router);
    lp_wire_free(l->w);
}

static void send_heartbeat(void *sock, const lp_wire_peer *peer, uint64_t rid, uint64_t seq)
{
    Lp__Heartbeat hb;
    lp__heartbeat__init(&hb);
    hb.seq = seq;
    Lp__Envelope e;
    lp__envelope__init(&e);
    e.request_id = rid;
    e.body_case = LP__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &hb;
    lp_err err = {0};
    assert_int_equal(lp_wire_send(sock, peer, &e, 2000, &err), 0);
}

static void test_router_dealer_round_trip(void **state)
{
    (void)state;
    link l;
    link_open(&l);
    send_heartbeat(l.dealer, NULL, 41, 7);
    lp_wire_peer peer;
    Lp__Envelope *got;
    lp_err err = {0};
    assert_int_equal(lp_wire_recv(l.router, &peer, &got, 5000, &err), 0);
    assert_true(peer.len > 0);
    assert_int_equal(got->request_id, 41);
    assert_int_equal(got->body_case, LP__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal(got->heartbeat->seq, 7);
    lp_wire_env_free(got);
    send_heartbeat(l.router, &peer, 42, 8);
    assert_int_equal(lp_wire_recv(l.dealer, NULL, &got, 5000, &err), 0);
    assert_int_equal(got->request_id, 42);
    lp_wire_env_free(got);
    /* nothing more: a timeout, promptly */
    assert_int_equal(lp_wire_recv(l.dealer, NULL, &got, 50, &err), 1);
    assert_null(got);
    /* a ROUTER cannot answer nobody */
    Lp__Envelope e;
    lp__envelope__init(&e);
    e.body_case = LP__ENVELOPE__BODY_OK;
    Lp__Ok ok;
    lp__ok__init(&ok);
    e.ok = &ok;
    assert_int_equal(lp_wire_send(l.router, NULL, &e, 100, &err), -1);
    link_close(&l);
}

/* Receive one message on the router and expect it refused with code. */
static void expect_rejected(link *l, uint32_t code, uint64_t rid, const char *needle)
{
    lp_wire_peer peer;
    lp_wire_info info;
    Lp__Envelope *got;
    lp_err err = {0};
    int rc = lp_wire_recv_info(l->router, &peer, &got, 10000, &info, &err);
    if (rc != -1)
        fail_msg("recv returned %d (want -1): %s", rc, err.msg);
    assert_null(got);
    assert_true(peer.len > 0); /* so the refusal can be answered */
    assert_int_equal(info.code, code);
    assert_int_equal(info.request_id, rid);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_hostile_bytes(void **state)
{
    (void)state;
    link l;
    link_open(&l);
    lp_err err = {0};
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, garbage, sizeof garbage, 1000, &err), 0);
    expect_rejected(&l, LP_WIRE_EBADMSG, 0, "not a valid Envelope");

    /* a well-formed envelope of another protocol version */
    Lp__Heartbeat hb;
    lp__heartbeat__init(&hb);
    Lp__Envelope e;
    lp__envelope__init(&e);
    e.version = LP_PROTOCOL_VERSION + 1;
    e.request_id = 99;
    e.body_case = LP__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &hb;
    uint8_t buf[64];
    size_t n = lp__envelope__pack(&e, buf);
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, buf, n, 1000, &err), 0);
    char want[64];
    snprintf(want, sizeof want, "version %u from the peer", LP_PROTOCOL_VERSION + 1);
    expect_rejected(&l, LP_WIRE_EVERSION, 99, want);

    /* an envelope of this version but no body */
    e.version = LP_PROTOCOL_VERSION;
    e.body_case = LP__ENVELOPE__BODY__NOT_SET;
    n = lp__envelope__pack(&e, buf);
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, buf, n, 1000, &err), 0);
    expect_rejected(&l, LP_WIRE_EBADMSG, 99, "without a body");

    /* an empty frame parses as an envelope of all defaults: no version */
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, buf, 0, 1000, &err), 0);
    expect_rejected(&l, LP_WIRE_EBADMSG, 0, "without a protocol version");
    link_close(&l);
}

/* Packed Result with `n` empty top entries: ~2 bytes each on the wire,
 * ~40 in memory once parsed. */
static uint8_t *blowup_result(size_t n, size_t *len)
{
    size_t body = 2 * n, cap = body + 32;
    uint8_t *b = malloc(cap), *p = b;
    *p++ = 0x08, *p++ = LP_PROTOCOL_VERSION; /* version */
    *p++ = 0xaa, *p++ = 0x01;                /* field 21 (result), length-delimited */
    for (size_t v = body; ; v >>= 7) {       /* varint length */
        *p++ = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    for (size_t i = 0; i < n; i++)
        *p++ = 0x2a, *p++ = 0x00; /* field 5 (top), empty TokenLogprob */
    *len = (size_t)(p - b);
    return b;
}

static void test_parse_budget(void **state)
{
    (void)state;
    link l;
    link_open(&l);
    lp_err err = {0};
    size_t len;
    uint8_t *msg = blowup_result(300000, &len);
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, msg, len, 1000, &err), 0);
    expect_rejected(&l, LP_WIRE_EBADMSG, 0, "too much memory");
    free(msg);
    /* a small one parses (then fails the count check, not the budget) */
    msg = blowup_result(LP_WIRE_MAX_TOP + 1, &len);
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, msg, len, 1000, &err), 0);
    expect_rejected(&l, LP_WIRE_EBADMSG, 0, "1025 top logprobs");
    free(msg);
    link_close(&l);
}

static void test_size_cap(void **state)
{
    (void)state;
    link l;
    link_open(&l);
    lp_err err = {0};
    /* our own side refuses to send over the cap */
    size_t big = LP_WIRE_MAX_MSG + 1;
    uint8_t *data = calloc(1, LP_WIRE_MAX_FRAME + 4096);
    fwd_msg m;
    fwd_tokens(&m);
    m.f.n_token_ids = 0;
    m.f.hidden = (ProtobufCBinaryData){.len = big, .data = data};
    assert_int_equal(lp_wire_send(l.dealer, NULL, &m.env, 1000, &err), -1);
    assert_non_null(strstr(err.msg, "over the 64 MiB cap"));

    /* just over the cap: received, refused with a clear error */
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, data, big, 5000, &err), 0);
    expect_rejected(&l, LP_WIRE_EBADMSG, 0, "over the 64 MiB cap");

    /* far over: ZeroMQ drops the connection before buffering it; the
     * dealer reconnects and the next message arrives */
    assert_int_equal(lp_wire_send_raw(l.dealer, NULL, data, LP_WIRE_MAX_FRAME + 4096, 5000, &err),
                     0);
    free(data);
    send_heartbeat(l.dealer, NULL, 5, 5);
    lp_wire_peer peer;
    Lp__Envelope *got;
    assert_int_equal(lp_wire_recv(l.router, &peer, &got, 10000, &err), 0);
    assert_int_equal(got->request_id, 5);
    lp_wire_env_free(got);
    link_close(&l);
}

static void test_pull_push_and_pair(void **state)
{
    (void)state;
    lp_err err = {0};
    lp_wire *w = lp_wire_new(&err);
    void *pull = lp_wire_socket(w, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err);
    char ep[256];
    assert_int_equal(lp_wire_endpoint(pull, ep, sizeof ep, &err), 0);
    void *push = lp_wire_socket(w, LP_SOCK_PUSH, ep, &err);
    assert_non_null(push);
    send_heartbeat(push, NULL, 3, 1);
    void *socks[1] = {pull};
    bool ready = false;
    assert_int_equal(lp_wire_poll(socks, 1, &ready, 5000, &err), 1);
    assert_true(ready);
    Lp__Envelope *got;
    lp_wire_info info;
    assert_int_equal(lp_wire_recv_info(pull, NULL, &got, 0, &info, &err), 0);
    assert_int_equal(got->request_id, 3);
    assert_true(info.bytes > 0 && info.bytes < 32);
    lp_wire_env_free(got);

    /* a PAIR carries the peer a request came from, or an empty one */
    void *a = lp_wire_socket(w, LP_SOCK_PAIR_BIND, "inproc://test-pair", &err);
    void *b = lp_wire_socket(w, LP_SOCK_PAIR_CONNECT, "inproc://test-pair", &err);
    assert_non_null(a);
    assert_non_null(b);
    lp_wire_peer peer = {.id = {1, 2, 3}, .len = 3}, back;
    send_heartbeat(a, &peer, 11, 0);
    assert_int_equal(lp_wire_recv(b, &back, &got, 2000, &err), 0);
    assert_int_equal(back.len, 3);
    assert_memory_equal(back.id, peer.id, 3);
    lp_wire_env_free(got);
    send_heartbeat(b, NULL, 12, 0);
    assert_int_equal(lp_wire_recv(a, &back, &got, 2000, &err), 0);
    assert_int_equal(back.len, 0);
    assert_int_equal(got->request_id, 12);
    lp_wire_env_free(got);

    /* binding the same endpoint twice fails with the endpoint named */
    assert_null(lp_wire_socket(w, LP_SOCK_PULL, ep, &err));
    assert_non_null(strstr(err.msg, ep));
    assert_null(lp_wire_socket(w, LP_SOCK_PUSH, "bogus://x", &err));
    assert_non_null(strstr(err.msg, "bogus://x"));
    lp_wire_close(a);
    lp_wire_close(b);
    lp_wire_close(push);
    lp_wire_close(pull);
    lp_wire_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_forward),
        cmocka_unit_test(test_sampling_round_trip),
        cmocka_unit_test(test_check_load_shard),
        cmocka_unit_test(test_check_chunk),
        cmocka_unit_test(test_check_version_and_body),
        cmocka_unit_test(test_hidden_bytes),
        cmocka_unit_test(test_router_dealer_round_trip),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_parse_budget),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_pull_push_and_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
