/* plan_print.c — a plan as a table a person reads. */
#include "plan.h"

#include <string.h>

#include "plan_internal.h"
#include "size.h"

static void layers_cell(const lp_plan_shard *s, char *buf, size_t cap)
{
    char range[24];
    if (s->last - s->first == 1)
        snprintf(range, sizeof range, "%d", s->first);
    else
        snprintf(range, sizeof range, "%d-%d", s->first, s->last - 1);
    snprintf(buf, cap, "%s (%d)%s%s", range, s->last - s->first, s->has_embed ? " +embed" : "",
             s->has_head ? " +head" : "");
}

void lp_plan_print(FILE *f, const lp_plan_model *m, const lp_plan_worker *workers,
                   const char *const *names, const lp_plan_shard *plan, int n_workers,
                   const lp_plan_opts *o)
{
    char c[7][72]; /* a layers cell: a range, a count and two roles */
    fprintf(f, "model: %s, %u layers, n_embd %u, vocabulary %u%s\n", m->arch, m->n_layer,
            m->n_embd, m->n_vocab, m->output_tied ? ", tied output" : "");
    const lp_attn_opts *at = &o->attn;
    char types[48] = "";
    if (at->type_k != LP_KV_F16 || at->type_v != LP_KV_F16)
        snprintf(types, sizeof types, " (K %s, V %s)", lp_kv_type_name(at->type_k),
                 lp_kv_type_name(at->type_v));
    fprintf(f, "context %d x %d session%s, batch %d, %d threads, KV %s per position per "
            "layer%s, reserve %s per worker\n\n",
            o->n_ctx, o->n_sessions, o->n_sessions > 1 ? "s" : "", o->n_batch, o->n_threads,
            lp_size_format(lp_plan_kv_bytes_attn(m, 0, 1, 1, 1, at), c[0], sizeof c[0]), types,
            lp_size_format(o->reserve, c[1], sizeof c[1]));
    int wn = 6;
    for (int i = 0; names && i < n_workers; i++)
        if (names[i] && (int)strlen(names[i]) > wn)
            wn = (int)strlen(names[i]);
    fprintf(f, "%-*s  %-22s %10s %10s %10s %10s %10s %6s\n", wn, "worker", "layers", "weights",
            "KV", "buffers", "total", "budget", "speed");
    uint64_t tw = 0, tk = 0, tb = 0, tt = 0, tg = 0;
    int over = 0;
    for (int i = 0; i < n_workers; i++) {
        const lp_plan_shard *s = &plan[i];
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        layers_cell(s, c[0], sizeof c[0]);
        fprintf(f, "%-*s  %-22s %10s %10s %10s %10s %10s %6.3g%s\n", wn,
                names && names[i] ? names[i] : idx, c[0],
                lp_size_format(s->weight_bytes, c[1], sizeof c[1]),
                lp_size_format(s->kv_bytes, c[2], sizeof c[2]),
                lp_size_format(lp_plan_sat_add(s->buffer_bytes, s->reserve), c[3], sizeof c[3]),
                lp_size_format(s->total, c[4], sizeof c[4]),
                lp_size_format(s->budget, c[5], sizeof c[5]), workers[i].speed,
                s->fits ? "" : "  OVER");
        tw = lp_plan_sat_add(tw, s->weight_bytes);
        tk = lp_plan_sat_add(tk, s->kv_bytes);
        tb = lp_plan_sat_add(tb, lp_plan_sat_add(s->buffer_bytes, s->reserve));
        tt = lp_plan_sat_add(tt, s->total);
        tg = lp_plan_sat_add(tg, s->budget);
        over += !s->fits;
    }
    fprintf(f, "%-*s  %-22s %10s %10s %10s %10s %10s\n", wn, "total", "",
            lp_size_format(tw, c[1], sizeof c[1]), lp_size_format(tk, c[2], sizeof c[2]),
            lp_size_format(tb, c[3], sizeof c[3]), lp_size_format(tt, c[4], sizeof c[4]),
            lp_size_format(tg, c[5], sizeof c[5]));
    fprintf(f, "\nbuffers: the forward pass's compute buffers plus the reserve; sizes in "
            "binary units (1 GiB = 1024^3 bytes)%s\n",
            over ? "; OVER: the worker's budget is exceeded" : "");
}
