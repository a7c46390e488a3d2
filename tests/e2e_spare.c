/* A pool with a spare: three workers and one spare started apart from the
 * coordinator (as on four machines), coord serve over them. The middle
 * worker is killed (kill -9, and it stays dead) while four streams run:
 * the spare takes its layers, the neighbours relink to it, and every
 * stream completes with the text of an undisturbed run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local_workers.h"
#include "support.h"
#include "support_serve.h"

enum { N = 4, N_STREAMS = 4, GEN = 1500 };

typedef struct stream {
    int port;
    char body[256];
    sv_t_stream got;
} stream;

static void *run_stream(void *arg)
{
    stream *s = arg;
    sv_t_stream_run(s->port, "/v1/completions", s->body, NULL, &s->got);
    return NULL;
}


static void test_spare_takes_over(void **state)
{
    (void)state;
    char dir[2048], model[4096], models[4200], cfg[4200], log[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(models, sizeof models, "%s", model);
    const char *mdir = dirname(models);
    pid_t pid[N];
    int fd[N];
    char control[N][256];
    lp_err err = {0};
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        const char *extra[] = {"--models-dir", mdir, NULL};
        pid[i] = lp_local_worker_spawn("tcp://127.0.0.1:0", NULL, 1, NULL, name, NULL, extra,
                                       control[i], sizeof control[i], &fd[i], &err);
        if (pid[i] < 0)
            fail_msg("worker: %s", err.msg);
    }
    snprintf(cfg, sizeof cfg, "%s/pool.ini", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "[model]\npath = %s\nctx = 2048\nsessions = 4\n[server]\ninsecure = true\n", model);
    for (int i = 0; i < N; i++)
        fprintf(f, "[worker.w%d]\nendpoint = %s\nmem = 1G\nmodel_path = %s\n%s", i, control[i],
                model, i == N - 1 ? "spare = true\n" : "");
    fclose(f);
    snprintf(log, sizeof log, "%s/serve.log", dir);
    lp_test_server srv;
    if (lp_test_server_start(&srv, cfg, "--listen 127.0.0.1:0", log, SV_T_TIMEOUT_MS) != 0)
        fail_msg("coord serve did not come up; see %s", log);

    char whole[128];
    snprintf(whole, sizeof whole, "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,"
             "\"temperature\":0}", GEN);
    int st;
    cJSON *alone = sv_t_post(srv.port, "/v1/completions", whole, NULL, &st);
    assert_int_equal(st, 200);
    const char *want = sv_t_str(alone, "choices.0.text");
    stream s[N_STREAMS];
    pthread_t th[N_STREAMS];
    for (int k = 0; k < N_STREAMS; k++) {
        s[k] = (stream){.port = srv.port};
        snprintf(s[k].body, sizeof s[k].body, "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,"
                 "\"temperature\":0,\"stream\":true}", GEN);
        assert_int_equal(pthread_create(&th[k], NULL, run_stream, &s[k]), 0);
    }
    usleep(500 * 1000); /* under way */
    long long t_kill = lp_http_now_ms();
    assert_int_equal(kill(pid[1], SIGKILL), 0);
    for (int k = 0; k < N_STREAMS; k++) {
        pthread_join(th[k], NULL);
        if (s[k].got.error[0] || s[k].got.status != 200 || !s[k].got.done)
            fail_msg("stream %d broke: status %d: %s", k, s[k].got.status, s[k].got.error);
        assert_string_equal(s[k].got.text, want);
        sv_t_stream_free(&s[k].got);
    }
    long long took = lp_http_now_ms() - t_kill;
    cJSON_Delete(alone);
    assert_true(lp_test_file_has(log, "spare w3 (tcp://"));
    assert_true(lp_test_file_has(log, "takes layers 2-3 of lost worker w1"));
    print_message("[ spare ] w1 killed under %d streams: the spare took over; all done "
                  "%.1f s after the kill, each text undisturbed\n", N_STREAMS, took / 1000.0);
    assert_int_equal(lp_test_server_stop(&srv, 60000), 0);
    waitpid(pid[1], NULL, 0);
    for (int i = 0; i < N; i++) {
        if (i != 1) {
            kill(pid[i], SIGTERM);
            waitpid(pid[i], NULL, 0);
        }
        close(fd[i]);
    }
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spare_takes_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
