/* coord quantize — a llama or qwen2 GGUF from F32, F16 or BF16 (or Q8_0,
 * with a warning) to one of llama.cpp's file types, with llama.cpp's mix
 * of tensor types (quant_mix.h), streamed (quantize_job.h) so a model far
 * larger than memory converts in one pass. Everything that can be refused
 * is refused before a byte is written; the output appears only complete. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "quantize_job.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord quantize IN.gguf OUT.gguf TYPE [-t N]\n"
            "\n"
            "Converts a llama or qwen2 model from F32, F16 or BF16 (or, losing a little\n"
            "more quality, from Q8_0) to TYPE, giving each tensor the type llama.cpp's\n"
            "llama-quantize gives it: the _S/_M/_L mixes keep more bits in attn_v,\n"
            "ffn_down and output.weight; norms stay as they are. The file loads in\n"
            "llama.cpp and in layerpool. OUT appears only once complete.\n"
            "\n"
            "  -t, --threads N   threads to convert with (default: every core)\n"
            "  -h, --help        this text\n"
            "\n"
            "TYPE (Q3_K, Q4_K, Q5_K mean the _M mix):\n");
    for (int i = 0; i < lp_ftype_count(); i++)
        fprintf(f, "  %-7s %s\n", lp_ftype_name(lp_ftype_at(i)),
                lp_ftype_summary(lp_ftype_at(i)));
}

typedef struct qargs {
    const char *in, *out, *type;
    long threads; /* 0: every core */
} qargs;

/* 0 to go on, 1 after --help, -1 on a usage error (said). */
static int parse_args(int argc, char **argv, qargs *a)
{
    const char **pos[] = {&a->in, &a->out, &a->type};
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(o, "-t") || !strcmp(o, "--threads")) {
            if (!(v = arg_next(argc, argv, &i)) || arg_int(o, v, 1, 1024, &a->threads))
                return -1;
        } else if (o[0] == '-' && o[1] != 0) {
            fprintf(stderr, "coord quantize: unknown option '%s'\n", o);
            return -1;
        } else if (n_pos == 3) {
            fprintf(stderr, "coord quantize: unexpected argument '%s'\n", o);
            return -1;
        } else {
            *pos[n_pos++] = o;
        }
    }
    if (n_pos < 3) {
        fprintf(stderr, "coord quantize: give IN.gguf OUT.gguf TYPE\n");
        return -1;
    }
    return 0;
}

static void list_types(FILE *f)
{
    fprintf(f, "valid types:");
    for (int i = 0; i < lp_ftype_count(); i++)
        fprintf(f, " %s", lp_ftype_name(lp_ftype_at(i)));
    fprintf(f, " (and Q3_K, Q4_K, Q5_K for the _M mixes)\n");
}

/* Refusals about OUT that need no input: it is IN, or a directory, or its
 * directory cannot take a new file. 0, or the exit status. */
static int check_out(const char *in, const char *out)
{
    struct stat si, so;
    bool in_ok = stat(in, &si) == 0, out_ok = stat(out, &so) == 0;
    if (!strcmp(in, out) || (in_ok && out_ok && si.st_dev == so.st_dev &&
                             si.st_ino == so.st_ino)) {
        fprintf(stderr, "coord quantize: OUT '%s' is the input file: give another name\n", out);
        return 2;
    }
    if (out_ok && S_ISDIR(so.st_mode)) {
        fprintf(stderr, "coord quantize: OUT '%s' is a directory: give a file name\n", out);
        return 2;
    }
    char dir[4096];
    const char *slash = strrchr(out, '/');
    int len = !slash ? 1 : slash == out ? 1 : (int)(slash - out);
    snprintf(dir, sizeof dir, "%.*s", len, slash ? out : ".");
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "coord quantize: cannot write '%s': directory '%s': %s\n", out, dir,
                strerror(errno));
        return 1;
    }
    return 0;
}

/* Tensors whose rows forced the same fallback, told in one line. */
typedef struct fallback_group {
    uint64_t row;
    lp_type wanted, type;
    int count;
    const char *first;
} fallback_group;

static void warn_fallbacks(const qz_plan *p)
{
    fallback_group g[32];
    int n = 0, more = 0;
    for (int i = 0; i < p->n; i++) {
        const qz_tensor *q = &p->t[i];
        if (!q->convert || !q->choice.fallback)
            continue;
        int j = 0;
        while (j < n && !(g[j].row == q->src->ne[0] && g[j].wanted == q->choice.wanted &&
                          g[j].type == q->type))
            j++;
        if (j == n && n == (int)(sizeof g / sizeof g[0])) {
            more++;
            continue;
        }
        if (j == n)
            g[n++] = (fallback_group){q->src->ne[0], q->choice.wanted, q->type, 0, q->name};
        g[j].count++;
    }
    for (int j = 0; j < n; j++) {
        const lp_type_traits *w = lp_type_traits_get(g[j].wanted);
        fprintf(stderr, "coord quantize: %d tensor%s (%s%s) with rows of %llu values, not a "
                "multiple of %lld: %s instead of %s%s\n", g[j].count, g[j].count > 1 ? "s" : "",
                g[j].first, g[j].count > 1 ? ", ..." : "", (unsigned long long)g[j].row,
                (long long)w->blck_size, lp_type_traits_get(g[j].type)->name, w->name,
                g[j].type == LP_TYPE_Q4_0 ? " (llama.cpp writes iq4_nl, of the same size, "
                "which layerpool cannot run)" : ", as llama.cpp does");
    }
    if (more)
        fprintf(stderr, "coord quantize: %d more tensors fell back\n", more);
}

