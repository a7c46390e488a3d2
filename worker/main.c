/* worker — holds one shard of a model and serves it to a coordinator.
 *
 *   worker info                      the resources this machine offers
 *   worker --listen tcp://HOST:PORT  serve (see usage below)
 *
 * On start it binds its two endpoints and prints one line,
 *   worker NAME listening control=tcp://... data=tcp://...
 * with the endpoints as bound (port 0 picks free ones), so scripts and
 * `coord run --local-workers` can start workers on random ports. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"
#include "worker.h"

static int cmd_info(void)
{
    lp_sysinfo si;
    lp_err err = {0};
    if (lp_sysinfo_read(&si, &err) != 0) {
        fprintf(stderr, "worker: %s\n", err.msg);
        return 1;
    }
    printf("cores:          %d (%d physical we may use)\n", si.n_cores, si.n_physical);
    printf("ram total:      %.2f GiB\n", si.ram_total / 1073741824.0);
    printf("ram available:  %.2f GiB\n", si.ram_available / 1073741824.0);
    printf("kernels:        %s\n", lp_isa_name(lp_cpu_best_isa()));
    printf("matmul:         %.1f GFLOP/s (Q4_K matvec, %d threads)\n",
           wk_bench_gflops(si.n_physical), si.n_physical);
    return 0;
}

/* worker keygen -o BASE: our key pair (--key BASE.key) and BASE.pub (the
 * cluster file's public_key for this worker). */
static int cmd_keygen(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[2], "-o") != 0) {
        fprintf(stderr, "usage: worker keygen -o BASE   writes BASE.key (--key) and BASE.pub\n");
        return 2;
    }
    return lp_keygen_run("worker", argv[3]);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: worker info        print the resources this machine offers\n"
            "       worker keygen -o BASE   a CURVE key pair: BASE.key (--key), BASE.pub\n"
            "       worker --listen tcp://HOST:PORT [options]\n"
            "  --data tcp://HOST:PORT  data endpoint (default: control port + 1)\n"
            "  -t N                    threads (default: the physical cores we may use)\n"
            "  --mem-limit SIZE        memory this worker may use, e.g. 16G (default: RAM available)\n"
            "  --cache-dir DIR         where streamed shard files are kept\n"
            "                          (default: ~/.cache/layerpool/shards)\n"
            "  --cache-max SIZE        the most the shard cache may hold (default: twice\n"
            "                          the memory budget)\n"
            "  --key FILE              our CURVE key pair (worker keygen): every link\n"
            "                          authenticated and encrypted\n"
            "  --coordinator-key KEY   the coordinator's public key (or its .pub file):\n"
            "                          the only peer whose orders this worker takes\n"
            "  --insecure              plain links on an address beyond loopback (a network\n"
            "                          you trust); without --key they are refused there\n"
            "  --models-dir DIR        a folder whose GGUF files a LoadShard may name by\n"
            "                          path (repeatable; without it: streamed shards only)\n"
            "  --name NAME             name in logs and errors (default: host name)\n"
            "  --session-ttl SECONDS   free sessions idle this long (default 600; 0 = never)\n"
            "  -fa, --flash-attn       flash attention (llama.cpp's -fa; V stored by position)\n"
            "  -ctk, -ctv TYPE         K / V cache type: f16 (default) or q8_0 (V: needs -fa)\n");
}

/* Where a LoadShard may name model files (the refusals point here). */
static void log_models_dirs(const wk_opts *o)
{
    if (o->n_models_dirs == 0)
        fprintf(stderr, "worker %s: no --models-dir: loads streamed shards only\n", o->name);
    for (int i = 0; i < o->n_models_dirs; i++)
        fprintf(stderr, "worker %s: model files by path from %s\n", o->name, o->models_dirs[i]);
}

typedef struct sockets {
    void *router, *pull, *pair_bind, *pair_conn;
} sockets;

static void close_all(sockets *s)
{
    lp_wire_close(s->router);
    lp_wire_close(s->pull);
    lp_wire_close(s->pair_bind);
    lp_wire_close(s->pair_conn);
}

/* With --key: the ZAP handler, the coordinator allowed on both sockets
 * (data: until a LoadShard names the worker before us), and the CURVE
 * server side of each socket in ctl / data. 0, or -1 with err. */
