/* io.h — whole transfers on file descriptors.
 *
 * read(2), write(2) and their p-variants may move fewer bytes than asked
 * (a signal, a pipe, a file system of its own mind) and fail with EINTR;
 * these go on until all is moved, the file ends or a real error comes.
 * Errors are -1 with errno set, as the calls they wrap report them.
 * Nothing here keeps state; only lp_read_all allocates, and what it
 * returns is the caller's. */
#ifndef LP_IO_H
#define LP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads n bytes at off (the fd's position is untouched). Returns the bytes
 * read: n, or fewer only where the file ends; -1 with errno on an error. */
ssize_t lp_pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Writes all n bytes at off, or at and past the fd's position. 0, or -1
 * with errno (EIO where the system wrote nothing and said no more). */
int lp_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);
int lp_write_full(int fd, const void *buf, size_t n);

/* Everything left to read on fd (a file, a pipe), NUL-terminated, in a
 * malloc'd buffer the caller frees; *len (the NUL not counted) may be
 * NULL. NULL with errno: the read's error, ENOMEM, or EFBIG when there is
 * more than max bytes. */
char *lp_read_all(int fd, size_t max, size_t *len);

#endif
