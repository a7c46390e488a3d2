/* support_lab_pool.c — workers and coord runs in a lab (support_lab_pool.h). */
#include "support_lab_pool.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

int lab_pool_start_on(lab_pool *p, int n, lp_lab_mode mode, const char *const *listen,
                      const char *const *endpoint)
{
    memset(p, 0, sizeof *p);
    int rc = lp_lab_open(&p->lab, n, mode);
    if (rc != 0 || !lp_test_tmpdir(p->dir, sizeof p->dir))
        return rc ? rc : -1;
    for (int i = 0; i < n; i++) {
        char args[2400];
        snprintf(p->endpoint[i], sizeof p->endpoint[i], "%s", endpoint[i]);
        /* the lab's own namespaces: plain links, said so */
        snprintf(args, sizeof args, "--name h%d --cache-dir %s/cache%d --insecure", i, p->dir,
                 i);
        if (lp_test_worker_start_in(&p->w[i], p->lab.netns[i], listen[i], args) != 0)
            return -1;
    }
    return 0;
}

int lab_pool_start(lab_pool *p, int n, lp_lab_mode mode, const bool *wildcard)
{
    char listen[LP_LAB_MAX][64], endpoint[LP_LAB_MAX][64];
    const char *l[LP_LAB_MAX], *e[LP_LAB_MAX];
    lp_lab probe; /* the addresses lp_lab_open will give */
    for (int i = 0; i < n && i < LP_LAB_MAX; i++) {
        lp_lab_addr(&probe, mode, i);
        snprintf(endpoint[i], sizeof endpoint[i], "tcp://%s:5555", probe.addr[i]);
        snprintf(listen[i], sizeof listen[i], "tcp://%s:5555",
                 wildcard && wildcard[i] ? "0.0.0.0" : probe.addr[i]);
        l[i] = listen[i];
        e[i] = endpoint[i];
    }
    return lab_pool_start_on(p, n, mode, l, e);
}

void lab_pool_stop(lab_pool *p)
{
    for (int i = 0; i < LP_LAB_MAX; i++)
        lp_test_worker_kill(&p->w[i]);
    lp_lab_close(&p->lab);
    if (p->dir[0])
        lp_test_rmtree(p->dir);
    p->dir[0] = 0;
}

char *lab_pool_config(const lab_pool *p, const char *name, const char *model, int n,
                      const bool *own, const char *server, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", p->dir, name);
    FILE *f = fopen(out, "w");
    if (!f)
        return NULL;
    fprintf(f, "[model]\npath = %s\nctx = 256\nbatch = 16\n", model);
    /* the lab's own namespaces: plain links, said so */
    fprintf(f, "\n[server]\ninsecure = true\nallow_insecure_remote = true\n%s\n",
            server ? server : "");
    for (int i = 0; i < n; i++) {
        fprintf(f, "\n[worker.h%d]\nendpoint = %s\nmem = 1G\n", i, p->endpoint[i]);
        if (own && own[i])
            fprintf(f, "model_path = %s\n", model);
    }
    fclose(f);
    return out;
}

int lab_pool_coord(const lab_pool *p, const char *args, char *out, size_t cap, char *err,
                   size_t err_cap)
{
    char bin[4096], cmd[16384], errf[2200];
    snprintf(errf, sizeof errf, "%s/coord.err", p->dir);
    snprintf(cmd, sizeof cmd, "LP_SHARD_DIR=%s/shards timeout -k 5 120 %s %s 2>%s", p->dir,
             lp_test_bin(bin, sizeof bin, "coord"), args, errf);
    int st = lp_test_run(cmd, out, cap);
    if (err && err_cap) {
        size_t n = 0;
        char *e = lp_test_read_file(errf, &n);
        snprintf(err, err_cap, "%s", e ? e : "");
        free(e);
    }
    return st;
}

char *lab_model(const char *stem, char *out, size_t cap)
{
    char rel[256], path[4096], abs[PATH_MAX];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_test_shared(path, sizeof path, rel);
    snprintf(out, cap, "%s", realpath(path, abs) ? abs : path);
    return out;
}