static int secure(wk_ctx *ctx, lp_curve *ctl, lp_curve *data, lp_err *err)
{
    char name[128];
    snprintf(name, sizeof name, "worker %s", ctx->opts.name);
    if (lp_keypair_read(ctx->opts.key_file, &ctx->key, err) != 0 ||
        !(ctx->zap = lp_zap_start(ctx->wire, name, err)) ||
        lp_zap_allow(ctx->zap, "control", ctx->opts.coordinator_key, "coordinator", err) != 0 ||
        lp_zap_allow(ctx->zap, "data", ctx->opts.coordinator_key, "coordinator", err) != 0)
        return -1;
    *ctl = (lp_curve){.pub = ctx->key.pub, .sec = ctx->key.sec, .zap_domain = "control"};
    *data = (lp_curve){.pub = ctx->key.pub, .sec = ctx->key.sec, .zap_domain = "data"};
    return 0;
}

static int open_sockets(wk_ctx *ctx, sockets *s, lp_err *err)
{
    lp_curve ctl, data;
    const bool curve = ctx->opts.key_file[0] != 0;
    if (curve && secure(ctx, &ctl, &data, err) != 0)
        return -1;
    if (!(s->router = lp_wire_socket_curve(ctx->wire, LP_SOCK_ROUTER, ctx->opts.listen,
                                           curve ? &ctl : NULL, err)) ||
        lp_wire_endpoint(s->router, ctx->control_ep, sizeof ctx->control_ep, err) != 0 ||
        !(s->pull = lp_wire_socket_curve(ctx->wire, LP_SOCK_PULL, ctx->opts.data,
                                         curve ? &data : NULL, err)) ||
        lp_wire_endpoint(s->pull, ctx->data_ep, sizeof ctx->data_ep, err) != 0 ||
        !(s->pair_bind = lp_wire_socket(ctx->wire, LP_SOCK_PAIR_BIND, WK_PAIR_ENDPOINT, err)) ||
        !(s->pair_conn = lp_wire_socket(ctx->wire, LP_SOCK_PAIR_CONNECT, WK_PAIR_ENDPOINT, err)))
        return -1;
    return 0;
}

/* Both threads run until a Shutdown; the compute thread's sockets become
 * its own when it starts. */
static int serve(wk_ctx *ctx, sockets *s)
{
    pthread_t th;
    wk_compute_start start = {.ctx = ctx, .pull = s->pull, .pair = s->pair_conn};
    if (pthread_create(&th, NULL, wk_compute_main, &start) != 0) {
        fprintf(stderr, "worker: cannot start the compute thread\n");
        return 1;
    }
    s->pull = s->pair_conn = NULL;
    int rc = wk_control_run(ctx, s->router, s->pair_bind);
    if (rc != 0) { /* the compute thread still waits for requests: stop it */
        Lp__Shutdown sd = LP__SHUTDOWN__INIT;
        Lp__Envelope env = LP__ENVELOPE__INIT;
        env.body_case = LP__ENVELOPE__BODY_SHUTDOWN;
        env.shutdown = &sd;
        lp_wire_send(s->pair_bind, NULL, &env, -1, NULL);
    }
    pthread_join(th, NULL);
    return rc == 0 ? 0 : 1;
}

static int run(wk_ctx *ctx)
{
    lp_err err = {0};
    if (lp_sysinfo_read(&ctx->si, &err) != 0) {
        fprintf(stderr, "worker: %s\n", err.msg);
        return 1;
    }
    if (ctx->opts.n_threads == 0)
        ctx->opts.n_threads = ctx->si.n_physical; /* SMT siblings only contend */
    ctx->gflops = wk_bench_gflops(ctx->opts.n_threads);
    if (!(ctx->wire = lp_wire_new(&err))) {
        fprintf(stderr, "worker: %s\n", err.msg);
        return 1;
    }
    sockets s = {0};
    int rc = 1;
    if (open_sockets(ctx, &s, &err) != 0) {
        fprintf(stderr, "worker %s: %s\n", ctx->opts.name, err.msg);
    } else {
        printf("worker %s listening control=%s data=%s\n", ctx->opts.name, ctx->control_ep,
               ctx->data_ep);
        fflush(stdout);
        log_models_dirs(&ctx->opts);
        rc = serve(ctx, &s);
    }
    close_all(&s);
    lp_zap_stop(ctx->zap);
    lp_wire_free(ctx->wire);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "info"))
        return cmd_info();
    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return cmd_keygen(argc, argv);
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    wk_ctx ctx = {0};
    lp_err err = {0};
    if (wk_args_parse(argc, argv, &ctx.opts, &err) != 0) {
        fprintf(stderr, "worker: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    /* The same endpoint answering with another number is a restart: the
     * coordinator then loads this process afresh (its time stands in if
     * the system gives no randomness). */
    if (getrandom(&ctx.incarnation, sizeof ctx.incarnation, 0) != sizeof ctx.incarnation)
        ctx.incarnation = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    /* SIGINT/SIGTERM become a Shutdown (control.c polls for them); every
     * thread started from here on inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return run(&ctx);
}
