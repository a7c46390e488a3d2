#include "io.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "vec.h"

ssize_t lp_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* at: pwrite at off + what is written so far; else write. */
static int write_loop(int fd, const void *buf, size_t n, bool at, uint64_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t k = at ? pwrite(fd, p, n, (off_t)off) : write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int lp_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    return write_loop(fd, buf, n, true, off);
}

int lp_write_full(int fd, const void *buf, size_t n)
{
    return write_loop(fd, buf, n, false, 0);
}

/* Frees buf, keeping errno for the caller. */
static char *fail(char *buf, int e)
{
    free(buf);
    errno = e;
    return NULL;
}

char *lp_read_all(int fd, size_t max, size_t *len)
{
    enum { STEP = 1 << 16 };
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        /* Room for a read of STEP and the NUL. */
        char *b = lp_vec_reserve(buf, &cap, n, (size_t)STEP + 1, 1);
        if (!b)
            return fail(buf, ENOMEM);
        buf = b;
        ssize_t k = read(fd, buf + n, cap - n - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return fail(buf, errno);
        if (k == 0)
            break;
        if ((size_t)k > max - n)
            return fail(buf, EFBIG);
        n += (size_t)k;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}
