/* The worker's shard cache (shard_cache.h), with a real model file as the
 * shard: chunks arrive whole; a transfer killed halfway (a child process
 * SIGKILLed) resumes from what the directory holds; a .part longer than
 * its hash state, or without one, is repaired; a corrupted chunk is
 * refused; a wrong final hash removes the .part; chunks at the wrong
 * offset say where to resume; hostile sizes are refused; two processes
 * filling one shard in one directory do not corrupt it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model_id.h"
#include "sha256.h"
#include "shard_cache.h"
#include "support.h"

enum { CHUNK = 300001 }; /* odd, so chunks straddle hash blocks */

typedef struct shard {
    uint8_t *bytes;
    size_t size;
    uint8_t id[32];
    char dir[4096];
} shard;

static shard *load_shard(const char *model)
{
    shard *s = calloc(1, sizeof *s);
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", model);
    s->bytes = lp_test_read_file(lp_test_shared(path, sizeof path, rel), &s->size);
    assert_non_null(s->bytes);
    lp_sha256(s->bytes, s->size, s->id);
    assert_non_null(lp_test_tmpdir(s->dir, sizeof s->dir));
    lp_err err = {0};
    assert_int_equal(lp_cache_open(s->dir, &err), 0);
    return s;
}

static void free_shard(shard *s)
{
    lp_test_rmtree(s->dir);
    free(s->bytes);
    free(s);
}

/* Send the chunk at off (CHUNK bytes or the rest); returns put_chunk's rc. */
static int send_at(const shard *s, uint64_t off, uint64_t *have, bool *complete, lp_err *err)
{
    size_t len = s->size - off < CHUNK ? s->size - off : CHUNK;
    uint8_t h[32];
    lp_sha256(s->bytes + off, len, h);
    return lp_cache_put_chunk(s->dir, s->id, off, s->size, s->bytes + off, len, h,
                              off + len == s->size, have, complete, err);
}

static char *file_in(const shard *s, const char *suffix, char *buf, size_t cap)
{
    char hex[65];
    lp_model_id_hex(s->id, hex);
    snprintf(buf, cap, "%s/%s%s", s->dir, hex, suffix);
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/* The complete file is the shard, and nothing else is left in the dir. */
static void assert_complete(const shard *s)
{
    char path[4300];
    lp_err err = {0};
    assert_int_equal(lp_cache_path(s->dir, s->id, path, sizeof path, &err), 0);
    size_t len = 0;
    uint8_t *got = lp_test_read_file(path, &len);
    assert_non_null(got);
    assert_int_equal(len, s->size);
    assert_memory_equal(got, s->bytes, s->size);
    free(got);
    char p[4300];
    assert_false(exists(file_in(s, ".part", p, sizeof p)));
    assert_false(exists(file_in(s, ".hash", p, sizeof p)));
    uint8_t ids[4][32];
    assert_int_equal(lp_cache_list(s->dir, ids, 4, &err), 1);
    assert_memory_equal(ids[0], s->id, 32);
}

/* Send from wherever the cache stands until complete. */
static void send_rest(const shard *s)
{
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    /* Offset 0 of a partial file is the wrong offset: the ack says where. */
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    while (!complete) {
        if (send_at(s, have, &have, &complete, &err) != 0)
            fail_msg("%s", err.msg);
    }
    assert_int_equal(have, s->size);
}

static void test_whole_transfer(void **state)
{
    (void)state;
    shard *s = load_shard("synth-llama-Q4_K_M");
    char path[4300];
    lp_err err = {0};
    assert_int_equal(lp_cache_path(s->dir, s->id, path, sizeof path, &err), 1);
    uint64_t have = 0;
    bool complete = false;
    int chunks = 0;
    for (uint64_t off = 0; off < s->size; off += CHUNK, chunks++) {
        assert_int_equal(send_at(s, off, &have, &complete, &err), 0);
        uint64_t want = off + CHUNK < s->size ? off + CHUNK : s->size;
        assert_int_equal(have, want);
        assert_int_equal(complete, want == s->size);
    }
    assert_true(chunks > 3);
    assert_complete(s);
    /* Any chunk of a complete shard: nothing written, complete. */
    assert_int_equal(send_at(s, CHUNK, &have, &complete, &err), 0);
    assert_true(complete);
    assert_int_equal(have, s->size);
    free_shard(s);
}

/* A child process receives half the chunks and is SIGKILLed; this
 * process, knowing nothing, resumes from what the directory says. */
static void test_killed_halfway_resumes(void **state)
{
    (void)state;
    shard *s = load_shard("synth-llama-Q4_K_M");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t have;
        bool complete;
        for (uint64_t off = 0; off < s->size / 2; off += CHUNK)
            if (send_at(s, off, &have, &complete, NULL) != 0)
                _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char p[4300];
    uint64_t held = file_size(file_in(s, ".part", p, sizeof p));
    assert_true(held > 0 && held < s->size && held % CHUNK == 0);
    uint64_t have = 0;
    bool complete = true;
    lp_err err = {0};
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    assert_int_equal(have, held);
    assert_false(complete);
    send_rest(s);
    assert_complete(s);
    free_shard(s);
}

/* Died between writing a chunk and saving the hash state: the .part holds
 * more than the state covers (and here the extra bytes are wrong). Then:
 * the state is lost altogether. Both resume and verify. */
static void test_part_and_state_disagree(void **state)
{
    (void)state;
    shard *s = load_shard("synth-qwen2-Q8_0");
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    for (uint64_t off = 0; off < 3 * CHUNK; off += CHUNK)
        assert_int_equal(send_at(s, off, &have, &complete, &err), 0);
    char part[4300], hash[4300];
    file_in(s, ".part", part, sizeof part);
    file_in(s, ".hash", hash, sizeof hash);
    FILE *f = fopen(part, "ab");
    assert_non_null(f);
    fwrite("garbage", 1, 7, f);
    fclose(f);
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    assert_int_equal(have, 3 * CHUNK);
    assert_int_equal(file_size(part), 3 * CHUNK);
    /* One more chunk, then the state goes missing; then it is damaged. */
    assert_int_equal(send_at(s, have, &have, &complete, &err), 0);
    assert_int_equal(unlink(hash), 0);
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    assert_int_equal(have, 4 * CHUNK);
    assert_true(exists(hash));
    f = fopen(hash, "r+b");
    assert_non_null(f);
    fputc('X', f);
    fclose(f);
    send_rest(s);
    assert_complete(s);
    free_shard(s);
}

/* Every byte arrived but the worker died before verifying: a 0-byte chunk
 * at the end completes it. */
static void test_empty_last_chunk_completes(void **state)
{
    (void)state;
    shard *s = load_shard("stories260K");
    char part[4300];
    FILE *f = fopen(file_in(s, ".part", part, sizeof part), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s->bytes, 1, s->size, f), s->size);
    fclose(f);
    uint8_t h[32];
    lp_sha256(NULL, 0, h);
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    assert_int_equal(lp_cache_put_chunk(s->dir, s->id, s->size, s->size, NULL, 0, h, true,
                                        &have, &complete, &err),
                     0);
    assert_true(complete);
    assert_complete(s);
    free_shard(s);
}

