/* coord serve — bring the pool up, then serve it over HTTP. This thread
 * owns the pool and runs its loop; HTTP threads hand jobs over through the
 * hub (serve_hub.h). SIGINT/SIGTERM stop it cleanly. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "gen.h"
#include "pool.h"
#include "serve_http.h"
#include "serve_hub.h"
#include "sysinfo.h"

typedef struct serve_opts {
    const char *config, *listen, *model, *chat_template;
    long queue, threads;
} serve_opts;

/* What the pool thread needs per job: the job, and its generation (where
 * it ends, the text it shows: gen.h). The contexts of started sessions are
 * listed, because a cancelled session gets no last callback
 * (lp_cluster_cancel just forgets it): the loop frees those itself, and
 * whatever is left when it stops. */
typedef struct job_ctx {
    sv_job *job;
    lp_gen *gen;         /* owned */
    lp_err error;        /* why the generation failed ("" if it did not) */
    uint64_t session;
    struct job_ctx **head, *prev, *next;
} job_ctx;

static void jc_link(job_ctx *jc, job_ctx **head)
{
    jc->head = head;
    jc->prev = NULL;
    jc->next = *head;
    if (*head)
        (*head)->prev = jc;
    *head = jc;
}

static void jc_free(job_ctx *jc)
{
    lp_gen_free(jc->gen);
    if (jc->prev)
        jc->prev->next = jc->next;
    else
        *jc->head = jc->next;
    if (jc->next)
        jc->next->prev = jc->prev;
    free(jc);
}

static int parse(int argc, char **argv, serve_opts *o)
{
    *o = (serve_opts){.queue = 16, .threads = 0}; /* 0: -t not given */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: coord serve --config FILE [--listen HOST:PORT] [--model PATH]\n"
                   "                   [--queue N] [--chat-template NAME] [-t THREADS]\n"
                   "  --listen       HTTP address (default: the config's, else 127.0.0.1:8080)\n"
                   "  --model        serve this GGUF instead of the config's\n"
                   "  --queue N      requests that may wait beyond the pool's sessions (16)\n"
                   "  -t N           threads per local worker (default: the physical cores we\n"
                   "                 may use / the [local] workers, at least 1; a config's\n"
                   "                 threads = wins)\n");
            return 1;
        }
        if (!(v = arg_next(argc, argv, &i)))
            return -1;
        int rc = !strcmp(a, "--config")          ? (o->config = v, 0)
               : !strcmp(a, "--listen")          ? (o->listen = v, 0)
               : !strcmp(a, "--model")           ? (o->model = v, 0)
               : !strcmp(a, "--chat-template")   ? (o->chat_template = v, 0)
               : !strcmp(a, "--queue")           ? arg_int(a, v, 0, 4096, &o->queue)
               : !strcmp(a, "-t")                ? arg_int(a, v, 1, 512, &o->threads)
               : (fprintf(stderr, "coord serve: unknown option '%s'\n", a), -1);
        if (rc != 0)
            return -1;
    }
    if (!o->config)
        return fprintf(stderr, "coord serve: --config FILE is required\n"), -1;
    return 0;
}

/* Each token goes through the job's generation, which says whether the
 * session goes on; the last call (s NULL) ends the job. */
static bool on_token(void *user, uint64_t session, const lp_sampled *s, const char *error)
{
    job_ctx *jc = user;
    (void)session;
    if (!s) {
        size_t len = 0;
        if (!error && jc->error.msg[0])
            error = jc->error.msg;
        const char *tail = error ? "" : lp_gen_flush(jc->gen, &len);
        sv_job_finish(jc->job, error, tail, len, lp_gen_finish_reason(jc->gen));
        jc_free(jc);
        return false;
    }
    lp_gen_step st;
    if (lp_gen_push(jc->gen, s->token, &st, &jc->error) != 0)
        return false;
    if (st.counted && !sv_job_deliver(jc->job, s, st.text, st.len))
        return false; /* cancelled: nobody reads on */
    return st.go_on;
}

/* The job's generation: its budget, stop strings and the context left. */
static lp_gen *job_gen(const coord_pool *p, const sv_job_req *r, lp_err *err)
{
    const lp_gen_opts go = {.tok = p->tok, .eos = -1, .text = true, .n_predict = r->n_predict,
                            .n_ctx = coord_pool_n_ctx(p), .n_prompt = r->n_prompt,
                            .stops = r->stops, .n_stops = r->n_stops};
    return lp_gen_new(&go, err);
}

static void start_jobs(coord_pool *p, sv_hub *hub, job_ctx **running)
{
    sv_job *jobs[64];
    int n = sv_hub_take(hub, jobs, 64);
    for (int i = 0; i < n; i++) {
        const sv_job_req *r = sv_job_request(jobs[i]);
        job_ctx *jc = calloc(1, sizeof *jc);
        lp_err err = {0};
        uint64_t id = 0;
        if (jc && (jc->gen = job_gen(p, r, &err))) {
            jc->job = jobs[i];
            lp_session_req req = {.prompt = r->prompt, .n_prompt = r->n_prompt,
                                  .sampling = r->sampling, .logprob = r->logprob,
                                  .top_logprobs = r->top_logprobs,
                                  .cb = on_token, .user = jc};
            id = lp_cluster_start(p->cl, &req, &err);
        }
        if (id) {
            jc->session = id;
            jc_link(jc, running);
            sv_job_set_session(jobs[i], id);
        } else {
            sv_job_finish(jobs[i], jc ? err.msg : "out of memory", "", 0, NULL);
            if (jc)
                lp_gen_free(jc->gen);
            free(jc);
        }
    }
}

