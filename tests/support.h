/* support.h — helpers shared by the tests (linked into every test).
 * Include after the cmocka prerequisites. */
#ifndef LP_TEST_SUPPORT_H
#define LP_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Path of a file under the shared test data (env LP_SHARED, else
 * ../shared). Writes into buf and returns it. */
char *lp_test_shared(char *buf, size_t cap, const char *rel);

/* Absolute path of a program in the build dir (env LP_BIN, else ./build). */
char *lp_test_bin(char *buf, size_t cap, const char *prog);

/* Read a whole file; caller frees. NULL on error. *len gets the size. */
void *lp_test_read_file(const char *path, size_t *len);
/* Does the file at path (a log) hold needle? */
bool lp_test_file_has(const char *path, const char *needle);

/* A fresh empty directory under $TMPDIR for this test; caller removes it
 * with lp_test_rmtree. */
char *lp_test_tmpdir(char *buf, size_t cap);
void lp_test_rmtree(const char *dir);

/* Run a shell command, capture up to cap-1 bytes of its stdout (NUL
 * terminated); returns its exit status, 128+signal if killed. */
int lp_test_run(const char *cmd, char *out, size_t cap);

#endif
