#include "serve_hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { RATE_SECONDS = 10 };

/* A token on its way to the HTTP side, with the text it released. */
typedef struct sv_item {
    lp_sampled s;
    char *text;            /* owned by the queue, then by read_text */
    size_t len;
} sv_item;

struct sv_job {
    sv_hub *hub;
    int refs;              /* HTTP side + pool side; under hub->mu */
    sv_job_req req;        /* req.prompt and req.stops point at the copies */
    int32_t *prompt;       /* owned */
    char *stops[LP_STOPSTR_MAX]; /* owned */
    uint64_t session;      /* 0 until the pool started it */
    sv_item *q;            /* tokens not yet read, owned */
    int q_head, q_len, q_cap;
    char *read_text;       /* the last read item's text, owned */
    bool taken;            /* handed to the pool thread */
    bool ended, failed, cancelled;
    char error[512];
    char *tail;            /* text released at the end, owned */
    size_t tail_len;
    const char *finish;    /* "stop" / "length" (static) */
    pthread_cond_t cv;
    sv_job *next;          /* in hub->jobs */
};

struct sv_hub {
    pthread_mutex_t mu;
    int efd;
    int max_live;
    sv_job *jobs;          /* every job not yet freed */
    sv_stats st;
    uint64_t rate_tokens[RATE_SECONDS];
    time_t rate_sec[RATE_SECONDS];
};