static void cancel_jobs(coord_pool *p, sv_hub *hub, job_ctx **running)
{
    uint64_t sessions[64];
    int n;
    while ((n = sv_hub_cancelled(hub, sessions, 64)) > 0)
        for (int i = 0; i < n; i++) {
            lp_cluster_cancel(p->cl, sessions[i]);
            for (job_ctx *jc = *running; jc; jc = jc->next)
                if (jc->session == sessions[i]) {
                    jc_free(jc);
                    break;
                }
        }
}

static int stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    /* Blocked before any thread starts, so every thread inherits it and the
     * signals arrive only through the signalfd this loop reads. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigdelset(&set, SIGPIPE);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* What the pool thread's loop serves besides the cluster: the hub's
 * wake-ups, the stop signals, and the periodic stats. */
typedef struct serve_ctx {
    coord_pool *p;
    sv_hub *hub;
    int sfd;
    job_ctx *running;   /* started sessions' contexts (job_ctx.head points here) */
    bool stop;
} serve_ctx;

static void on_hub(void *ctx)
{
    serve_ctx *sc = ctx;
    cancel_jobs(sc->p, sc->hub, &sc->running);
    start_jobs(sc->p, sc->hub, &sc->running);
}

static void on_signal(void *ctx)
{
    serve_ctx *sc = ctx;
    struct signalfd_siginfo si;
    if (read(sc->sfd, &si, sizeof si) == (ssize_t)sizeof si)
        sc->stop = true;
}

/* The workers' open sessions and KV bytes come only when asked; the
 * answers arrive through the loop (so it never waits on a slow or dead
 * worker) and are published soon after. */
static int64_t ask_stats(void *ctx, int64_t now)
{
    serve_ctx *sc = ctx;
    (void)now;
    lp_cluster_request_stats(sc->p->cl);
    return 500;
}

static int64_t publish(void *ctx, int64_t now)
{
    serve_ctx *sc = ctx;
    (void)now;
    sv_hub_publish(sc->hub, sc->p->cl);
    return 100;
}

static int serve_loop(serve_ctx *sc, lp_err *err)
{
    lp_loop *l = lp_cluster_loop(sc->p->cl);
    if (lp_loop_watch(l, NULL, sv_hub_fd(sc->hub), on_hub, sc, err) != 0 ||
        lp_loop_watch(l, NULL, sc->sfd, on_signal, sc, err) != 0 ||
        !lp_loop_timer(l, 0, ask_stats, sc, err) || !lp_loop_timer(l, 0, publish, sc, err))
        return -1;
    while (!sc->stop)
        if (lp_cluster_poll(sc->p->cl, -1, err) < 0)
            return -1;
    fprintf(stderr, "coord serve: stopping\n");
    return 0;
}

static lp_config *load_config(const serve_opts *o, lp_err *err)
{
    lp_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        lp_err_set(err, "out of memory");
        return NULL;
    }
    if (lp_config_load(o->config, cfg, err) != 0) {
        free(cfg);
        return NULL;
    }
    if (o->model)
        snprintf(cfg->model_path, sizeof cfg->model_path, "%s", o->model);
    if (o->listen)
        snprintf(cfg->listen, sizeof cfg->listen, "%s", o->listen);
    return cfg;
}

/* Threads per local worker: -t, else this machine's physical cores shared
 * out among the [local] workers (more threads than cores in all would only
 * take turns on them), as coord run --local-workers does. */
static int local_threads(const serve_opts *o, const lp_config *cfg)
{
    if (o->threads > 0)
        return (int)o->threads;
    if (!cfg->local)
        return 1; /* remote workers run their own -t */
    return lp_cpu_threads_each((int)cfg->n_workers);
}

static const char *model_name(const coord_pool *p)
{
    const char *slash = strrchr(p->cfg->model_path, '/');
    return slash ? slash + 1 : p->cfg->model_path;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    lp_err err = {0};
    coord_pool p = {0};
    sv_hub *hub = NULL;
    sv_http *http = NULL;
    int sfd = stop_signals();
    serve_ctx sc = {.p = &p, .sfd = sfd};
    lp_config *cfg = load_config(&o, &err);
    rc = 1;
    if (sfd >= 0 && cfg) {
        fprintf(stderr, "coord serve: loading %s on %d worker%s\n", cfg->model_path,
                cfg->n_workers, cfg->n_workers > 1 ? "s" : "");
        int sessions = cfg->sessions;
        if (coord_pool_up(&p, cfg, local_threads(&o, cfg), &err) == 0 &&
            (hub = sv_hub_new(sessions + (int)o.queue, &err))) {
            sv_hub_publish(hub, p.cl);
            sv_http_opts ho = {.listen = p.cfg->listen[0] ? p.cfg->listen : "127.0.0.1:8080",
                               .api_key = p.cfg->api_key, .tok = p.tok, .gguf = p.g,
                               .model_name = model_name(&p), .chat_template = o.chat_template,
                               .n_ctx = coord_pool_n_ctx(&p), .max_body = 4 << 20};
            if ((http = sv_http_start(&ho, hub, &err))) {
                fprintf(stderr, "coord serve: http://%s (port %d) ready\n", ho.listen,
                        sv_http_port(http));
                sc.hub = hub;
                rc = serve_loop(&sc, &err) == 0 ? 0 : 1;
            }
        }
    } else if (cfg == NULL) {
        rc = 1;
    }
    if (rc != 0)
        fprintf(stderr, "coord serve: %s\n", sfd < 0 ? "cannot watch signals" : err.msg);
    sv_http_stop(http);
    coord_pool_down(&p);
    while (sc.running) /* sessions still out when it stopped; the hub frees their jobs */
        jc_free(sc.running);
    sv_hub_free(hub);
    if (sfd >= 0)
        close(sfd);
    return rc;
}
