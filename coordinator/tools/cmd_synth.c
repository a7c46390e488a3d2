/* coord synth — write a random-weight model of a real shape (synth.h), so
 * benchmarks can run a 70B-sized model without downloading one. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "quant.h"
#include "synth.h"
#include "synth_plan.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coord synth --shape NAME -t TYPE -o FILE [options]\n"
            "\n"
            "Writes a model with a real model's shape and metadata but random weights\n"
            "(of a trained model's magnitudes), directly in TYPE, streaming to disk.\n"
            "llama.cpp and layerpool load it; its output is noise.\n"
            "\n"
            "  --shape NAME        the shape (below)\n"
            "  -t, --type TYPE     the file type (below); mixes (_S/_M/_L) give each\n"
            "                      tensor the type llama-quantize would\n"
            "  -o, --out FILE      the GGUF to write (appears only when complete)\n"
            "  --seed N            weights seed (default 1): same seed, same bytes\n"
            "  --vocab FILE.gguf   copy the tokenizer from this GGUF (e.g. a llama.cpp\n"
            "                      vocab file; padded with [PAD<id>] tokens to the\n"
            "                      shape's vocabulary, as convert_hf_to_gguf.py pads);\n"
            "                      default: a synthetic SentencePiece vocabulary\n"
            "  --layers N          N layers instead of the shape's (quick tests)\n"
            "  -j, --threads N     threads making weights (default: all CPUs)\n"
            "  --dry-run           print the tensors, size and bits per weight; write nothing\n"
            "  --no-space-check    skip the free disk space check\n"
            "\nshapes:\n");
    lp_synth_list_shapes(f);
}

typedef struct synth_args {
    const char *shape, *type, *out, *vocab;
    uint64_t seed;
    long layers, threads;
    bool dry_run, no_space_check;
} synth_args;

static bool is(const char *o, const char *s1, const char *s2)
{
    return !strcmp(o, s1) || (s2 && !strcmp(o, s2));
}

/* One option that takes a value; 0, or 2 on a bad one. */
static int parse_valued(const char *o, const char *v, synth_args *a)
{
    if (is(o, "--shape", NULL))
        a->shape = v;
    else if (is(o, "-t", "--type"))
        a->type = v;
    else if (is(o, "-o", "--out"))
        a->out = v;
    else if (is(o, "--vocab", NULL))
        a->vocab = v;
    else if (is(o, "--seed", NULL))
        return arg_u64(o, v, &a->seed) ? 2 : 0;
    else if (is(o, "--layers", NULL))
        return arg_int(o, v, 1, 4096, &a->layers) ? 2 : 0;
    else
        return arg_int(o, v, 1, 1024, &a->threads) ? 2 : 0;
    return 0;
}

/* 0 ok, 1 --help printed, 2 usage error. */
static int parse(int argc, char **argv, synth_args *a)
{
    static const char *const valued[] = {"--shape", "-t", "--type", "-o", "--out", "--vocab",
                                         "--seed", "--layers", "-j", "--threads", NULL};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *a = (synth_args){.seed = 1, .threads = ncpu > 0 ? ncpu : 1};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        bool takes = false;
        for (int k = 0; valued[k]; k++)
            takes |= !strcmp(o, valued[k]);
        if (is(o, "-h", "--help"))
            return 1;
        else if (is(o, "--dry-run", NULL))
            a->dry_run = true;
        else if (is(o, "--no-space-check", NULL))
            a->no_space_check = true;
        else if (!takes) {
            fprintf(stderr, "coord synth: unknown option '%s'\n", o);
            return 2;
        } else if (!(v = arg_next(argc, argv, &i)) || parse_valued(o, v, a))
            return 2;
    }
    if (!a->shape || !a->type || (!a->out && !a->dry_run)) {
        fprintf(stderr, "coord synth: --shape, -t and -o are required (see --help)\n");
        return 2;
    }
    return 0;
}

typedef struct progress {
    bool tty;
    double t0, last;
} progress;