static void test_corrupt_chunk_refused(void **state)
{
    (void)state;
    shard *s = load_shard("stories260K");
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    uint8_t h[32];
    lp_sha256(s->bytes + CHUNK, CHUNK, h);
    uint8_t *bad = malloc(CHUNK);
    memcpy(bad, s->bytes + CHUNK, CHUNK);
    bad[CHUNK / 2] ^= 0x10;
    assert_int_equal(lp_cache_put_chunk(s->dir, s->id, CHUNK, s->size, bad, CHUNK, h, false,
                                        &have, &complete, &err),
                     -1);
    assert_non_null(strstr(err.msg, "does not match its hash"));
    assert_int_equal(have, CHUNK); /* nothing written */
    char part[4300];
    assert_int_equal(file_size(file_in(s, ".part", part, sizeof part)), CHUNK);
    free(bad);
    send_rest(s);
    assert_complete(s);
    free_shard(s);
}

/* Chunks whose hashes match but whose whole is not the id (the sender's
 * id is wrong): the .part and its state are removed. */
static void test_wrong_id_removes_part(void **state)
{
    (void)state;
    shard *s = load_shard("stories260K");
    s->id[5] ^= 1;
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < s->size; off += CHUNK)
        rc = send_at(s, off, &have, &complete, &err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "do not hash to the shard id"));
    assert_false(complete);
    char p[4300];
    assert_false(exists(file_in(s, ".part", p, sizeof p)));
    assert_false(exists(file_in(s, ".hash", p, sizeof p)));
    assert_int_equal(lp_cache_path(s->dir, s->id, p, sizeof p, &err), 1);
    uint8_t ids[2][32];
    assert_int_equal(lp_cache_list(s->dir, ids, 2, &err), 0);
    free_shard(s);
}

