/* quantize_progress.c — what `coord quantize` shows while it works. On a
 * terminal: one bar redrawn in place, at most ten times a second (tensor,
 * percent of the input, MB/s, ETA). Elsewhere (a log, a pipe): one line
 * per tensor as it is finished, which is what a log wants to keep. */
#include <time.h>

#include "clock.h"
#include "quantize_job.h"

#define BAR_WIDTH 24

void qz_bar_init(qz_bar *b, FILE *f, bool tty)
{
    *b = (qz_bar){.f = f, .tty = tty, .t0 = lp_now_s(), .last_draw = -1.0};
}

static const char *type_name(uint32_t t)
{
    const lp_type_traits *tt = lp_type_traits_get(t);
    return tt ? tt->name : "?";
}

static void tensor_line(qz_bar *b, const qz_plan *p, int i)
{
    const qz_tensor *q = &p->t[i];
    char shape[96], how[48];
    int k = 0;
    for (uint32_t j = 0; j < q->src->n_dims && k < (int)sizeof shape - 24; j++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%llu", j ? " x " : "",
                      (unsigned long long)q->src->ne[j]);
    if (!q->convert)
        snprintf(how, sizeof how, "%-5s kept", type_name(q->type));
    else if (q->choice.fallback)
        snprintf(how, sizeof how, "%-5s -> %s (for %s)", type_name(q->src->type),
                 type_name(q->type), type_name(q->choice.wanted));
    else
        snprintf(how, sizeof how, "%-5s -> %s", type_name(q->src->type), type_name(q->type));
    fprintf(b->f, "[%*d/%d] %-28s %-24s [%s] %.2f -> %.2f MiB\n", p->n >= 1000 ? 4 : 3, i + 1,
            p->n, q->name, how, shape, q->src->nbytes / 1048576.0, q->out_bytes / 1048576.0);
}

/* Tensors before `upto` are done: report those not reported yet. */
static void report_done(qz_bar *b, const qz_plan *p, int upto)
{
    for (; b->printed < upto; b->printed++) {
        if (!b->tty)
            tensor_line(b, p, b->printed);
        b->in_before += p->t[b->printed].src->nbytes;
    }
}

static void draw(qz_bar *b, const qz_plan *p, int i, uint64_t in_done, double now)
{
    double secs = now - b->t0, frac = p->in_bytes ? (double)in_done / (double)p->in_bytes : 1;
    double rate = secs > 0 ? in_done / 1e6 / secs : 0;
    double eta = rate > 0 ? (p->in_bytes - in_done) / 1e6 / rate : 0;
    char bar[BAR_WIDTH + 1];
    int full = (int)(frac * BAR_WIDTH);
    for (int j = 0; j < BAR_WIDTH; j++)
        bar[j] = j < full ? '#' : '.';
    bar[BAR_WIDTH] = 0;
    fprintf(b->f, "\r[%d/%d] %-28.28s %-5s [%s] %3.0f%%  %4.0f MB/s  ETA %d:%02d\033[K",
            i + 1, p->n, p->t[i].name, type_name(p->t[i].type), bar, frac * 100, rate,
            (int)eta / 60, (int)eta % 60);
    fflush(b->f);
}

void qz_bar_update(qz_bar *b, const qz_plan *p, int i, uint64_t out_done)
{
    const qz_tensor *q = &p->t[i];
    report_done(b, p, i);
    bool end = out_done >= q->out_bytes;
    /* Input consumed so far, in proportion to the output made. */
    uint64_t in_now = q->out_bytes ? (uint64_t)((double)q->src->nbytes * (double)out_done /
                                                (double)q->out_bytes)
                                   : 0;
    if (end)
        report_done(b, p, i + 1);
    if (!b->tty)
        return;
    double now = lp_now_s();
    if (!end && now - b->last_draw < 0.1)
        return;
    b->last_draw = now;
    draw(b, p, i, end ? b->in_before : b->in_before + in_now, now);
}

void qz_bar_finish(qz_bar *b, const qz_plan *p)
{
    report_done(b, p, p->n);
    if (b->tty) {
        fputs("\r\033[K", b->f);
        fflush(b->f);
    }
}
