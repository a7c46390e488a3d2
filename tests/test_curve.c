/* test_curve.c — CURVE keys and the ZAP handler with real ZeroMQ sockets
 * on loopback: key files (private mode enforced, never overwritten, halves
 * that belong together); a PULL that is a CURVE server takes messages only
 * from a PUSH whose key is on its domain's allow-list, each marked with the
 * entry's user id, and a peer with another key, or none, delivers nothing
 * and is counted as refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "support.h"
#include "wire.h"
#include "zap.h"

static void test_key_files(void **state)
{
    (void)state;
    char dir[4096], base[4200], path[4300];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(base, sizeof base, "%s/w1", dir);
    lp_keypair kp, back, other;
    lp_err err = {0};
    assert_int_equal(lp_keypair_generate(&kp, &err), 0);
    assert_true(lp_key_valid(kp.pub) && lp_key_valid(kp.sec));
    assert_int_equal(lp_keypair_write(&kp, base, &err), 0);
    snprintf(path, sizeof path, "%s.key", base);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lp_keypair_read(path, &back, &err), 0);
    assert_string_equal(back.pub, kp.pub);
    assert_string_equal(back.sec, kp.sec);
    /* never overwritten */
    assert_int_equal(lp_keypair_generate(&other, &err), 0);
    assert_int_equal(lp_keypair_write(&other, base, &err), -1);
    assert_non_null(strstr(err.msg, "never overwritten"));
    /* readable by others: refused */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(lp_keypair_read(path, &back, &err), -1);
    assert_non_null(strstr(err.msg, "chmod 600"));
    /* a public half that is not the secret's */
    snprintf(path, sizeof path, "%s/mixed.key", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "public = %s\nsecret = %s\n", other.pub, kp.sec);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(lp_keypair_read(path, &back, &err), -1);
    assert_non_null(strstr(err.msg, "not the secret key's"));
    /* a public key as text or from a .pub */
    char pub[LP_KEY_Z85 + 1];
    assert_int_equal(lp_key_public(kp.pub, pub, &err), 0);
    assert_string_equal(pub, kp.pub);
    snprintf(path, sizeof path, "%s.pub", base);
    assert_int_equal(lp_key_public(path, pub, &err), 0);
    assert_string_equal(pub, kp.pub);
    assert_int_equal(lp_key_public("not-a-key", pub, &err), -1);
    lp_test_rmtree(dir);
}

/* A PUSH from `client` (NULL: plain) to the server's endpoint sends one
 * message; the PULL's answer within 1.5 s: 0 and *who, or 1 nothing came. */
static int deliver(lp_wire *w, void *pull, const char *ep, const lp_keypair *client,
                   const char *server_pub, char *who, size_t cap)
{
    lp_err err = {0};
    lp_curve c = {.pub = client ? client->pub : NULL, .sec = client ? client->sec : NULL,
                  .server_pub = server_pub};
    void *push = lp_wire_socket_curve(w, LP_SOCK_PUSH, ep, client ? &c : NULL, &err);
    assert_non_null(push);
    Lp__Hello h = LP__HELLO__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    lp_wire_send(push, NULL, &env, 0, &err); /* queued until the handshake; maybe never */
    Lp__Envelope *got = NULL;
    lp_wire_info info;
    int rc = lp_wire_recv_info(pull, NULL, &got, 1500, &info, &err);
    if (rc == 0)
        snprintf(who, cap, "%s", info.user_id);
    lp_wire_env_free(got);
    lp_wire_close(push);
    return rc;
}

static void test_allow_list(void **state)
{
    (void)state;
    lp_err err = {0};
    lp_wire *w = lp_wire_new(&err);
    assert_non_null(w);
    lp_zap *zap = lp_zap_start(w, "test", &err);
    assert_non_null(zap);
    lp_keypair server, friend, stranger;
    assert_int_equal(lp_keypair_generate(&server, &err), 0);
    assert_int_equal(lp_keypair_generate(&friend, &err), 0);
    assert_int_equal(lp_keypair_generate(&stranger, &err), 0);
    lp_curve sc = {.pub = server.pub, .sec = server.sec, .zap_domain = "data"};
    void *pull = lp_wire_socket_curve(w, LP_SOCK_PULL, "tcp://127.0.0.1:0", &sc, &err);
    assert_non_null(pull);
    char ep[256], who[64];
    assert_int_equal(lp_wire_endpoint(pull, ep, sizeof ep, &err), 0);
    assert_int_equal(lp_zap_allow(zap, "data", friend.pub, "w0", &err), 0);
    assert_int_equal(lp_zap_allow(zap, "control", stranger.pub, "c", &err), 0);

    assert_int_equal(deliver(w, pull, ep, &friend, server.pub, who, sizeof who), 0);
    assert_string_equal(who, "w0"); /* the key vouches for the sender */
    assert_int_equal(deliver(w, pull, ep, &stranger, server.pub, who, sizeof who), 1);
    assert_int_equal(deliver(w, pull, ep, NULL, NULL, who, sizeof who), 1); /* no CURVE */
    assert_true(lp_zap_refused(zap) >= 1);
    /* forgotten: refused too */
    lp_zap_forget(zap, "data");
    assert_int_equal(deliver(w, pull, ep, &friend, server.pub, who, sizeof who), 1);
    assert_int_equal(lp_zap_allow(zap, "data", "short", "x", &err), -1);
    lp_wire_close(pull);
    lp_zap_stop(zap);
    lp_wire_free(w);
}

typedef struct later {
    lp_zap *zap;
    const char *pub;
} later;

static void *allow_later(void *arg)
{
    const later *l = arg;
    lp_err err = {0};
    usleep(400 * 1000);
    lp_zap_allow(l->zap, "data", l->pub, "w0", &err);
    return NULL;
}

/* A checked link to a peer that does not allow our key yet is asked again
 * until it does (a pool loads all its workers at once: the next one may
 * learn of us a moment late); one that never does is an error naming the
 * refusal. */
static void test_link_waits_for_allow(void **state)
{
    (void)state;
    lp_err err = {0};
    lp_wire *w = lp_wire_new(&err);
    lp_zap *zap = lp_zap_start(w, "test", &err);
    assert_non_null(zap);
    lp_keypair server, friend;
    assert_int_equal(lp_keypair_generate(&server, &err), 0);
    assert_int_equal(lp_keypair_generate(&friend, &err), 0);
    lp_curve sc = {.pub = server.pub, .sec = server.sec, .zap_domain = "data"};
    void *pull = lp_wire_socket_curve(w, LP_SOCK_PULL, "tcp://127.0.0.1:0", &sc, &err);
    char ep[256];
    assert_int_equal(lp_wire_endpoint(pull, ep, sizeof ep, &err), 0);
    const char *eps[1] = {ep};
    const lp_curve cc[1] = {{.pub = friend.pub, .sec = friend.sec, .server_pub = server.pub}};
    void *socks[1];
    int failed;
    assert_int_equal(lp_wire_push_checked(w, 1, eps, cc, 700, socks, &failed, &err), -1);
    assert_int_equal(failed, 0);
    assert_non_null(strstr(err.msg, "refused our CURVE key"));
    pthread_t t;
    later l = {zap, friend.pub};
    assert_int_equal(pthread_create(&t, NULL, allow_later, &l), 0);
    if (lp_wire_push_checked(w, 1, eps, cc, 5000, socks, &failed, &err) != 0)
        fail_msg("%s", err.msg);
    pthread_join(t, NULL);
    lp_wire_close(socks[0]);
    lp_wire_close(pull);
    lp_zap_stop(zap);
    lp_wire_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_link_waits_for_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
