/* models_dir.c — which model files a LoadShard may name (worker.h).
 *
 * A LoadShard's model_path comes off the network: left unchecked, any
 * peer could make the worker open any file it can read, and learn from
 * the error whether a path exists and how the file begins. So a path is
 * accepted only inside a folder the worker was started with
 * (--models-dir), checked twice: as written (absolute, its "." and ".."
 * parts folded, under a folder) before anything is opened, so a path
 * outside gets the same answer whether it exists or not; then as the file
 * system resolves it (symbolic links), so a link inside cannot lead
 * outside. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

/* dir (resolved, no trailing '/' but "/" itself) holds path? */
static bool under(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* path with "." and ".." parts and repeated '/' folded as written
 * (no file system access), into out[cap]; false if it is not absolute,
 * climbs above "/" or does not fit. */
static bool fold(const char *path, char *out, size_t cap)
{
    if (path[0] != '/' || cap < 2)
        return false;
    size_t n = 0; /* out[0..n) holds the folded prefix, without a trailing '/' */
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (n == 0)
                return false;
            while (n > 0 && out[--n] != '/') {
            }
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (n + 1 + len + 1 > cap)
                return false;
            out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = 0;
    return true;
}

/* as_given: also the folders as written on the command line (a path
 * through a symbolic link to a folder passes the first check). */
static bool in_any(const wk_opts *o, const char *path, bool as_given)
{
    for (int i = 0; i < o->n_models_dirs; i++)
        if (under(o->models_dirs[i], path) ||
            (as_given && under(o->models_dirs_as_given[i], path)))
            return true;
    return false;
}

int wk_models_dir_add(wk_opts *o, const char *dir, lp_err *err)
{
    if (o->n_models_dirs >= WK_MAX_MODELS_DIRS)
        return lp_err_set(err, "--models-dir: at most %d folders", WK_MAX_MODELS_DIRS);
    char real[PATH_MAX], abs[PATH_MAX], cwd[PATH_MAX];
    if (!dir || !*dir || !realpath(dir, real))
        return lp_err_set(err, "--models-dir '%s': %s", dir ? dir : "",
                          dir && *dir ? strerror(errno) : "wants a folder");
    if (dir[0] != '/' && !getcwd(cwd, sizeof cwd))
        return lp_err_set(err, "--models-dir '%s': %s", dir, strerror(errno));
    if (snprintf(abs, sizeof abs, "%s/%s", dir[0] == '/' ? "" : cwd, dir) >= (int)sizeof abs ||
        strlen(real) >= sizeof o->models_dirs[0] ||
        !fold(abs, o->models_dirs_as_given[o->n_models_dirs], sizeof o->models_dirs[0]))
        return lp_err_set(err, "--models-dir '%s': path too long", dir);
    strcpy(o->models_dirs[o->n_models_dirs++], real);
    return 0;
}

int wk_models_dir_check(const wk_opts *o, const char *path, char *out, size_t cap, lp_err *err)
{
    if (o->n_models_dirs == 0)
        return lp_err_set(err, "this worker reads no model files by path (it was started "
                               "without --models-dir): stream it a shard instead, or start "
                               "it with --models-dir FOLDER");
    char folded[PATH_MAX];
    if (!fold(path, folded, sizeof folded) || !in_any(o, folded, true))
        return lp_err_set(err, "model_path is not an absolute path inside this worker's "
                               "--models-dir folders (see its log for them)");
    char real[PATH_MAX];
    if (!realpath(path, real))
        return lp_err_set(err, "model_path inside --models-dir: %s", strerror(errno));
    if (!in_any(o, real, false))
        return lp_err_set(err, "model_path leads outside this worker's --models-dir folders "
                               "(a symbolic link)");
    if (strlen(real) >= cap)
        return lp_err_set(err, "model_path: resolved path too long");
    strcpy(out, real);
    return 0;
}
