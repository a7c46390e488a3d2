/* e2e_curve.c — CURVE links for real: keys made with `coord keygen` and
 * `worker keygen`, two workers started with --key and --coordinator-key,
 * `coord run` over a cluster file naming the keys gives llama.cpp's greedy
 * ids; and peers without the right key get nothing from a worker: a plain
 * client, a client with another key, on the control socket (Hello, a
 * LoadShard) and the data socket (a Forward), and the coordinator's own
 * key on the data socket of a worker that takes data from the worker
 * before it only. Each refusal is in the worker's log, and the worker
 * keeps serving the real coordinator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "kv.h"
#include "model.h"
#include "shard.h"
#include "support.h"
#include "support_ids.h"
#include "support_ref.h"
#include "support_worker.h"
#include "wire.h"

typedef struct keyset {
    char dir[4096];
    lp_keypair coord, w[2], stranger;
} keyset;

static void keygen(const char *prog, const char *dir, const char *name, lp_keypair *kp)
{
    char bin[4096], cmd[9000], out[1024], path[4200];
    snprintf(cmd, sizeof cmd, "%s keygen -o %s/%s", lp_test_bin(bin, sizeof bin, prog), dir, name);
    if (lp_test_run(cmd, out, sizeof out) != 0)
        fail_msg("%s keygen: %s", prog, out);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    lp_err err = {0};
    if (lp_keypair_read(path, kp, &err) != 0)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(out, kp->pub)); /* it prints the public key */
}

static void keys_make(keyset *k)
{
    assert_non_null(lp_test_tmpdir(k->dir, sizeof k->dir));
    keygen("coord", k->dir, "coord", &k->coord);
    keygen("worker", k->dir, "w0", &k->w[0]);
    keygen("worker", k->dir, "w1", &k->w[1]);
    keygen("worker", k->dir, "stranger", &k->stranger);
}

/* Worker i with its key, its stderr into dir/wI.log. */
static void start_worker(const keyset *k, int i, lp_test_worker *w)
{
    char args[9000], log[4200];
    snprintf(args, sizeof args, "--key %s/w%d.key --coordinator-key %s/coord.pub", k->dir, i,
             k->dir);
    snprintf(log, sizeof log, "%s/w%d.log", k->dir, i);
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    int rc = lp_test_worker_start(w, args);
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_int_equal(rc, 0);
}

static int count_in_log(const keyset *k, int i, const char *needle)
{
    char log[4200];
    snprintf(log, sizeof log, "%s/w%d.log", k->dir, i);
    size_t n;
    char *text = lp_test_read_file(log, &n);
    int c = 0;
    for (const char *s = text; s && (s = strstr(s, needle)); s++)
        c++;
    free(text);
    return c;
}

/* `coord run` over workers w[0..2) (keyed: a cluster file with our key
 * and theirs) on case c; its ids must be llama.cpp's. *split gets the
 * first layer of the second worker (from coord's log). */
static void run_pool(const keyset *k, const lp_test_worker *w, bool keyed, const ref_case *c,
                     int *split)
{
    char model[4096], cfg[4200], bin[4096], cmd[16384], out[8192], errf[4300];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(cfg, sizeof cfg, "%s/pool-%d.ini", k->dir, keyed);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "[model]\npath = %s\nctx = 256\n", model);
    fprintf(f, "\n[server]\n%s\n", keyed ? "key = coord.key" : "insecure = true");
    for (int i = 0; i < 2; i++) {
        fprintf(f, "\n[worker.w%d]\nendpoint = %s\nmem = 1G\nmodel_path = %s\n", i,
                w[i].control, model);
        if (keyed)
            fprintf(f, "public_key = %s\n", k->w[i].pub);
    }
    fclose(f);
    snprintf(errf, sizeof errf, "%s/coord.err", k->dir);
    int n = snprintf(cmd, sizeof cmd, "%s run --config %s -n %d --ids --ignore-eos --tokens ",
                     lp_test_bin(bin, sizeof bin, "coord"), cfg, c->n_greedy);
    for (int i = 0; i < c->n_prompt; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, "%s%d", i ? "," : "", c->prompt[i]);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " 2>%s", errf);
    int st = lp_test_run(cmd, out, sizeof out);
    size_t len;
    char *log = lp_test_read_file(errf, &len);
    if (st != 0)
        fail_msg("coord run (%s links): exit %d:\n%s", keyed ? "CURVE" : "plain", st, log);
    const char *l = log ? strstr(log, "loading layers ") : NULL;
    l = l ? strstr(l + 1, "loading layers ") : NULL;
    assert_non_null(l);
    assert_int_equal(sscanf(l, "loading layers %d-", split), 1);
    free(log);
    int32_t ids[64];
    int got = lp_test_parse_ids(out, ids, 64);
    bool noise;
    if (ref_greedy_mismatch(c, ids, got, &noise) >= 0 || noise)
        fail_msg("%s pool: ids differ from llama.cpp:\n%s", keyed ? "CURVE" : "plain", out);
}

