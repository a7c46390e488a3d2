/* A pool described by a cluster file, workers started apart from the
 * coordinator (as on other machines): workers without a copy of the model
 * get their layers as shard files the coordinator cuts and streams into
 * their caches (weights by (b)); a worker with model_path reads its own
 * copy (a). Every reference model on 1, 2 and 3 workers by (b); three workers
 * mixing (a) and (b) on two models. Greedy ids equal llama.cpp's. A second
 * run finds the shards in the caches and sends nothing again, and the
 * workers, holding their layers already, keep them (only relinked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local_workers.h"
#include "support.h"
#include "support_ids.h"
#include "support_ref.h"

typedef struct farm {
    int n;
    pid_t pid[3];
    int fd[3];
    char control[3][256];
} farm;

/* Workers with caches in dir, reading models by path from models' folder. */
static void farm_start(farm *f, int n, const char *dir, const char *models)
{
    lp_err err = {0};
    f->n = n;
    for (int i = 0; i < n; i++) {
        char cache[4200], name[16];
        snprintf(cache, sizeof cache, "%s/cache%d", dir, i);
        snprintf(name, sizeof name, "w%d", i);
        const char *extra[] = {"--cache-dir", cache, "--models-dir", models, NULL};
        f->pid[i] = lp_local_worker_spawn("tcp://127.0.0.1:0", NULL, 1, NULL, name, NULL, extra,
                                          f->control[i], sizeof f->control[i], &f->fd[i], &err);
        if (f->pid[i] < 0)
            fail_msg("worker: %s", err.msg);
    }
}

static void farm_stop(farm *f)
{
    for (int i = 0; i < f->n; i++) {
        kill(f->pid[i], SIGTERM);
        waitpid(f->pid[i], NULL, 0);
        close(f->fd[i]);
    }
}

/* own_copy[i]: worker i reads the model itself (a); else it gets a shard. */
static void write_config(const char *path, const char *model, const farm *f, const bool *own)
{
    FILE *c = fopen(path, "w");
    assert_non_null(c);
    fprintf(c, "[model]\npath = %s\nctx = 512\nbatch = 16\n[server]\ninsecure = true\n", model);
    for (int i = 0; i < f->n; i++) {
        fprintf(c, "\n[worker.w%d]\nendpoint = %s\nmem = 1G\n", i, f->control[i]);
        if (own[i])
            fprintf(c, "model_path = %s\n", model);
    }
    fclose(c);
}

/* Runs coord over the config; returns its stderr+stdout in out. */
static void run_config(const char *dir, const char *cfg, const char *shards, const ref_case *c,
                       char *out, size_t cap)
{
    char bin[4096], cmd[16384], errf[4200];
    snprintf(errf, sizeof errf, "%s/coord.err", dir);
    int k = snprintf(cmd, sizeof cmd,
                     "LP_SHARD_DIR=%s %s run --config %s -n %d --ids --ignore-eos --tokens ",
                     shards, lp_test_bin(bin, sizeof bin, "coord"), cfg, c->n_greedy);
    for (int i = 0; i < c->n_prompt; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s%d", i ? "," : "", c->prompt[i]);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>%s", errf);
    int st = lp_test_run(cmd, out, cap);
    if (st != 0) {
        size_t n;
        char *e = lp_test_read_file(errf, &n);
        fail_msg("coord run --config %s: exit %d: %s", cfg, st, e ? e : "");
    }
    int32_t ids[64];
    int n = lp_test_parse_ids(out, ids, 64);
    bool noise;
    int bad = ref_greedy_mismatch(c, ids, n, &noise);
    if (bad >= 0 || noise)
        fail_msg("%s: step %d differs from llama.cpp", cfg, bad);
}

static void check_model(const char *stem, int n_workers, const bool *own, bool second_run)
{
    char dir[2048], model[4096], rel[256], cfg[4200], shards[4200], out[8192];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_test_shared(model, sizeof model, rel);
    snprintf(cfg, sizeof cfg, "%s/pool.ini", dir);
    snprintf(shards, sizeof shards, "%s/shards", dir);
    ref_model m;
    assert_int_equal(ref_load(stem, &m), 0);
    farm f;
    char models[4200];
    snprintf(models, sizeof models, "%s", model);
    farm_start(&f, n_workers, dir, dirname(models));
    write_config(cfg, model, &f, own);
    run_config(dir, cfg, shards, &m.cases[m.n_cases - 1], out, sizeof out);
    if (second_run) { /* the shards are cached on both sides now, and the workers hold
                         their layers already: a new coordinator keeps them */
        run_config(dir, cfg, shards, &m.cases[0], out, sizeof out);
        char errf[4200];
        size_t n;
        snprintf(errf, sizeof errf, "%s/coord.err", dir);
        char *log = lp_test_read_file(errf, &n);
        int kept = 0;
        for (const char *p = log; p && (p = strstr(p, "held these layers already")); p++)
            kept++;
        if (kept != n_workers)
            fail_msg("%d of %d workers kept their layers for the second coordinator:\n%s", kept,
                     n_workers, log ? log : "");
        free(log);
    }
    farm_stop(&f);
    ref_free(&m);
    lp_test_rmtree(dir);
}

