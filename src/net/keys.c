/* keys.c — CURVE key pairs and their files (keys.h). */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

bool lp_key_valid(const char *z85)
{
    uint8_t bin[32];
    return z85 && strlen(z85) == LP_KEY_Z85 && zmq_z85_decode(bin, z85) != NULL;
}

int lp_keypair_generate(lp_keypair *kp, lp_err *err)
{
    if (!zmq_has("curve") || zmq_curve_keypair(kp->pub, kp->sec) != 0)
        return lp_err_set(err, "keys: this libzmq has no CURVE (built without libsodium?)");
    return 0;
}

void lp_keypair_format(const lp_keypair *kp, char *text, size_t cap)
{
    snprintf(text, cap,
             "# layerpool key pair: the secret half lets its holder act as this machine.\n"
             "public = %s\nsecret = %s\n", kp->pub, kp->sec);
}

/* Create path exclusively with mode and write text; on failure remove it. */
static int write_new(const char *path, int mode, const char *text, lp_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return lp_err_set(err, "keys: cannot create '%s': %s", path,
                          errno == EEXIST ? "it exists (keys are never overwritten)"
                                          : strerror(errno));
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(path);
        return lp_err_set(err, "keys: cannot write '%s'", path);
    }
    return 0;
}

int lp_keypair_write(const lp_keypair *kp, const char *base, lp_err *err)
{
    char key[4096], pub[4096], text[256];
    if (snprintf(key, sizeof key, "%s.key", base) >= (int)sizeof key ||
        snprintf(pub, sizeof pub, "%s.pub", base) >= (int)sizeof pub)
        return lp_err_set(err, "keys: path '%s' is too long", base);
    lp_keypair_format(kp, text, sizeof text);
    if (write_new(key, 0600, text, err) != 0)
        return -1;
    snprintf(text, sizeof text, "public = %s\n", kp->pub);
    if (write_new(pub, 0644, text, err) != 0) {
        unlink(key);
        return -1;
    }
    return 0;
}

int lp_keygen_run(const char *prog, const char *base)
{
    lp_keypair kp;
    lp_err err = {0};
    if (lp_keypair_generate(&kp, &err) != 0 || lp_keypair_write(&kp, base, &err) != 0) {
        fprintf(stderr, "%s keygen: %s\n", prog, err.msg);
        return 1;
    }
    printf("%s.key written (keep it private); public key, also in %s.pub:\n%s\n", base, base,
           kp.pub);
    return 0;
}

/* The value of "name = VALUE" in text (40 characters), into out; 1 if absent. */
static int field(const char *text, const char *name, char out[LP_KEY_Z85 + 1])
{
    char fmt[32];
    snprintf(fmt, sizeof fmt, " %s = %%40s", name);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line)
        if (sscanf(line, fmt, out) == 1)
            return 0;
    return 1;
}

/* Up to cap-1 bytes of f as a string (reads once: f may be a pipe). */
static void slurp(FILE *f, char *buf, size_t cap)
{
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
}

int lp_keypair_read(const char *path, lp_keypair *kp, lp_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return lp_err_set(err, "keys: cannot read '%s': %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    char text[1024], derived[LP_KEY_Z85 + 1];
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077))
        rc = lp_err_set(err, "keys: '%s' may be read by others (mode %03o): chmod 600 it",
                        path, (unsigned)(st.st_mode & 0777));
    if (rc == 0)
        slurp(f, text, sizeof text);
    fclose(f);
    if (rc == 0 && (field(text, "public", kp->pub) || field(text, "secret", kp->sec)))
        rc = lp_err_set(err, "keys: '%s' lacks a 'public = ' or 'secret = ' line", path);
    else if (rc == 0 && (!lp_key_valid(kp->pub) || !lp_key_valid(kp->sec)))
        rc = lp_err_set(err, "keys: '%s' holds a key that is not 40 Z85 characters", path);
    else if (rc == 0 && (zmq_curve_public(derived, kp->sec) != 0 || strcmp(derived, kp->pub)))
        rc = lp_err_set(err, "keys: in '%s' the public key is not the secret key's", path);
    explicit_bzero(text, sizeof text); /* the secret half: not left on the stack */
    if (rc != 0)
        memset(kp, 0, sizeof *kp);
    return rc;
}

int lp_key_public(const char *text_or_path, char out[LP_KEY_Z85 + 1], lp_err *err)
{
    if (lp_key_valid(text_or_path)) {
        memcpy(out, text_or_path, LP_KEY_Z85 + 1);
        return 0;
    }
    FILE *f = fopen(text_or_path, "r");
    if (!f)
        return lp_err_set(err, "keys: '%s' is neither a public key (40 Z85 characters) nor a "
                          "file: %s", text_or_path, strerror(errno));
    char text[1024];
    slurp(f, text, sizeof text);
    fclose(f);
    int missing = field(text, "public", out);
    if (missing || !lp_key_valid(out))
        return lp_err_set(err, "keys: '%s' has no valid 'public = ' line", text_or_path);
    return 0;
}
