/* bench_llama.c — run llama-bench as a child and read its JSON. */
#include "bench_llama.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"

enum { MAX_OUT = 16 << 20, MAX_SAMPLES = 1000 };

/* The child: stdout to the pipe, stderr to errf, exec (no shell, so the
 * model path needs no quoting). */
static void child(char *const argv[], int out_fd, int err_fd)
{
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    close(out_fd);
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* The tail of the child's stderr, for the error message. */
static void stderr_tail(FILE *errf, char *out, size_t cap)
{
    out[0] = 0;
    if (fseek(errf, 0, SEEK_END) != 0)
        return;
    long size = ftell(errf), from = size > (long)cap - 1 ? size - (long)cap + 1 : 0;
    if (size <= 0 || fseek(errf, from, SEEK_SET) != 0)
        return;
    size_t n = fread(out, 1, cap - 1, errf);
    out[n] = 0;
    for (char *p = out; *p; p++)
        *p = *p == '\n' ? ' ' : *p;
}

static char *run_child(char *const argv[], lp_err *err)
{
    int fds[2];
    FILE *errf = tmpfile();
    if (!errf || pipe(fds) != 0) {
        if (errf)
            fclose(errf);
        lp_err_set(err, "llama-bench: %s", strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(argv, fds[1], fileno(errf));
    }
    close(fds[1]);
    /* Everything the child writes, NUL-terminated; NULL past MAX_OUT. */
    char *out = pid > 0 ? lp_read_all(fds[0], MAX_OUT, NULL) : NULL;
    close(fds[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (pid < 0 || !out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tail[400];
        stderr_tail(errf, tail, sizeof tail);
        lp_err_set(err, "%s failed (status %d): %s", argv[0],
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), tail);
        free(out);
        out = NULL;
    }
    fclose(errf);
    return out;
}

static int json_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static void row_stats(const cJSON *o, bench_stats *st)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "samples_ts"), *e;
    double xs[MAX_SAMPLES];
    int n = 0;
    cJSON_ArrayForEach(e, s) {
        if (cJSON_IsNumber(e) && n < MAX_SAMPLES)
            xs[n++] = e->valuedouble;
    }
    if (n > 0) {
        bench_stats_of(xs, n, st);
        return;
    }
    const cJSON *avg = cJSON_GetObjectItemCaseSensitive(o, "avg_ts");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "stddev_ts");
    double a = cJSON_IsNumber(avg) ? avg->valuedouble : 0;
    *st = (bench_stats){.median = a, .min = a, .max = a, .mean = a,
                        .sd = cJSON_IsNumber(sd) ? sd->valuedouble : 0, .n = 0};
}

static int parse(const char *text, bench_llama *out, lp_err *err)
{
    cJSON *root = cJSON_Parse(text), *o;
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return lp_err_set(err, "llama-bench: its output is not a JSON array");
    }
    out->n = 0;
    cJSON_ArrayForEach(o, root) {
        if (out->n == BENCH_LLAMA_MAX_ROWS)
            break;
        bench_llama_row *r = &out->rows[out->n++];
        r->threads = json_int(o, "n_threads");
        r->n_prompt = json_int(o, "n_prompt");
        r->n_gen = json_int(o, "n_gen");
        row_stats(o, &r->st);
    }
    cJSON_Delete(root);
    return 0;
}

int bench_llama_run(const char *exe, const char *model, int n_prompt, int n_gen,
                    const int *threads, int n_threads, int reps, const lp_attn_opts *attn,
                    bench_llama *out, lp_err *err)
{
    return bench_llama_run_with(exe, model, n_prompt, n_gen, threads, n_threads, reps, attn,
                                NULL, out, err);
}

int bench_llama_run_with(const char *exe, const char *model, int n_prompt, int n_gen,
                         const int *threads, int n_threads, int reps, const lp_attn_opts *attn,
                         const char *const *extra, bench_llama *out, lp_err *err)
{
    char p[16], n[16], r[16], t[16 * 12] = "";
    snprintf(p, sizeof p, "%d", n_prompt);
    snprintf(n, sizeof n, "%d", n_gen);
    snprintf(r, sizeof r, "%d", reps);
    for (int i = 0; i < n_threads && i < 16; i++)
        snprintf(t + strlen(t), sizeof t - strlen(t), "%s%d", i ? "," : "", threads[i]);
    char *argv[32] = {(char *)exe, "-m", (char *)model, "-p", p, "-n", n, "-t", t, "-r", r,
                      "-o", "json", "-fa", attn->flash ? "1" : "0",
                      "-ctk", (char *)lp_kv_type_name(attn->type_k),
                      "-ctv", (char *)lp_kv_type_name(attn->type_v), NULL};
    for (int k = 19, i = 0; extra && extra[i] && k < 31; i++, k++)
        argv[k] = (char *)extra[i];
    char *text = run_child(argv, err);
    if (!text)
        return -1;
    int rc = parse(text, out, err);
    free(text);
    return rc;
}

const bench_llama_row *bench_llama_find(const bench_llama *b, int threads, int n_prompt,
                                        int n_gen)
{
    for (int i = 0; i < b->n; i++)
        if (b->rows[i].threads == threads && b->rows[i].n_prompt == n_prompt &&
            b->rows[i].n_gen == n_gen)
            return &b->rows[i];
    return NULL;
}