static void test_every_model_streamed_workers(void **state)
{
    (void)state;
    const bool none[3] = {false, false, false};
    int n = 0;
    for (int mi = 0; REF_MODELS[mi]; mi++)
        for (int w = 1; w <= 3; w++) {
            if (w == 3 && strstr(REF_MODELS[mi], "tied"))
                continue; /* two layers: two workers at most */
            check_model(REF_MODELS[mi], w, none, false);
            n++;
        }
    print_message("[ pool --config ] %d pools of 1-3 workers fed by streamed shards equal "
                  "llama.cpp\n", n);
}

static void test_three_workers_mixed(void **state)
{
    (void)state;
    const bool mixed[3] = {true, false, false};
    check_model("stories260K", 3, mixed, true);
    check_model("synth-qwen2-Q4_K_M", 3, mixed, true);
}

/* coord plan --live: the workers that answer, with the memory they may
 * use (the smaller of the file's and theirs) and their measured speed. */
static void test_plan_live(void **state)
{
    (void)state;
    char dir[2048], model[4096], cfg[4200], bin[4096], cmd[16384], out[8192];
    lp_err err = {0};
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    farm f = {.n = 1};
    const char *extra[] = {"--mem-limit", "512M", NULL};
    f.pid[0] = lp_local_worker_spawn("tcp://127.0.0.1:0", NULL, 1, NULL, "up", NULL, extra,
                                     f.control[0], sizeof f.control[0], &f.fd[0], &err);
    assert_true(f.pid[0] > 0);
    snprintf(cfg, sizeof cfg, "%s/live.ini", dir);
    FILE *c = fopen(cfg, "w");
    assert_non_null(c);
    fprintf(c, "[model]\npath = %s\nctx = 256\n[server]\ninsecure = true\n\n"
            "[worker.up]\nendpoint = %s\nmem = 1G\n\n"
            "[worker.down]\nendpoint = tcp://127.0.0.1:1\nmem = 1G\n", model, f.control[0]);
    fclose(c);
    snprintf(cmd, sizeof cmd, "%s plan --config %s --live 2>&1", lp_test_bin(bin, sizeof bin,
             "coord"), cfg);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "over 1 worker") || !strstr(out, "512.0 MiB") ||
        !strstr(out, "worker down (tcp://127.0.0.1:1) left out"))
        fail_msg("unexpected plan: %s", out);
    farm_stop(&f);
    lp_test_rmtree(dir);
}

/* coord run's "sends N B/token to the next worker" on worker 0's line. */
static double bytes_per_token(const char *report)
{
    const char *end = strstr(report, " B/token to the next worker"), *p = end;
    double b = -1;
    while (p && p > report && p[-1] != 's')
        p--;
    if (!end || sscanf(p, "%lf", &b) != 1)
        fail_msg("no bytes per token in:\n%s", report);
    return b;
}

/* Hidden states on the wire as f32 (exact), f16, bf16 and q8_0: a pool of
 * two local workers runs with each, and what a token costs worker 0's hop
 * is the dtype's row plus at most 64 bytes of envelope: f16 and bf16 half
 * of f32's, q8_0 at most 0.27 x. */
static void test_wire_dtypes(void **state)
{
    (void)state;
    static const char *const dtypes[] = {"f32", "f16", "bf16", "q8_0"};
    char dir[2048], model[4096], cfg[2300], bin[4096], cmd[16384], out[16384];
    double bytes[4];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_test_shared(model, sizeof model, "models/synth-llama-Q4_K_M.gguf");
    for (int i = 0; i < 4; i++) {
        snprintf(cfg, sizeof cfg, "%s/%s.ini", dir, dtypes[i]);
        FILE *c = fopen(cfg, "w");
        assert_non_null(c);
        fprintf(c, "[model]\npath = %s\nctx = 256\nwire_dtype = %s\n\n[local]\nworkers = 2\n"
                "mem = 1G\n", model, dtypes[i]);
        fclose(c);
        snprintf(cmd, sizeof cmd, "%s run --config %s -p 'Once upon a time' -n 16 -t 1 "
                 "--ignore-eos 2>&1 >/dev/null", lp_test_bin(bin, sizeof bin, "coord"), cfg);
        int st = lp_test_run(cmd, out, sizeof out);
        if (st != 0)
            fail_msg("%s: exit %d:\n%s", cmd, st, out);
        bytes[i] = bytes_per_token(out);
    }
    const double e = 256; /* the synthetic model's n_embd */
    assert_true(bytes[0] >= e * 4 && bytes[0] <= e * 4 + 64);
    assert_true(bytes[1] >= e * 2 && bytes[1] <= e * 2 + 64);
    assert_true(bytes[2] >= e * 2 && bytes[2] <= e * 2 + 64);
    assert_true(bytes[3] >= e / 32 * 34 && bytes[3] <= e / 32 * 34 + 64);
    print_message("[ pool --config ] bytes/token to the next worker: f32 %.0f, f16 %.0f, "
                  "bf16 %.0f, q8_0 %.0f (%.3f x f32)\n", bytes[0], bytes[1], bytes[2], bytes[3],
                  bytes[3] / bytes[0]);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_model_streamed_workers),
        cmocka_unit_test(test_three_workers_mixed),
        cmocka_unit_test(test_plan_live),
        cmocka_unit_test(test_wire_dtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