sv_hub *sv_hub_new(int max_live, lp_err *err)
{
    sv_hub *h = calloc(1, sizeof *h);
    if (!h) {
        lp_err_set(err, "out of memory");
        return NULL;
    }
    h->max_live = max_live > 0 ? max_live : 1;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0) {
        lp_err_set(err, "eventfd: %s", strerror(errno));
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

static void job_free(sv_job *j)
{
    pthread_cond_destroy(&j->cv);
    free(j->prompt);
    for (size_t i = 0; i < LP_STOPSTR_MAX; i++)
        free(j->stops[i]);
    for (int i = 0; i < j->q_len; i++)
        free(j->q[(j->q_head + i) % j->q_cap].text);
    free(j->q);
    free(j->read_text);
    free(j->tail);
    free(j);
}

/* The request's prompt and stop strings, copied: the HTTP side may go
 * before the pool side reads them. */
static int copy_request(sv_job *j, const sv_job_req *r)
{
    j->req = *r;
    j->prompt = malloc(sizeof *j->prompt * (size_t)(r->n_prompt > 0 ? r->n_prompt : 1));
    if (!j->prompt || r->n_stops > LP_STOPSTR_MAX)
        return -1;
    memcpy(j->prompt, r->prompt, sizeof *j->prompt * (size_t)r->n_prompt);
    j->req.prompt = j->prompt;
    for (size_t i = 0; i < r->n_stops; i++)
        if (!(j->stops[i] = strdup(r->stops[i])))
            return -1;
    j->req.stops = (const char *const *)j->stops;
    return 0;
}

void sv_hub_free(sv_hub *h)
{
    if (!h)
        return;
    for (sv_job *j = h->jobs, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    close(h->efd);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static void wake(sv_hub *h)
{
    uint64_t one = 1;
    if (write(h->efd, &one, sizeof one) < 0) {
        /* the counter is already non-zero: the pool thread will wake */
    }
}

static int count_live(const sv_hub *h, int *queued)
{
    int n = 0;
    *queued = 0;
    for (const sv_job *j = h->jobs; j; j = j->next)
        if (!j->ended) {
            n++;
            *queued += j->session == 0;
        }
    return n;
}

sv_job *sv_hub_submit(sv_hub *h, const sv_job_req *r, bool *busy, lp_err *err)
{
    *busy = false;
    sv_job *j = calloc(1, sizeof *j);
    if (!j || copy_request(j, r) != 0) {
        if (j)
            job_free(j);
        lp_err_set(err, "out of memory, or more than %d stop strings", LP_STOPSTR_MAX);
        return NULL;
    }
    j->hub = h;
    j->refs = 2;
    pthread_cond_init(&j->cv, NULL);
    pthread_mutex_lock(&h->mu);
    int queued, live = count_live(h, &queued);
    if (live >= h->max_live) {
        h->st.refused_busy++;
        pthread_mutex_unlock(&h->mu);
        job_free(j);
        *busy = true;
        lp_err_set(err, "the pool is busy: %d requests running or queued", live);
        return NULL;
    }
    j->next = h->jobs;
    h->jobs = j;
    pthread_mutex_unlock(&h->mu);
    wake(h);
    return j;
}

sv_event sv_job_next(sv_job *j, lp_sampled *out, const char **text, size_t *len,
                     int timeout_ms)
{
    sv_hub *h = j->hub;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    *text = "";
    *len = 0;
    pthread_mutex_lock(&h->mu);
    while (j->q_len == 0 && !j->ended)
        if (pthread_cond_timedwait(&j->cv, &h->mu, &until) == ETIMEDOUT)
            break;
    sv_event ev = SV_TIMEOUT;
    if (j->q_len > 0) {
        sv_item *it = &j->q[j->q_head];
        *out = it->s;
        free(j->read_text);
        j->read_text = it->text;
        *text = it->text ? it->text : "";
        *len = it->len;
        j->q_head = (j->q_head + 1) % j->q_cap;
        j->q_len--;
        ev = SV_TOKEN;
    } else if (j->ended) {
        ev = j->failed ? SV_FAILED : SV_END;
        *text = j->tail ? j->tail : "";
        *len = j->tail_len;
    }
    pthread_mutex_unlock(&h->mu);
    return ev;
}

const char *sv_job_finish_reason(const sv_job *j)
{
    return j->finish ? j->finish : "stop";
}

const char *sv_job_error(const sv_job *j)
{
    return j->error;
}

void sv_job_cancel(sv_job *j)
{
    sv_hub *h = j->hub;
    pthread_mutex_lock(&h->mu);
    bool news = !j->ended && !j->cancelled;
    j->cancelled = true;
    pthread_mutex_unlock(&h->mu);
    if (news)
        wake(h);
}

/* Under h->mu. */
static void unref(sv_hub *h, sv_job *j)
{
    if (--j->refs > 0)
        return;
    for (sv_job **p = &h->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    job_free(j);
}

void sv_job_release(sv_job *j)
{
    sv_hub *h = j->hub;
    pthread_mutex_lock(&h->mu);
    unref(h, j);
    pthread_mutex_unlock(&h->mu);
}

int sv_hub_fd(const sv_hub *h)
{
    return h->efd;
}

int sv_hub_take(sv_hub *h, sv_job **out, int max)
{
    uint64_t v;
    while (read(h->efd, &v, sizeof v) > 0) {
    }
    int n = 0;
    pthread_mutex_lock(&h->mu);
    for (sv_job *j = h->jobs; j && n < max; j = j->next)
        if (!j->taken && !j->ended && !j->cancelled) {
            j->taken = true;
            out[n++] = j;
        }
    pthread_mutex_unlock(&h->mu);
    return n;
}

const sv_job_req *sv_job_request(const sv_job *j)
{
    return &j->req;
}

void sv_job_set_session(sv_job *j, uint64_t session)
{
    pthread_mutex_lock(&j->hub->mu);
    j->session = session;
    pthread_mutex_unlock(&j->hub->mu);
}

/* Under h->mu: end a job from the pool side. */
static void finish_locked(sv_hub *h, sv_job *j, const char *error)
{
    if (!j->ended) {
        j->ended = true;
        j->failed = error != NULL;
        if (error)
            snprintf(j->error, sizeof j->error, "%s", error);
        h->st.requests_failed += error != NULL;
        pthread_cond_broadcast(&j->cv);
    }
    unref(h, j);
}

static char *copy_text(const char *text, size_t len)
{
    char *t = malloc(len + 1);
    if (t) {
        memcpy(t, text, len);
        t[len] = 0;
    }
    return t;
}

int sv_hub_cancelled(sv_hub *h, uint64_t *sessions, int max)
{
    int n = 0;
    pthread_mutex_lock(&h->mu);
    for (sv_job *j = h->jobs, *next; j && n < max; j = next) {
        next = j->next;
        if (!j->cancelled || j->ended)
            continue;
        if (j->session)
            sessions[n++] = j->session;
        finish_locked(h, j, NULL); /* may free j: next was read first */
    }
    pthread_mutex_unlock(&h->mu);
    return n;
}

static void count_rate(sv_hub *h)
{
    time_t now = time(NULL);
    int k = (int)(now % RATE_SECONDS);
    if (h->rate_sec[k] != now) {
        h->rate_sec[k] = now;
        h->rate_tokens[k] = 0;
    }
    h->rate_tokens[k]++;
}

/* Under h->mu: room for one more item. */
static bool grow_queue(sv_job *j)
{
    if (j->q_len < j->q_cap)
        return true;
    int cap = j->q_cap ? 2 * j->q_cap : 16;
    sv_item *q = malloc(sizeof *q * (size_t)cap);
    if (!q)
        return false;
    for (int i = 0; i < j->q_len; i++)
        q[i] = j->q[(j->q_head + i) % j->q_cap];
    free(j->q);
    j->q = q;
    j->q_head = 0;
    j->q_cap = cap;
    return true;
}

bool sv_job_deliver(sv_job *j, const lp_sampled *s, const char *text, size_t len)
{
    sv_hub *h = j->hub;
    char *copy = copy_text(text, len);
    pthread_mutex_lock(&h->mu);
    bool go_on = copy && !j->cancelled && !j->ended && grow_queue(j);
    if (go_on) {
        j->q[(j->q_head + j->q_len++) % j->q_cap] = (sv_item){*s, copy, len};
        copy = NULL;
        h->st.tokens_out++;
        count_rate(h);
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&h->mu);
    free(copy);
    return go_on;
}

void sv_job_finish(sv_job *j, const char *error, const char *tail, size_t tail_len,
                   const char *finish)
{
    sv_hub *h = j->hub;
    char *copy = tail_len ? copy_text(tail, tail_len) : NULL;
    pthread_mutex_lock(&h->mu);
    if (!j->ended) {
        free(j->tail);
        j->tail = copy;
        j->tail_len = copy ? tail_len : 0;
        j->finish = finish;
        copy = NULL;
    }
    finish_locked(h, j, error);
    pthread_mutex_unlock(&h->mu);
    free(copy);
}

void sv_hub_publish(sv_hub *h, const lp_cluster *cl)
{
    pthread_mutex_lock(&h->mu);
    h->st.ready = lp_cluster_ready(cl);
    h->st.n_workers = lp_cluster_n_workers(cl);
    h->st.results_dropped = lp_cluster_results_dropped(cl);
    h->st.state = lp_cluster_state(cl, h->st.state_why, sizeof h->st.state_why);
    h->st.rec = lp_cluster_get_recovery(cl);
    for (int i = 0; i < h->st.n_workers; i++)
        h->st.workers[i] = *lp_cluster_get_worker(cl, i);
    pthread_mutex_unlock(&h->mu);
}

void sv_hub_stats(sv_hub *h, sv_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    out->live = count_live(h, &out->queued);
    time_t now = time(NULL);
    uint64_t tokens = 0;
    for (int k = 0; k < RATE_SECONDS; k++)
        if (now - h->rate_sec[k] < RATE_SECONDS)
            tokens += h->rate_tokens[k];
    out->tok_per_s = (double)tokens / RATE_SECONDS;
    pthread_mutex_unlock(&h->mu);
}

static const int ERROR_CODES[SV_STAT_CODES] = {400, 401, 404, 405, 413, 414, 431, 500, 503};

const int *sv_hub_error_codes(void)
{
    return ERROR_CODES;
}

void sv_hub_count_status(sv_hub *h, int route, int status)
{
    int k = 0;
    while (k < SV_STAT_CODES && ERROR_CODES[k] != status)
        k++;
    if (route < 0 || route >= SV_STAT_ROUTES || k == SV_STAT_CODES)
        return;
    pthread_mutex_lock(&h->mu);
    h->st.errors[route][k]++;
    pthread_mutex_unlock(&h->mu);
}

void sv_hub_count_request(sv_hub *h, int tokens_in, bool failed, bool cancelled)
{
    pthread_mutex_lock(&h->mu);
    h->st.requests++;
    h->st.tokens_in += (uint64_t)(tokens_in > 0 ? tokens_in : 0);
    h->st.requests_failed += failed;
    h->st.requests_cancelled += cancelled;
    pthread_mutex_unlock(&h->mu);
}