static void test_keyed_pool(void **state)
{
    (void)state;
    keyset k;
    keys_make(&k);
    lp_test_worker w[2];
    for (int i = 0; i < 2; i++)
        start_worker(&k, i, &w[i]);
    ref_model m;
    assert_int_equal(ref_load("stories260K", &m), 0);
    int split;
    run_pool(&k, w, true, &m.cases[0], &split);
    for (int i = 0; i < 2; i++)
        lp_test_worker_kill(&w[i]);
    ref_free(&m);
    lp_test_rmtree(k.dir);
}

/* ---- what the wire shows --------------------------------------------- */

/* Every packet on the loopback interface, as an eavesdropper there sees
 * them (AF_PACKET: needs root), appended to buf until stop. */
typedef struct capture {
    int fd;
    pthread_t th;
    atomic_bool stop;
    uint8_t *buf;
    size_t len, cap;
} capture;

static void *capture_run(void *arg)
{
    capture *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n > 0 && c->len + (size_t)n + 65536 < c->cap)
            c->len += (size_t)n;
    }
    return NULL;
}

/* false when this process may not capture (not root): the test skips */
static bool capture_start(capture *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (c->fd < 0)
        return false;
    struct sockaddr_ll at = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                             .sll_ifindex = (int)if_nametoindex("lo")};
    assert_int_equal(bind(c->fd, (struct sockaddr *)&at, sizeof at), 0);
    c->cap = (size_t)64 << 20;
    c->buf = malloc(c->cap);
    assert_non_null(c->buf);
    assert_int_equal(pthread_create(&c->th, NULL, capture_run, c), 0);
    return true;
}

static void capture_stop(capture *c)
{
    atomic_store(&c->stop, true);
    pthread_join(c->th, NULL);
    close(c->fd);
}

/* The hidden state of the prompt's first token after layers [0, split):
 * what worker 0 sends worker 1 (f32 on the wire), computed here. */
static void hidden_row(const ref_case *c, int split, float *row, size_t n_embd_cap)
{
    char path[4096];
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.first = 0;
    o.last = split;
    o.n_threads = 1;
    lp_err err = {0};
    lp_shard *s = lp_shard_open(lp_test_shared(path, sizeof path, "models/stories260K.gguf"),
                                &o, &err);
    assert_non_null(s);
    int slot = lp_kv_open(s->kv, 1, &err);
    assert_true(slot >= 0);
    lp_fwd_in in = {.n = c->n_prompt, .pos0 = 0, .tokens = c->prompt};
    const float *out;
    assert_int_equal(lp_forward(s->run, s->kv, slot, &in, &out, &err), 0);
    assert_true(s->model->hp.n_embd <= n_embd_cap);
    memcpy(row, out, sizeof(float) * s->model->hp.n_embd);
    lp_shard_close(s);
}

/* A capture of one pool run: does it show the prompt's token ids (as the
 * wire packs them) and the first 16 floats of the hidden state row? */
static void eavesdrop(const keyset *k, const lp_test_worker *w, bool keyed, const ref_case *c,
                      bool *ids_seen, bool *row_seen, bool *skipped)
{
    capture cap;
    *skipped = !capture_start(&cap);
    if (*skipped)
        return;
    int split;
    run_pool(k, w, keyed, c, &split);
    capture_stop(&cap);
    uint8_t packed[256];
    size_t n = 0;
    for (int i = 0; i < c->n_prompt && n + 5 < sizeof packed; i++) /* varints */
        for (uint32_t v = (uint32_t)c->prompt[i];; v >>= 7) {
            packed[n++] = (uint8_t)((v & 127) | (v > 127 ? 128 : 0));
            if (v <= 127)
                break;
        }
    float row[4096];
    hidden_row(c, split, row, 4096);
    *ids_seen = memmem(cap.buf, cap.len, packed, n) != NULL;
    *row_seen = memmem(cap.buf, cap.len, row, 16 * sizeof(float)) != NULL;
    free(cap.buf);
}