static void test_out_of_order_says_where(void **state)
{
    (void)state;
    shard *s = load_shard("stories260K");
    uint64_t have = 99;
    bool complete = true;
    lp_err err = {0};
    char part[4300];
    file_in(s, ".part", part, sizeof part);
    /* Ahead of what is held: nothing written, have = 0. */
    assert_int_equal(send_at(s, 2 * CHUNK, &have, &complete, &err), 0);
    assert_int_equal(have, 0);
    assert_false(complete);
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    assert_int_equal(send_at(s, CHUNK, &have, &complete, &err), 0);
    assert_int_equal(have, 2 * CHUNK);
    /* A repeat of an earlier chunk (its ack was lost): have, unchanged. */
    assert_int_equal(send_at(s, CHUNK, &have, &complete, &err), 0);
    assert_int_equal(have, 2 * CHUNK);
    assert_int_equal(file_size(part), 2 * CHUNK);
    send_rest(s);
    assert_complete(s);
    free_shard(s);
}

static void expect_error(const shard *s, uint64_t off, uint64_t total, const void *data,
                         size_t len, bool last, const char *part_of_msg)
{
    uint8_t h[32] = {0};
    if (data)
        lp_sha256(data, len, h);
    uint64_t have;
    bool complete;
    lp_err err = {0};
    if (lp_cache_put_chunk(s->dir, s->id, off, total, data, len, h, last, &have, &complete,
                           &err) != -1)
        fail_msg("chunk at %llu of %llu (%zu bytes) accepted", (unsigned long long)off,
                 (unsigned long long)total, len);
    if (!strstr(err.msg, part_of_msg))
        fail_msg("'%s' does not say '%s'", err.msg, part_of_msg);
}

static void test_hostile_values(void **state)
{
    (void)state;
    shard *s = load_shard("stories260K");
    const uint8_t *b = s->bytes;
    expect_error(s, 0, 0, b, 10, false, "outside");
    expect_error(s, 0, LP_CACHE_MAX_SHARD + 1, b, 10, false, "outside");
    expect_error(s, 0, s->size, NULL, 10, false, "missing");
    expect_error(s, s->size - 5, s->size, b, 10, false, "past");
    expect_error(s, UINT64_MAX - 3, s->size, b, 10, false, "past");
    expect_error(s, UINT64_MAX - 3, UINT64_MAX, b, 10, false, "outside");
    expect_error(s, 0, s->size, b, 10, true, "last chunk ends at 10");
    uint8_t *big = calloc(1, LP_CACHE_MAX_CHUNK + 1);
    expect_error(s, 0, (uint64_t)1 << 30, big, LP_CACHE_MAX_CHUNK + 1, false, "at most");
    free(big);
    uint64_t have;
    bool complete;
    lp_err err = {0};
    assert_int_equal(send_at(s, 0, &have, &complete, &err), 0);
    /* Another size for the same id than the .part was begun with. */
    expect_error(s, CHUNK, s->size + 1, b + CHUNK, 10, false, "removed");
    char p[4300];
    assert_false(exists(file_in(s, ".part", p, sizeof p)));
    /* Names in the directory that are not ours are not listed. */
    static const char *const junk[] = {
        "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789.gguf",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.part",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg.gguf",
        "model.gguf"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", s->dir, junk[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
    }
    uint8_t ids[4][32];
    assert_int_equal(lp_cache_list(s->dir, ids, 4, &err), 0);
    /* Directories that cannot be caches. */
    snprintf(p, sizeof p, "%s/model.gguf", s->dir);
    assert_int_equal(lp_cache_open(p, &err), -1);
    assert_non_null(strstr(err.msg, "not a directory"));
    snprintf(p, sizeof p, "%s/no/such", s->dir);
    assert_int_equal(lp_cache_open(p, &err), -1);
    assert_non_null(strstr(err.msg, "cannot create"));
    assert_int_equal(lp_cache_open("/proc", &err), -1);
    free_shard(s);
}

/* Two processes share a cache directory and fill the same shard at once,
 * each sending at the offset its last ack gave: one file, intact. */
static void test_two_writers(void **state)
{
    (void)state;
    shard *s = load_shard("synth-llama-Q4_K_M");
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            uint64_t have = 0;
            bool complete = false;
            while (!complete)
                if (send_at(s, have, &have, &complete, NULL) != 0)
                    _exit(1);
            _exit(have == s->size ? 0 : 3);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_complete(s);
    free_shard(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_transfer),
        cmocka_unit_test(test_killed_halfway_resumes),
        cmocka_unit_test(test_part_and_state_disagree),
        cmocka_unit_test(test_empty_last_chunk_completes),
        cmocka_unit_test(test_corrupt_chunk_refused),
        cmocka_unit_test(test_wrong_id_removes_part),
        cmocka_unit_test(test_out_of_order_says_where),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_two_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
