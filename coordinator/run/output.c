#include "output.h"

#include <string.h>

int out_open(out_stream *s, FILE *f, const lp_tokenizer *tok, const run_opts *o,
             bool strip_first_space, lp_err *err)
{
    memset(s, 0, sizeof *s);
    s->f = f;
    s->ids = o->ids;
    if (lp_stopstr_init(&s->stop, o->stops, o->n_stops) != 0)
        return lp_err_set(err, "too many stop strings");
    if (!s->ids && !(s->detok = lp_detok_stream_new(tok, false, strip_first_space, err)))
        return -1;
    return 0;
}

void out_close(out_stream *s)
{
    lp_stopstr_free(&s->stop);
    lp_detok_stream_free(s->detok);
    memset(s, 0, sizeof *s);
}

/* Text passes through the stop-string filter before it is shown. */
static void show(out_stream *s, const char *text, size_t len)
{
    size_t n = 0;
    const char *out = text ? lp_stopstr_feed(&s->stop, text, len, &n) : NULL;
    if (out && n)
        fwrite(out, 1, n, s->f);
}

bool out_token(out_stream *s, lp_token t)
{
    size_t len = 0;
    if (s->ids) {
        fprintf(s->f, "%s%d", s->n ? "," : "", t);
    } else {
        const char *text = lp_detok_stream_push(s->detok, t, &len);
        show(s, text, len);
    }
    s->n++;
    fflush(s->f);
    return s->stop.hit;
}

void out_end(out_stream *s)
{
    size_t len = 0;
    if (!s->ids) {
        const char *text = lp_detok_stream_flush(s->detok, &len);
        show(s, text, len);
        const char *rest = lp_stopstr_flush(&s->stop, &len);
        fwrite(rest, 1, len, s->f);
        s->stop.hit = false;
    }
    fputc('\n', s->f);
    fflush(s->f);
    s->n = 0;
}