/* The traffic of a keyed pool shows neither the prompt nor a hidden
 * state; the same run over plain links shows both (so the check can fail). */
static void test_eavesdropper_sees_nothing(void **state)
{
    (void)state;
    keyset k;
    keys_make(&k);
    ref_model m;
    assert_int_equal(ref_load("stories260K", &m), 0);
    const ref_case *c = &m.cases[0];
    bool ids, row, skipped;
    lp_test_worker w[2];
    for (int i = 0; i < 2; i++)
        start_worker(&k, i, &w[i]);
    eavesdrop(&k, w, true, c, &ids, &row, &skipped);
    for (int i = 0; i < 2; i++)
        lp_test_worker_kill(&w[i]);
    if (skipped) {
        lp_test_rmtree(k.dir);
        ref_free(&m);
        print_message("[ curve ] no capture without root: skipped\n");
        skip();
    }
    assert_false(ids);
    assert_false(row);
    for (int i = 0; i < 2; i++)
        assert_int_equal(lp_test_worker_start(&w[i], NULL), 0); /* plain */
    eavesdrop(&k, w, false, c, &ids, &row, &skipped);
    for (int i = 0; i < 2; i++)
        lp_test_worker_kill(&w[i]);
    assert_true(ids);
    assert_true(row);
    print_message("[ curve ] keyed links: no prompt ids, no hidden row on the wire; plain: both\n");
    ref_free(&m);
    lp_test_rmtree(k.dir);
}

/* A DEALER to ep as `as` (NULL: plain), expecting the worker's key. */
static void *dealer(lp_wire *wire, const char *ep, const lp_keypair *as, const char *server_pub)
{
    lp_err err = {0};
    lp_curve cv = {.pub = as ? as->pub : NULL, .sec = as ? as->sec : NULL,
                   .server_pub = server_pub};
    void *s = lp_wire_socket_curve(wire, LP_SOCK_DEALER, ep, as ? &cv : NULL, &err);
    assert_non_null(s);
    return s;
}

/* Send env on s; true if an answer comes within ms. */
static bool answered(void *s, Lp__Envelope *env, int ms)
{
    lp_err err = {0};
    lp_wire_send(s, NULL, env, 0, &err);
    Lp__Envelope *r = NULL;
    int rc = lp_wire_recv(s, NULL, &r, ms, &err);
    lp_wire_env_free(r);
    return rc == 0;
}