/* Redrawn in place on a terminal; in a log, a line every 10 seconds. */
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    double t = lp_now_s(), el = t - p->t0;
    bool end = done == total;
    if (!end && t - p->last < (p->tty ? 0.5 : 10.0))
        return;
    p->last = t;
    fprintf(stderr, "%ssynth: %.2f / %.2f GB (%.0f%%), %.0f MB/s%s", p->tty ? "\r" : "",
            done / 1e9, total / 1e9, total ? 100.0 * (double)done / (double)total : 100.0,
            el > 0 ? done / 1e6 / el : 0.0, end || !p->tty ? "\n" : "");
    fflush(stderr);
}

static void print_plan(const lp_synth *s)
{
    for (size_t i = 0; i < lp_synth_n_tensors(s); i++) {
        lp_synth_tensor_info t;
        lp_synth_tensor(s, i, &t);
        char shape[48];
        if (t.n_dims == 1)
            snprintf(shape, sizeof shape, "%llu", (unsigned long long)t.ne[0]);
        else
            snprintf(shape, sizeof shape, "%llu x %llu", (unsigned long long)t.ne[0],
                     (unsigned long long)t.ne[1]);
        printf("%-28s %-5s %-16s %12llu bytes\n", t.name, lp_type_traits_get(t.type)->name,
               shape, (unsigned long long)t.nbytes);
    }
}

/* One line a script can read: the file's exact size first. */
static void print_totals(const lp_synth *s, FILE *f)
{
    lp_synth_totals t;
    lp_synth_totals_get(s, &t);
    fprintf(f, "total: %llu bytes (%.2f GB), %zu tensors, %llu params (%.3f B), "
            "%.3f bits per weight\n", (unsigned long long)t.file_bytes, t.file_bytes / 1e9,
            lp_synth_n_tensors(s), (unsigned long long)t.n_params, t.n_params / 1e9, t.bpw);
}

/* Library errors name their module ("synth: ...", "gguf writer: ..."). */
static void print_err(const lp_err *err)
{
    const char *m = err->msg;
    fprintf(stderr, "coord synth: %s\n", strncmp(m, "synth: ", 7) ? m : m + 7);
}

/* A signal handler can only set a flag; the weights' fill function reads it
 * between chunks, so Ctrl-C ends the write cleanly with no file left. */
static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int write_model(lp_synth *s, const synth_args *a)
{
    lp_err err = {{0}};
    if (!a->no_space_check && lp_synth_check_space(s, a->out, &err)) {
        print_err(&err);
        return 1;
    }
    /* Past a file size limit, write() should fail (EFBIG) and the temporary
     * file be removed, rather than SIGXFSZ kill us mid-write. */
    signal(SIGXFSZ, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double t0 = lp_now_s();
    int rc = lp_synth_write(s, a->out, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc) {
        print_err(&err);
        return 1;
    }
    lp_synth_totals t;
    lp_synth_totals_get(s, &t);
    double el = lp_now_s() - t0;
    fprintf(stderr, "synth: wrote %s in %.1f s (%.0f MB/s)\n", a->out, el,
            el > 0 ? t.file_bytes / 1e6 / el : 0.0);
    print_totals(s, stdout);
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    synth_args a;
    int prc = parse(argc, argv, &a);
    if (prc) {
        usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    const lp_synth_shape *shape = lp_synth_shape_find(a.shape);
    if (!shape) {
        fprintf(stderr, "coord synth: unknown shape '%s' (see --help for the list)\n", a.shape);
        return 2;
    }
    lp_ftype ft;
    if (lp_ftype_parse(a.type, &ft)) {
        fprintf(stderr, "coord synth: unknown type '%s' (see --help for the list)\n", a.type);
        return 2;
    }
    double t0 = lp_now_s();
    progress pg = {.tty = isatty(2), .t0 = t0, .last = t0};
    lp_synth_opts o = {.shape = shape, .ftype = ft, .seed = a.seed,
                       .vocab_path = a.vocab, .n_layer = (uint32_t)a.layers,
                       .n_threads = (int)a.threads, .progress = on_progress,
                       .progress_ctx = &pg, .cancel = &g_interrupted};
    lp_err err = {{0}};
    lp_synth *s = lp_synth_new(&o, &err);
    if (!s) {
        print_err(&err);
        return 1;
    }
    int rc = 0;
    if (a.dry_run) {
        print_plan(s);
        print_totals(s, stdout);
    } else {
        rc = write_model(s, &a);
    }
    lp_synth_free(s);
    return rc;
}
