/* sha256.c — SHA-256 as FIPS 180-4 defines it: 64-byte blocks, a 64-word
 * message schedule, 64 rounds; the message padded with 0x80, zeros and
 * its bit length (big-endian) to a whole block. */
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#define S0(x) (ror(x, 2) ^ ror(x, 13) ^ ror(x, 22))
#define S1(x) (ror(x, 6) ^ ror(x, 11) ^ ror(x, 25))
#define s0(x) (ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define s1(x) (ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))

/* One round with the working variables named in rotated order, so eight
 * consecutive rounds need no moves between them. */
#define ROUND(a, b, c, d, e, f, g, h, i)                          \
    do {                                                          \
        uint32_t t1 = h + S1(e) + CH(e, f, g) + K[i] + w[i];      \
        uint32_t t2 = S0(a) + MAJ(a, b, c);                       \
        d += t1;                                                  \
        h = t1 + t2;                                              \
    } while (0)

static void compress(uint32_t st[8], const uint8_t *blk)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = load_be32(blk + 4 * i);
    for (int i = 16; i < 64; i++)
        w[i] = s1(w[i - 2]) + w[i - 7] + s0(w[i - 15]) + w[i - 16];
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
             h = st[7];
    for (int i = 0; i < 64; i += 8) {
        ROUND(a, b, c, d, e, f, g, h, i + 0);
        ROUND(h, a, b, c, d, e, f, g, i + 1);
        ROUND(g, h, a, b, c, d, e, f, i + 2);
        ROUND(f, g, h, a, b, c, d, e, i + 3);
        ROUND(e, f, g, h, a, b, c, d, i + 4);
        ROUND(d, e, f, g, h, a, b, c, i + 5);
        ROUND(c, d, e, f, g, h, a, b, i + 6);
        ROUND(b, c, d, e, f, g, h, a, i + 7);
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

void lp_sha256_init(lp_sha256_ctx *s)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->nbytes = 0;
    s->nbuf = 0;
}

void lp_sha256_update(lp_sha256_ctx *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0)
        return; /* data may be NULL then */
    s->nbytes += len;
    if (s->nbuf) {
        size_t n = 64 - s->nbuf < len ? 64 - s->nbuf : len;
        memcpy(s->buf + s->nbuf, p, n);
        s->nbuf += n;
        p += n;
        len -= n;
        if (s->nbuf < 64)
            return;
        compress(s->h, s->buf);
        s->nbuf = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        compress(s->h, p);
    if (len) {
        memcpy(s->buf, p, len);
        s->nbuf = len;
    }
}

void lp_sha256_final(lp_sha256_ctx *s, uint8_t out[LP_SHA256_BYTES])
{
    const uint64_t bits = s->nbytes * 8; /* the standard's length is mod 2^64 */
    s->buf[s->nbuf++] = 0x80;
    if (s->nbuf > 56) {
        memset(s->buf + s->nbuf, 0, 64 - s->nbuf);
        compress(s->h, s->buf);
        s->nbuf = 0;
    }
    memset(s->buf + s->nbuf, 0, 56 - s->nbuf);
    store_be32(s->buf + 56, (uint32_t)(bits >> 32));
    store_be32(s->buf + 60, (uint32_t)bits);
    compress(s->h, s->buf);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, s->h[i]);
    memset(s, 0, sizeof *s);
}

void lp_sha256(const void *data, size_t len, uint8_t out[LP_SHA256_BYTES])
{
    lp_sha256_ctx s;
    lp_sha256_init(&s);
    lp_sha256_update(&s, data, len);
    lp_sha256_final(&s, out);
}

int lp_sha256_update_fd(lp_sha256_ctx *s, int fd, uint64_t len, lp_err *err)
{
    enum { BUF = 1 << 20 };
    uint8_t *buf = malloc(BUF);
    if (!buf)
        return lp_err_set(err, "sha256: out of memory");
    int rc = 0;
    for (uint64_t off = 0; off < len;) {
        size_t want = len - off < BUF ? (size_t)(len - off) : BUF;
        ssize_t n = lp_pread_full(fd, buf, want, off);
        if (n != (ssize_t)want) {
            rc = lp_err_set(err, "sha256: reading at byte %llu: %s",
                            (unsigned long long)off + (n > 0 ? (uint64_t)n : 0),
                            n < 0 ? strerror(errno) : "the file is shorter than expected");
            break;
        }
        lp_sha256_update(s, buf, want);
        off += want;
    }
    free(buf);
    return rc;
}

int lp_sha256_fd(int fd, uint64_t len, uint8_t out[LP_SHA256_BYTES], lp_err *err)
{
    lp_sha256_ctx s;
    lp_sha256_init(&s);
    if (lp_sha256_update_fd(&s, fd, len, err))
        return -1;
    lp_sha256_final(&s, out);
    return 0;
}

int lp_sha256_file(const char *path, uint8_t out[LP_SHA256_BYTES], uint64_t *size,
                   lp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lp_err_set(err, "sha256: cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : lp_err_set(err, "sha256: '%s': %s", path, strerror(errno));
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = lp_err_set(err, "sha256: '%s' is not a regular file", path);
    if (rc == 0 && (rc = lp_sha256_fd(fd, (uint64_t)st.st_size, out, err)) == 0 && size)
        *size = (uint64_t)st.st_size;
    close(fd);
    return rc;
}
