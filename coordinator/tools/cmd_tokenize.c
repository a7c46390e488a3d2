/* coord tokenize — a prompt's token ids, as llama.cpp's tokenizer gives
 * them, from a model's (or a vocab-only) GGUF. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "gguf.h"
#include "io.h"
#include "tokenizer.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord tokenize -m MODEL [--no-bos] [--special] [--pieces] (-p TEXT | -f FILE)\n"
            "  -m MODEL    a GGUF file with a tokenizer (a vocab-only file will do)\n"
            "  -p TEXT     the text to tokenize\n"
            "  -f FILE     read the text from FILE (all of it, bytes as they are)\n"
            "  --no-bos    add no BOS/EOS, even where the model asks for them\n"
            "  --special   read special-token text such as <|eot_id|> as that token\n"
            "  --pieces    also print each token's text, one per line: ID -> 'PIECE'\n"
            "Prints the ids on one line, separated by spaces. The text must be\n"
            "valid UTF-8 (llama.cpp would take invalid bytes as byte tokens or\n"
            "U+FFFD; here that is an error so that a broken prompt is noticed).\n");
}

typedef struct opts {
    const char *model, *text, *file;
    bool no_bos, special, pieces;
} opts;

/* 0 ok, 1 help printed, 2 usage error */
static int parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = arg_next(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(o->text = arg_next(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(o->file = arg_next(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "--no-bos")) {
            o->no_bos = true;
        } else if (!strcmp(a, "--special")) {
            o->special = true;
        } else if (!strcmp(a, "--pieces")) {
            o->pieces = true;
        } else {
            fprintf(stderr, "coord tokenize: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o->model || (!o->text && !o->file) || (o->text && o->file)) {
        fprintf(stderr, "coord tokenize: %s\n",
                !o->model ? "-m MODEL is required"
                          : o->text ? "give -p or -f, not both" : "-p TEXT or -f FILE is required");
        usage(stderr);
        return 2;
    }
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = lp_read_all(fd, SIZE_MAX, len);
    close(fd);
    return buf;
}

/* A piece between quotes, with control bytes escaped so a line stays one
 * line. */
static void print_piece(const char *p, size_t n)
{
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('\'');
}

static int run(const opts *o, const char *text, size_t len)
{
    lp_err err = {{0}};
    size_t bad;
    if (len == 0) {
        fprintf(stderr, "coord tokenize: the prompt is empty\n");
        return 2;
    }
    if (!lp_utf8_valid(text, len, &bad)) {
        fprintf(stderr, "coord tokenize: the prompt is not valid UTF-8 (byte %zu, 0x%02x)\n",
                bad, (unsigned char)text[bad]);
        return 1;
    }
    lp_gguf *g = lp_gguf_open(o->model, &err);
    if (!g) {
        fprintf(stderr, "coord tokenize: %s: %s\n", o->model, err.msg);
        return 1;
    }
    lp_tokenizer *t = lp_tokenizer_load(g, &err);
    if (!t) {
        fprintf(stderr, "coord tokenize: %s: %s\n", o->model, err.msg);
        lp_gguf_close(g);
        return 1;
    }
    lp_token *ids = NULL;
    size_t n = 0;
    int rc = lp_tokenize(t, text, len, !o->no_bos, o->special, &ids, &n, &err);
    if (rc) {
        fprintf(stderr, "coord tokenize: %s\n", err.msg);
    } else {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
        for (size_t i = 0; o->pieces && i < n; i++) {
            size_t pn;
            const char *p = lp_token_piece(t, ids[i], true, &pn);
            printf("%d -> ", ids[i]);
            print_piece(p, pn);
            putchar('\n');
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "coord tokenize: writing the output failed\n");
            rc = -1;
        }
    }
    free(ids);
    lp_tokenizer_free(t);
    lp_gguf_close(g);
    return rc ? 1 : 0;
}

int cmd_tokenize(int argc, char **argv)
{
    opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (o.text)
        return run(&o, o.text, strlen(o.text));
    size_t len = 0;
    char *text = read_all(o.file, &len);
    if (!text) {
        fprintf(stderr, "coord tokenize: cannot read %s\n", o.file);
        return 1;
    }
    rc = run(&o, text, len);
    free(text);
    return rc;
}
