/* shard_cache.c — the worker's shard cache (shard_cache.h): <hex>.part
 * grows chunk by chunk, <hex>.hash holds the SHA-256 state of its bytes,
 * and a verified file becomes <hex>.gguf. */
#include "shard_cache.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "model_id.h"
#include "sha256.h"

enum { PATH_CAP = 4096 };

typedef struct names {
    char part[PATH_CAP], hash[PATH_CAP], hash_tmp[PATH_CAP], done[PATH_CAP];
} names;

static int make_name(char *out, size_t cap, const char *dir, const uint8_t id[LP_SHA256_BYTES],
                     const char *suffix)
{
    char hex[2 * LP_SHA256_BYTES + 1];
    lp_model_id_hex(id, hex);
    int n = snprintf(out, cap, "%s/%s%s", dir, hex, suffix);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int make_names(names *nm, const char *dir, const uint8_t id[LP_SHA256_BYTES], lp_err *err)
{
    if (make_name(nm->part, PATH_CAP, dir, id, ".part") ||
        make_name(nm->hash, PATH_CAP, dir, id, ".hash") ||
        make_name(nm->hash_tmp, PATH_CAP, dir, id, ".hash.tmp") ||
        make_name(nm->done, PATH_CAP, dir, id, ".gguf"))
        return lp_err_set(err, "shard cache: directory name '%s' is too long", dir);
    return 0;
}

/* ---- the directory ---------------------------------------------------------- */

int lp_cache_open(const char *dir, lp_err *err)
{
    struct stat st;
    if (!dir || !*dir)
        return lp_err_set(err, "shard cache: no directory given");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return lp_err_set(err, "shard cache: cannot create '%s': %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lp_err_set(err, "shard cache: '%s' is not a directory", dir);
    char probe[PATH_CAP];
    if (snprintf(probe, sizeof probe, "%s/.probe.XXXXXX", dir) >= (int)sizeof probe)
        return lp_err_set(err, "shard cache: directory name '%s' is too long", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return lp_err_set(err, "shard cache: cannot write in '%s': %s", dir, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

/* An exclusive lock on the directory for one call; -1 on failure. */
static int lock_dir(const char *dir, lp_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lp_err_set(err, "shard cache: cannot open '%s': %s", dir, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            lp_err_set(err, "shard cache: cannot lock '%s': %s", dir, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void unlock_dir(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

int lp_cache_path(const char *dir, const uint8_t id[LP_SHA256_BYTES], char *path,
                  size_t cap, lp_err *err)
{
    struct stat st;
    if (make_name(path, cap, dir, id, ".gguf"))
        return lp_err_set(err, "shard cache: path buffer too small for '%s'", dir);
    if (stat(path, &st) == 0)
        return S_ISREG(st.st_mode) ? 0 : lp_err_set(err, "shard cache: '%s' is not a file", path);
    return errno == ENOENT ? 1 : lp_err_set(err, "shard cache: '%s': %s", path, strerror(errno));
}

/* ---- the saved hash state ------------------------------------------------------ */

/* The .hash file, read back only by workers on the machine that wrote it
 * (the cache directory is that machine's), so in host byte order. Packed:
 * the checksum covers every byte, so there may be no padding of unknown
 * value, at the end included. Nothing in it is used before the checksum
 * and the fields' agreement with each other are checked. */
typedef struct __attribute__((packed)) state_file {
    char magic[8];                  /* STATE_MAGIC */
    uint64_t total;                 /* the shard's size */
    uint64_t nbytes;                /* lp_sha256_ctx's, of bytes [0, nbytes) */
    uint32_t h[8];
    uint32_t nbuf;
    uint8_t buf[64];
    uint8_t check[LP_SHA256_BYTES]; /* SHA-256 of all the above */
} state_file;
static_assert(sizeof(state_file) == 8 + 2 * sizeof(uint64_t) + 8 * sizeof(uint32_t) +
                                        sizeof(uint32_t) + 64 + LP_SHA256_BYTES,
              "the .hash file is its fields, nothing between them");
static_assert(sizeof(((state_file *)0)->h) == sizeof(((lp_sha256_ctx *)0)->h) &&
              sizeof(((state_file *)0)->buf) == sizeof(((lp_sha256_ctx *)0)->buf),
              "the .hash file holds a whole lp_sha256_ctx");
static const char STATE_MAGIC[8] = {'L', 'P', 'S', 'H', 'A', '2', '5', '6'};

static void state_encode(const lp_sha256_ctx *c, uint64_t total, state_file *f)
{
    *f = (state_file){.total = total, .nbytes = c->nbytes, .nbuf = (uint32_t)c->nbuf};
    memcpy(f->magic, STATE_MAGIC, sizeof f->magic);
    memcpy(f->h, c->h, sizeof f->h);
    memcpy(f->buf, c->buf, sizeof f->buf);
    lp_sha256(f, offsetof(state_file, check), f->check);
}

/* 0 and *c, *total if f is a whole, self-consistent state. */
static int state_decode(const state_file *f, lp_sha256_ctx *c, uint64_t *total)
{
    uint8_t check[LP_SHA256_BYTES];
    lp_sha256(f, offsetof(state_file, check), check);
    if (memcmp(f->magic, STATE_MAGIC, sizeof f->magic) != 0 ||
        memcmp(check, f->check, sizeof check) != 0)
        return -1;
    if (f->nbuf >= 64 || f->nbytes % 64 != f->nbuf || f->nbytes > f->total)
        return -1;
    *total = f->total;
    c->nbytes = f->nbytes;
    memcpy(c->h, f->h, sizeof c->h);
    c->nbuf = f->nbuf;
    memcpy(c->buf, f->buf, sizeof c->buf);
    return 0;
}

/* 0 with the saved state, 1 if there is none or it is damaged. */
static int state_load(const names *nm, lp_sha256_ctx *c, uint64_t *total)
{
    uint8_t raw[sizeof(state_file) + 1]; /* a longer file is damaged too */
    state_file f;
    int fd = open(nm->hash, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = lp_pread_full(fd, raw, sizeof raw, 0);
    close(fd);
    if (n != (ssize_t)sizeof f)
        return 1;
    memcpy(&f, raw, sizeof f);
    return state_decode(&f, c, total) == 0 ? 0 : 1;
}

/* Replace the state file atomically (we hold the directory lock, so the
 * temporary's fixed name is ours alone). */
static int state_save(const names *nm, const lp_sha256_ctx *c, uint64_t total, lp_err *err)
{
    state_file f;
    state_encode(c, total, &f);
    int fd = open(nm->hash_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return lp_err_set(err, "shard cache: cannot write '%s': %s", nm->hash_tmp,
                          strerror(errno));
    int e = lp_write_full(fd, &f, sizeof f) == 0 ? 0 : errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(nm->hash_tmp, nm->hash) != 0)
        e = errno;
    if (e) {
        unlink(nm->hash_tmp);
        return lp_err_set(err, "shard cache: cannot write '%s': %s", nm->hash, strerror(e));
    }
    return 0;
}

/* Hash the first n bytes of the .part into a fresh state. */
static int rehash(int fd, uint64_t n, lp_sha256_ctx *c, const char *path, lp_err *err)
{
    lp_err why;
    lp_sha256_init(c);
    if (lp_sha256_update_fd(c, fd, n, &why) != 0)
        return lp_err_set(err, "shard cache: reading '%s': %s", path, why.msg);
    return 0;
}

/* ---- one chunk ---------------------------------------------------------------- */

typedef struct part {
    int fd;
    uint64_t held;
    lp_sha256_ctx sha; /* of bytes [0, held) */
} part;

static void discard(const names *nm)
{
    unlink(nm->part);
    unlink(nm->hash);
}

/* Open the .part and bring it and its hash state into agreement. */
static int part_open(const names *nm, uint64_t total, part *p, lp_err *err)
{
    struct stat st;
    uint64_t saved_total = 0;
    p->fd = open(nm->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (p->fd < 0 || fstat(p->fd, &st) != 0)
        return lp_err_set(err, "shard cache: cannot open '%s': %s", nm->part, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    int have_state = state_load(nm, &p->sha, &saved_total) == 0;
    if ((have_state && saved_total != total) || size > total) {
        discard(nm);
        return lp_err_set(err, "shard cache: '%s' was started as a file of %llu bytes, "
                          "not %llu; removed it", nm->part,
                          (unsigned long long)(have_state ? saved_total : size),
                          (unsigned long long)total);
    }
    if (have_state && p->sha.nbytes <= size) {
        p->held = p->sha.nbytes;
        if (size > p->held && ftruncate(p->fd, (off_t)p->held) != 0)
            return lp_err_set(err, "shard cache: cannot cut back '%s': %s", nm->part,
                              strerror(errno));
        return 0;
    }
    /* No usable state: what the .part holds was verified chunk by chunk
     * when it was written; hash it once to go on from there. */
    p->held = size;
    if (rehash(p->fd, size, &p->sha, nm->part, err))
        return -1;
    return size ? state_save(nm, &p->sha, total, err) : 0;
}

/* All bytes are here: the hash must be the id; then the .part becomes the
 * shard, durably. */
static int finish(const names *nm, const char *dir, part *p, const uint8_t id[LP_SHA256_BYTES],
                  lp_err *err)
{
    uint8_t digest[LP_SHA256_BYTES];
    lp_sha256_ctx c = p->sha;
    lp_sha256_final(&c, digest);
    if (memcmp(digest, id, LP_SHA256_BYTES) != 0) {
        discard(nm);
        return lp_err_set(err, "shard cache: the %llu bytes received do not hash to the "
                          "shard id; removed '%s'", (unsigned long long)p->held, nm->part);
    }
    if (fdatasync(p->fd) != 0 || rename(nm->part, nm->done) != 0)
        return lp_err_set(err, "shard cache: cannot complete '%s': %s", nm->done,
                          strerror(errno));
    unlink(nm->hash);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename, durably; failing here loses nothing */
        close(dfd);
    }
    return 0;
}

static int check_chunk(uint64_t offset, uint64_t total, const void *data, size_t len,
                       const uint8_t *chunk_hash, lp_err *err)
{
    if (total == 0 || total > LP_CACHE_MAX_SHARD)
        return lp_err_set(err, "shard cache: shard size %llu is outside 1 .. %llu",
                          (unsigned long long)total, (unsigned long long)LP_CACHE_MAX_SHARD);
    if (len > LP_CACHE_MAX_CHUNK || (len && !data) || !chunk_hash)
        return lp_err_set(err, "shard cache: chunk of %zu bytes (at most %zu) or its hash "
                          "is missing", len, LP_CACHE_MAX_CHUNK);
    if (offset > total || len > total - offset)
        return lp_err_set(err, "shard cache: chunk [%llu, +%zu) lies past the shard's %llu "
                          "bytes", (unsigned long long)offset, len, (unsigned long long)total);
    return 0;
}

/* The body of lp_cache_put_chunk, under the directory lock. */
static int put_locked(const char *dir, const names *nm, const uint8_t id[LP_SHA256_BYTES],
                      uint64_t offset, uint64_t total, const uint8_t *data, size_t len,
                      const uint8_t chunk_hash[LP_SHA256_BYTES], bool last, uint64_t *have,
                      bool *complete, lp_err *err)
{
    struct stat st;
    if (stat(nm->done, &st) == 0 && S_ISREG(st.st_mode)) {
        *have = (uint64_t)st.st_size;
        *complete = true;
        return 0;
    }
    part p = {.fd = -1};
    int rc = part_open(nm, total, &p, err);
    if (rc == 0 && offset == p.held) {
        uint8_t h[LP_SHA256_BYTES];
        lp_sha256(data, len, h);
        if (memcmp(h, chunk_hash, LP_SHA256_BYTES) != 0)
            rc = lp_err_set(err, "shard cache: chunk at %llu (%zu bytes) does not match its "
                            "hash", (unsigned long long)offset, len);
        else if (last && offset + len != total)
            rc = lp_err_set(err, "shard cache: the last chunk ends at %llu, not at the "
                            "shard's size %llu", (unsigned long long)(offset + len),
                            (unsigned long long)total);
        int e = rc == 0 && len && lp_pwrite_full(p.fd, data, len, offset) != 0 ? errno : 0;
        if (e)
            rc = lp_err_set(err, "shard cache: writing '%s': %s", nm->part, strerror(e));
        if (rc == 0 && len) {
            lp_sha256_update(&p.sha, data, len);
            p.held += len;
            rc = state_save(nm, &p.sha, total, err);
        }
        if (rc == 0 && p.held == total && (rc = finish(nm, dir, &p, id, err)) == 0)
            *complete = true;
    }
    *have = p.held;
    if (p.fd >= 0)
        close(p.fd);
    return rc;
}

int lp_cache_put_chunk(const char *dir, const uint8_t id[LP_SHA256_BYTES], uint64_t offset,
                       uint64_t total_size, const void *data, size_t len,
                       const uint8_t chunk_hash[LP_SHA256_BYTES], bool last, uint64_t *have,
                       bool *complete, lp_err *err)
{
    *have = 0;
    *complete = false;
    names nm;
    if (check_chunk(offset, total_size, data, len, chunk_hash, err) ||
        make_names(&nm, dir, id, err))
        return -1;
    int lock = lock_dir(dir, err);
    if (lock < 0)
        return -1;
    int rc = put_locked(dir, &nm, id, offset, total_size, data, len, chunk_hash, last, have,
                        complete, err);
    unlock_dir(lock);
    return rc;
}

/* ---- quota ------------------------------------------------------------------- */

/* What a file of the cache counts: its size, or for a .part the size its
 * shard will have (the transfer's own state says), a promise of room. */
static uint64_t counted(const char *dir, const char *name, uint64_t size)
{
    uint8_t id[LP_SHA256_BYTES];
    names nm;
    lp_sha256_ctx sha;
    uint64_t total = 0;
    lp_err ignored = {0};
    if (strcmp(name + 2 * LP_SHA256_BYTES, ".part") == 0 &&
        lp_model_id_parse(name, 2 * LP_SHA256_BYTES, id) == 0 &&
        make_names(&nm, dir, id, &ignored) == 0 && state_load(&nm, &sha, &total) == 0 &&
        total > size)
        return total;
    return size;
}

/* Bytes of the files in dir this cache writes (hex id + .gguf or .part,
 * partial ones at their whole size), but id's own. */
static uint64_t bytes_besides(const char *dir, const uint8_t id[LP_SHA256_BYTES])
{
    char own[2 * LP_SHA256_BYTES + 1], path[PATH_CAP];
    lp_model_id_hex(id, own);
    uint64_t sum = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *s = e->d_name, *ext = s + 2 * LP_SHA256_BYTES;
        struct stat st;
        if (strlen(s) != 2 * LP_SHA256_BYTES + 5 || (strcmp(ext, ".gguf") && strcmp(ext, ".part")) ||
            strncmp(s, own, 2 * LP_SHA256_BYTES) == 0 ||
            snprintf(path, sizeof path, "%s/%s", dir, s) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        sum += counted(dir, s, (uint64_t)st.st_size);
    }
    if (d)
        closedir(d);
    return sum;
}

int lp_cache_room(const char *dir, const uint8_t id[LP_SHA256_BYTES], uint64_t total_size,
                  uint64_t quota, lp_err *err)
{
    const uint64_t used = bytes_besides(dir, id);
    if (total_size <= quota && used <= quota - total_size)
        return 0;
    return lp_err_set(err, "shard cache: a shard of %llu bytes does not fit this worker's "
                      "cache quota of %llu bytes (%llu held by other shards; --cache-max)",
                      (unsigned long long)total_size, (unsigned long long)quota,
                      (unsigned long long)used);
}

/* ---- listing ------------------------------------------------------------------ */

int lp_cache_list(const char *dir, uint8_t (*ids)[LP_SHA256_BYTES], int max, lp_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return lp_err_set(err, "shard cache: cannot read '%s': %s", dir, strerror(errno));
    int n = 0;
    for (struct dirent *e; n < max && (e = readdir(d));) {
        const char *s = e->d_name;
        char hex[2 * LP_SHA256_BYTES + 1];
        /* Only names this cache writes: lower-case hex of the id. */
        if (strlen(s) != 2 * LP_SHA256_BYTES + 5 || strcmp(s + 2 * LP_SHA256_BYTES, ".gguf") ||
            lp_model_id_parse(s, 2 * LP_SHA256_BYTES, ids[n]) != 0)
            continue;
        lp_model_id_hex(ids[n], hex);
        n += memcmp(hex, s, 2 * LP_SHA256_BYTES) == 0;
    }
    closedir(d);
    return n;
}
