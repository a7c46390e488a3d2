/* SHA-256 against the FIPS 180-2 / NIST CAVS example vectors, fed whole and
 * in pieces of every awkward size, a long message in odd pieces, and
 * real files whose digests coreutils' sha256sum gave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "support.h"

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void assert_digest(const uint8_t d[32], const char *want)
{
    char got[65];
    hex(d, got);
    assert_string_equal(got, want);
}

typedef struct vec {
    const char *msg;
    const char *digest;
} vec;

static const vec VECTORS[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

static void test_fips_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        uint8_t d[32];
        lp_sha256(VECTORS[i].msg, strlen(VECTORS[i].msg), d);
        assert_digest(d, VECTORS[i].digest);
        /* Byte by byte, and with empty updates in between. */
        lp_sha256_ctx s;
        lp_sha256_init(&s);
        for (const char *p = VECTORS[i].msg; *p; p++) {
            lp_sha256_update(&s, p, 1);
            lp_sha256_update(&s, NULL, 0);
        }
        lp_sha256_final(&s, d);
        assert_digest(d, VECTORS[i].digest);
    }
}

/* Messages of length 0..200 (every padding case around 55/56/64 bytes)
 * give the same digest whole and split at every point. */
static void test_every_split_point(void **state)
{
    (void)state;
    uint8_t msg[200];
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t whole[32];
        lp_sha256(msg, len, whole);
        for (size_t cut = 0; cut <= len; cut += 7) {
            uint8_t d[32];
            lp_sha256_ctx s;
            lp_sha256_init(&s);
            lp_sha256_update(&s, msg, cut);
            lp_sha256_update(&s, msg + cut, len - cut);
            lp_sha256_final(&s, d);
            assert_memory_equal(d, whole, 32);
        }
    }
    /* Lengths straddling a block boundary give distinct digests. */
    uint8_t d55[32], d56[32];
    lp_sha256(msg, 55, d55);
    lp_sha256(msg, 56, d56);
    assert_memory_not_equal(d55, d56, 32);
}

static void test_million_a(void **state)
{
    (void)state;
    enum { N = 1000000 };
    char *a = malloc(N);
    assert_non_null(a);
    memset(a, 'a', N);
    uint8_t d[32];
    lp_sha256(a, N, d);
    assert_digest(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* In pieces of 1, 3, 63, 65, 1000, ... bytes in turn. */
    static const size_t pieces[] = {1, 3, 63, 65, 1000, 7, 4096, 129};
    lp_sha256_ctx s;
    lp_sha256_init(&s);
    for (size_t off = 0, k = 0; off < N; k++) {
        size_t n = pieces[k % 8] < N - off ? pieces[k % 8] : N - off;
        lp_sha256_update(&s, a + off, n);
        off += n;
    }
    lp_sha256_final(&s, d);
    assert_digest(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* NIST's "extremely long message" is 2^24 repetitions of a 64-byte
 * pattern (1 GiB; digest 50e72a0e...). We hash 2^20 of them (64 MiB, to
 * keep the sanitizer run short; digest from Python's hashlib), fed in
 * pieces of odd sizes so that blocks straddle every call. Also prints the
 * rate (a figure, not a check). */
static void test_long_message(void **state)
{
    (void)state;
    static const char pat[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno";
    enum { REP = 1 << 14, BUF = 64 * REP };
    char *buf = malloc(BUF);
    assert_non_null(buf);
    for (int i = 0; i < REP; i++)
        memcpy(buf + 64 * i, pat, 64);
    const uint64_t total = (uint64_t)64 << 20;
    lp_sha256_ctx s;
    lp_sha256_init(&s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t piece = 1000003; /* odd, so the pattern phase drifts */
    for (uint64_t off = 0; off < total;) {
        size_t phase = (size_t)(off % 64), n = piece;
        if (n > total - off)
            n = (size_t)(total - off);
        if (n > BUF - phase)
            n = BUF - phase;
        lp_sha256_update(&s, buf + phase, n);
        off += n;
        piece = piece == 1000003 ? 61 : piece == 61 ? 777777 : 1000003;
    }
    uint8_t d[32];
    lp_sha256_final(&s, d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_digest(d, "8716fbf9a5f8c4562b48528e2d3085b64c56b5d1169ccf3295ad03e805580676");
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    print_message("[ sha256 ] 64 MiB in %.2f s: %.0f MB/s\n", sec, (double)total / sec / 1e6);
    free(buf);
}

/* Real files; digests from `sha256sum`. */
static void test_files(void **state)
{
    (void)state;
    static const vec FILES[] = {
        {"models/stories260K.gguf",
         "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"},
        {"models/synth-llama-Q4_K_M.gguf",
         "73e568c421951d61aecbe12a3c13daaad8b356f8b7c46c3cd8af9fb0d11c2e29"},
    };
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        lp_test_shared(path, sizeof path, FILES[i].msg);
        uint8_t d[32];
        uint64_t size = 0;
        lp_err err = {0};
        if (lp_sha256_file(path, d, &size, &err) != 0)
            fail_msg("%s", err.msg);
        assert_digest(d, FILES[i].digest);
        assert_true(size > 0);
        /* lp_sha256_fd of a prefix equals the one-shot digest of it. */
        size_t len = 0;
        uint8_t *all = lp_test_read_file(path, &len);
        assert_non_null(all);
        assert_int_equal(len, size);
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        uint8_t want[32];
        lp_sha256(all, 12345, want);
        assert_int_equal(lp_sha256_fd(fd, 12345, d, &err), 0);
        assert_memory_equal(d, want, 32);
        /* Asking for more than the file holds is an error, not a short digest. */
        assert_int_equal(lp_sha256_fd(fd, size + 1, d, &err), -1);
        assert_non_null(strstr(err.msg, "shorter"));
        close(fd);
        free(all);
    }
    lp_err err = {0};
    uint8_t d[32];
    assert_int_equal(lp_sha256_file("/nonexistent/x.gguf", d, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/x.gguf"));
    assert_int_equal(lp_sha256_file("/tmp", d, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
