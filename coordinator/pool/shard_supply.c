#include "shard_supply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_id.h"
#include "shard_split.h"

static int mkdirs(char *path, lp_err *err)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return lp_err_set(err, "cannot create %s: %s", path, strerror(errno));
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return lp_err_set(err, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

/* <cache>/layerpool/shards/<model id>/<f0-l0_f1-l1...> */
static int cache_dir(const uint8_t model_id[LP_SHA256_BYTES], const int *first, const int *last, int n,
                     char *out, size_t cap, lp_err *err)
{
    const char *env = getenv("LP_SHARD_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    char hex[65];
    lp_model_id_hex(model_id, hex);
    int k = env && *env ? snprintf(out, cap, "%s/%s/", env, hex)
          : xdg && *xdg ? snprintf(out, cap, "%s/layerpool/shards/%s/", xdg, hex)
          : home && *home ? snprintf(out, cap, "%s/.cache/layerpool/shards/%s/", home, hex)
                          : snprintf(out, cap, "/tmp/layerpool-shards/%s/", hex);
    for (int i = 0; i < n && k > 0 && (size_t)k < cap; i++)
        k += snprintf(out + k, cap - (size_t)k, "%s%d-%d", i ? "_" : "", first[i], last[i]);
    if (k <= 0 || (size_t)k >= cap)
        return lp_err_set(err, "shard cache path too long");
    return mkdirs(out, err);
}

/* The ids of a finished split are kept beside the shards, so a later run
 * with the same model and plan reuses them without hashing gigabytes. */
static bool read_ids(const char *dir, int n, uint8_t (*ids)[LP_SHA256_BYTES], char (*paths)[4096])
{
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/ids.txt", dir);
    FILE *f = fopen(idx, "r");
    if (!f)
        return false;
    int got = 0;
    char hex[80], path[4096];
    while (got < n && fscanf(f, "%79s %4095s", hex, path) == 2) {
        struct stat st;
        if (lp_model_id_parse(hex, strlen(hex), ids[got]) != 0 || stat(path, &st) != 0)
            break;
        snprintf(paths[got++], 4096, "%s", path);
    }
    fclose(f);
    return got == n;
}

static void write_ids(const char *dir, const lp_split_result *r, int n)
{
    char idx[4200], tmp[4300], hex[65];
    snprintf(idx, sizeof idx, "%s/ids.txt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", idx);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    for (int i = 0; i < n; i++) {
        lp_model_id_hex(r[i].id, hex);
        fprintf(f, "%s %s\n", hex, r[i].path);
    }
    if (fclose(f) == 0)
        rename(tmp, idx);
}

static void split_progress(const lp_split_progress *p, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "\rsplitting shard %d/%d: %5.1f%%", p->index + 1, p->count,
            p->total ? 100.0 * (double)p->done / (double)p->total : 100.0);
    if (p->done == p->total && p->index + 1 == p->count)
        fputc('\n', stderr);
}

static bool send_progress(void *ctx, uint64_t done, uint64_t total, double mb_s)
{
    fprintf(stderr, "\rsending shard to %s: %5.1f%% of %.1f MB, %.0f MB/s",
            (const char *)ctx, total ? 100.0 * (double)done / (double)total : 100.0,
            total / 1e6, mb_s);
    if (done == total)
        fputc('\n', stderr);
    return true;
}

static int split_all(const char *model_path, const char *dir, const int *first, const int *last,
                     int n, uint8_t (*ids)[LP_SHA256_BYTES], char (*paths)[4096], lp_err *err)
{
    lp_layer_range ranges[LP_CLUSTER_MAX_WORKERS] = {{0}};
    lp_split_result res[LP_CLUSTER_MAX_WORKERS];
    for (int i = 0; i < n; i++)
        ranges[i] = (lp_layer_range){first[i], last[i]};
    if (lp_split_model(model_path, ranges, n, dir, split_progress, NULL, res, err) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        memcpy(ids[i], res[i].id, 32);
        snprintf(paths[i], 4096, "%s", res[i].path);
    }
    write_ids(dir, res, n);
    return 0;
}

int shard_supply(lp_cluster *cl, const char *model_path, const uint8_t model_id[LP_SHA256_BYTES],
                 const int *first, const int *last, const bool *need, int n,
                 uint8_t (*ids)[LP_SHA256_BYTES], lp_err *err)
{
    char dir[4096];
    static_assert(LP_CLUSTER_MAX_WORKERS <= 64, "path table size");
    char(*paths)[4096] = calloc((size_t)n, sizeof *paths);
    if (!paths)
        return lp_err_set(err, "out of memory");
    int rc = cache_dir(model_id, first, last, n, dir, sizeof dir, err);
    if (rc == 0 && !read_ids(dir, n, ids, paths))
        rc = split_all(model_path, dir, first, last, n, ids, paths, err);
    for (int i = 0; rc == 0 && i < n; i++)
        if (need[i])
            rc = lp_cluster_send_shard(cl, i, paths[i], ids[i], send_progress,
                                       (void *)lp_cluster_get_worker(cl, i)->name, err);
    free(paths);
    return rc;
}