static void test_strangers_refused(void **state)
{
    (void)state;
    keyset k;
    keys_make(&k);
    lp_test_worker w;
    start_worker(&k, 1, &w);
    lp_err err = {0};
    lp_wire *wire = lp_wire_new(&err);
    Lp__Hello h = LP__HELLO__INIT;
    Lp__Envelope hello = LP__ENVELOPE__INIT;
    hello.body_case = LP__ENVELOPE__BODY_HELLO;
    hello.hello = &h;
    char model[4096];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    uint8_t id[32];
    lp_test_model_id("stories260K", id);
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_id = (ProtobufCBinaryData){32, id};
    ls.model_path = model;
    ls.first_layer = 2;
    ls.last_layer = 5;
    ls.n_ctx = 64;
    ls.n_slots = 1;
    ls.n_batch = 16;
    ls.result_endpoint = "tcp://127.0.0.1:9";
    ls.prev_public_key = k.w[0].pub;
    Lp__Envelope load = LP__ENVELOPE__INIT;
    load.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    load.load_shard = &ls;
    /* no key, another key: nothing comes back, not even an Error */
    void *plain = dealer(wire, w.control, NULL, NULL);
    void *other = dealer(wire, w.control, &k.stranger, k.w[1].pub);
    assert_false(answered(plain, &hello, 1000));
    assert_false(answered(other, &hello, 1000));
    assert_false(answered(other, &load, 1000));
    /* a Forward on the data socket from the stranger: not taken either */
    lp_curve sv = {.pub = k.stranger.pub, .sec = k.stranger.sec, .server_pub = k.w[1].pub};
    void *push = lp_wire_socket_curve(wire, LP_SOCK_PUSH, w.data, &sv, &err);
    assert_non_null(push);
    int32_t tok = 1;
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = 1;
    f.n_tokens = 1;
    f.n_token_ids = 1;
    f.token_ids = &tok;
    f.new_session = true;
    Lp__Envelope fwd = LP__ENVELOPE__INIT;
    fwd.body_case = LP__ENVELOPE__BODY_FORWARD;
    fwd.forward = &f;
    lp_wire_send(push, NULL, &fwd, 0, &err);
    usleep(300 * 1000);
    /* the stranger again and again, from new connections: each refusal
     * counted, the peer logged once per socket, its key named */
    void *again[4];
    for (int i = 0; i < 4; i++)
        again[i] = dealer(wire, w.control, &k.stranger, k.w[1].pub);
    assert_false(answered(again[3], &hello, 500));
    for (int i = 0; i < 4; i++)
        lp_wire_close(again[i]);
    assert_int_equal(count_in_log(&k, 1, "refused a connection to its control socket"), 1);
    assert_int_equal(count_in_log(&k, 1, "refused a connection to its data socket"), 1);
    assert_int_equal(count_in_log(&k, 1, k.stranger.pub), 2);
    /* the coordinator's key: served (its LoadShard is refused only for the
     * result endpoint nobody listens on) */
    void *coord = dealer(wire, w.control, &k.coord, k.w[1].pub);
    assert_true(answered(coord, &hello, 5000));
    /* with the coordinator's key, but on the data socket of a worker whose
     * data comes from worker 0 (once a LoadShard said so): refused */
    lp_curve rs = {.pub = k.coord.pub, .sec = k.coord.sec, .zap_domain = "result"};
    void *results = lp_wire_socket_curve(wire, LP_SOCK_PULL, "tcp://127.0.0.1:0", &rs, &err);
    char rep[256];
    assert_non_null(results);
    assert_int_equal(lp_wire_endpoint(results, rep, sizeof rep, &err), 0);
    ls.result_endpoint = rep;
    Lp__Envelope *r = NULL;
    lp_wire_send(coord, NULL, &load, 0, &err);
    assert_int_equal(lp_wire_recv(coord, NULL, &r, 10000, &err), 0);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_SHARD_READY);
    lp_wire_env_free(r);
    const int before = count_in_log(&k, 1, k.coord.pub);
    lp_curve cs = {.pub = k.coord.pub, .sec = k.coord.sec, .server_pub = k.w[1].pub};
    void *push2 = lp_wire_socket_curve(wire, LP_SOCK_PUSH, w.data, &cs, &err);
    assert_non_null(push2);
    lp_wire_send(push2, NULL, &fwd, 0, &err);
    usleep(300 * 1000);
    assert_true(count_in_log(&k, 1, k.coord.pub) > before);
    assert_true(answered(coord, &hello, 5000)); /* and it still serves */
    lp_wire_close(push2);
    lp_wire_close(results);
    lp_wire_close(push);
    lp_wire_close(plain);
    lp_wire_close(other);
    lp_wire_close(coord);
    lp_wire_free(wire);
    lp_test_worker_kill(&w);
    lp_test_rmtree(k.dir);
}

/* A worker refuses to listen beyond loopback with plain links unless told
 * --insecure, and refuses a key file others may read. */
static void test_plain_needs_saying(void **state)
{
    (void)state;
    keyset k;
    keys_make(&k);
    char bin[4096], cmd[16384], out[2048];
    lp_test_bin(bin, sizeof bin, "worker");
    snprintf(cmd, sizeof cmd, "%s --listen tcp://0.0.0.0:0 2>&1", bin);
    assert_int_not_equal(lp_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "without --key its links would be plain"));
    snprintf(cmd, sizeof cmd, "%s --listen tcp://0.0.0.0:0 --key %s/w0.key 2>&1", bin, k.dir);
    assert_int_not_equal(lp_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "--key and --coordinator-key go together"));
    char key[4200];
    snprintf(key, sizeof key, "%s/w0.key", k.dir);
    assert_int_equal(chmod(key, 0644), 0);
    snprintf(cmd, sizeof cmd, "%s --listen tcp://127.0.0.1:0 --key %s --coordinator-key %s/coord.pub 2>&1",
             bin, key, k.dir);
    assert_int_not_equal(lp_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "chmod 600"));
    lp_test_rmtree(k.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_pool),
        cmocka_unit_test(test_strangers_refused),
        cmocka_unit_test(test_eavesdropper_sees_nothing),
        cmocka_unit_test(test_plain_needs_saying),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
