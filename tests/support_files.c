#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *lp_test_shared(char *buf, size_t cap, const char *rel)
{
    const char *root = getenv("LP_SHARED");
    snprintf(buf, cap, "%s/%s", root && *root ? root : "../shared", rel);
    return buf;
}

char *lp_test_bin(char *buf, size_t cap, const char *prog)
{
    const char *root = getenv("LP_BIN");
    char cwd[2048];
    if (root && *root == '/')
        snprintf(buf, cap, "%s/%s", root, prog);
    else
        snprintf(buf, cap, "%s/%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".",
                 root && *root ? root : "build", prog);
    return buf;
}

void *lp_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)n + 1);
            if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
                buf[n] = 0;
                *len = (size_t)n;
            } else {
                free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    return buf;
}

char *lp_test_tmpdir(char *buf, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/lptest.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(buf);
}

void lp_test_rmtree(const char *dir)
{
    char cmd[4200];
    /* Only ever our own mkdtemp directories. */
    if (strstr(dir, "/lptest.") == NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

bool lp_test_file_has(const char *path, const char *needle)
{
    size_t n;
    char *text = lp_test_read_file(path, &n);
    bool has = text && strstr(text, needle);
    free(text);
    return has;
}