/* What the user should know before the work starts. */
static void warn_plan(const qz_plan *p)
{
    warn_fallbacks(p);
    if (p->mix.n_fallback)
        fprintf(stderr, "coord quantize: warning: %d of %d tensors required a fallback type\n",
                p->mix.n_fallback, p->mix.n_chosen);
    if (p->n_requant)
        fprintf(stderr, "coord quantize: warning: the input is Q8_0: %d tensors are "
                "requantized, which loses more quality than quantizing the F16/BF16/F32 "
                "original\n", p->n_requant);
}

typedef struct watch {
    qz_bar bar;
    sigset_t stop;
} watch;

/* Progress, and Ctrl-C: SIGINT/SIGTERM are blocked and polled here, so an
 * interrupted write unwinds through the writer, which removes its
 * temporary file. */
static int on_progress(void *ctx, const qz_plan *p, int i, uint64_t out_done, lp_err *err)
{
    watch *w = ctx;
    sigset_t pending;
    if (sigpending(&pending) == 0 &&
        (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1))
        return lp_err_set(err, "interrupted");
    qz_bar_update(&w->bar, p, i, out_done);
    return 0;
}

static void summary(const qz_plan *p, const char *in, const char *out, double secs)
{
    int count[LP_TYPE_COUNT] = {0};
    for (int i = 0; i < p->n; i++)
        count[p->t[i].type < LP_TYPE_COUNT ? p->t[i].type : 0]++;
    printf("wrote %s (%s, general.file_type %d)\n  tensors  %d:", out, lp_ftype_name(p->ftype),
           (int)p->ftype, p->n);
    const char *sep = " ";
    for (int t = 0; t < LP_TYPE_COUNT; t++)
        if (count[t]) {
            printf("%s%d %s", sep, count[t], lp_type_traits_get((uint32_t)t)->name);
            sep = ", ";
        }
    double bpw = p->n_elements ? 8.0 * (double)p->out_bytes / (double)p->n_elements : 0;
    printf("\n  input    %s: %.2f MiB\n  output   %.2f MiB, %.2f bits per weight (%.1fx "
           "smaller)\n  time     %.2f s, %.0f MB/s of input\n", in, p->in_bytes / 1048576.0,
           p->out_bytes / 1048576.0, bpw,
           p->out_bytes ? (double)p->in_bytes / (double)p->out_bytes : 0, secs,
           secs > 0 ? p->in_bytes / 1e6 / secs : 0);
}

static int run(const qargs *a, lp_ftype ft)
{
    lp_err err = {0};
    qz_plan p;
    lp_gguf *g = lp_gguf_open(a->in, &err);
    if (!g || qz_plan_make(g, ft, &p, &err) != 0) {
        fprintf(stderr, "coord quantize: %s: %s\n", a->in, err.msg);
        lp_gguf_close(g);
        return 1;
    }
    warn_plan(&p);
    long nth = a->threads ? a->threads : sysconf(_SC_NPROCESSORS_ONLN);
    watch w;
    sigemptyset(&w.stop);
    sigaddset(&w.stop, SIGINT);
    sigaddset(&w.stop, SIGTERM);
    /* Blocked before the pool starts, so its threads inherit the mask. A
     * file size limit is a write error (EFBIG), not a kill. */
    pthread_sigmask(SIG_BLOCK, &w.stop, NULL);
    signal(SIGXFSZ, SIG_IGN);
    bool tty = isatty(STDERR_FILENO);
    qz_bar_init(&w.bar, stderr, tty);
    int rc = qz_write(g, &p, a->out, nth > 0 ? (int)nth : 1, on_progress, &w, &err);
    if (rc == 0) {
        qz_bar_finish(&w.bar, &p);
        summary(&p, a->in, a->out, lp_now_s() - w.bar.t0);
    } else {
        fprintf(stderr, "%scoord quantize: %s (nothing written to '%s')\n", tty ? "\n" : "",
                err.msg, a->out);
    }
    bool interrupted = rc != 0 && !strcmp(err.msg, "interrupted");
    qz_plan_free(&p);
    lp_gguf_close(g);
    return rc == 0 ? 0 : interrupted ? 130 : 1;
}

int cmd_quantize(int argc, char **argv)
{
    qargs a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "usage: coord quantize IN.gguf OUT.gguf TYPE [-t N] (--help for "
                    "more)\n");
        return rc < 0 ? 2 : 0;
    }
    lp_ftype ft;
    if (lp_ftype_parse(a.type, &ft) != 0) {
        fprintf(stderr, "coord quantize: unknown type '%s'; ", a.type);
        list_types(stderr);
        return 2;
    }
    if ((rc = check_out(a.in, a.out)) != 0)
        return rc;
    return run(&a, ft);
}
