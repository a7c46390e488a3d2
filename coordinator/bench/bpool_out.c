/* bpool_out.c — coord bench-pool's table, CSV, JSON and charts. */
#include "bpool_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <stdbool.h>

void bpool_out_header(FILE *f)
{
    fprintf(f, "%-13s %6s %-9s %-5s %4s | %9s %9s %8s %8s | %7s %7s %6s | %9s %9s %8s\n",
            "engine", "shards", "link", "dtype", "sess", "tg/sess", "tg total", "pp tok/s",
            "ttft ms", "B/hop", "MB", "comp%", "model tg", "model tot", "model pp");
}

void bpool_out_row(FILE *f, const bpool_row *w)
{
    const bpool_result *r = &w->r;
    fprintf(f, "%-13s %6d %-9s %-5s %4d | %9.2f %9.2f %8.1f %8.1f | %7.0f %7.2f %6.1f |",
            w->engine, w->shards, w->link, w->dtype, w->sessions, r->tg_session.median,
            r->tg_total.median, r->pp.median, r->ttft_ms.median, r->hop_bytes, r->total_mb,
            r->compute_share * 100);
    if (w->has_pred && w->pred.pp > 0)
        fprintf(f, " %9.2f %9.2f %8.1f\n", w->pred.tg_session, w->pred.tg_total, w->pred.pp);
    else if (w->has_pred)
        fprintf(f, " %9.2f %9.2f %8s\n", w->pred.tg_session, w->pred.tg_total, "-");
    else
        fprintf(f, " %9s %9s %8s\n", "-", "-", "-");
    fflush(f);
}

static FILE *open_in(const char *dir, const char *name, lp_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        lp_err_set(err, "%s: %s", path, strerror(errno));
    return f;
}

static int write_csv(const char *dir, const bpool_row *rows, int n, lp_err *err)
{
    FILE *f = open_in(dir, "bench-pool.csv", err);
    if (!f)
        return -1;
    fprintf(f, "engine,shards,threads,link,bits_per_s,dtype,sessions,tg_session,tg_session_min,"
               "tg_session_max,tg_total,tg_total_min,tg_total_max,pp,pp_min,pp_max,ttft_ms,"
               "hop_bytes,result_bytes,total_mb,compute_share,batched,model_tg_session,"
               "model_tg_total,model_pp,prompt_chunk\n");
    for (int i = 0; i < n; i++) {
        const bpool_row *w = &rows[i];
        const bpool_result *r = &w->r;
        fprintf(f, "%s,%d,%d,%s,%.0f,%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%.2f,"
                   "%.1f,%.1f,%.3f,%.4f,%.4f,",
                w->engine, w->shards, w->threads, w->link, w->bits_per_s, w->dtype, w->sessions,
                r->tg_session.median, r->tg_session.min, r->tg_session.max, r->tg_total.median,
                r->tg_total.min, r->tg_total.max, r->pp.median, r->pp.min, r->pp.max,
                r->ttft_ms.median, r->hop_bytes, r->result_bytes, r->total_mb, r->compute_share,
                r->batched);
        if (w->has_pred)
            fprintf(f, "%.3f,%.3f,%.*f,", w->pred.tg_session, w->pred.tg_total,
                    w->pred.pp > 0 ? 2 : 0, w->pred.pp > 0 ? w->pred.pp : 0.0);
        else
            fprintf(f, ",,,");
        fprintf(f, "%d\n", r->prompt_chunk);
    }
    return fclose(f) == 0 ? 0 : lp_err_set(err, "bench-pool.csv: write failed");
}

static void json_stats(FILE *f, const char *name, const bench_stats *s)
{
    fprintf(f, "\"%s\":{\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,\"n\":%d}", name, s->median,
            s->min, s->max, s->n);
}

/* machine and model are ours or a path: escaped anyway. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    fputc('"', f);
}

static int write_json(const char *dir, const bpool_row *rows, int n, const char *machine,
                      const char *model, lp_err *err)
{
    FILE *f = open_in(dir, "bench-pool.json", err);
    if (!f)
        return -1;
    fputs("{\"machine\":", f);
    json_string(f, machine);
    fputs(",\"model\":", f);
    json_string(f, model);
    fputs(",\"points\":[\n", f);
    for (int i = 0; i < n; i++) {
        const bpool_row *w = &rows[i];
        fprintf(f, "{\"engine\":\"%s\",\"shards\":%d,\"threads\":%d,\"link\":\"%s\","
                   "\"bits_per_s\":%.0f,\"dtype\":\"%s\",\"sessions\":%d,",
                w->engine, w->shards, w->threads, w->link, w->bits_per_s, w->dtype, w->sessions);
        json_stats(f, "tg_session", &w->r.tg_session);
        fputc(',', f);
        json_stats(f, "tg_total", &w->r.tg_total);
        fputc(',', f);
        json_stats(f, "pp", &w->r.pp);
        fprintf(f, ",\"ttft_ms\":%.2f,\"hop_bytes\":%.1f,\"result_bytes\":%.1f,\"total_mb\":%.3f,"
                   "\"compute_share\":%.4f,\"batched\":%.4f,\"prompt_chunk\":%d",
                w->r.ttft_ms.median, w->r.hop_bytes, w->r.result_bytes, w->r.total_mb,
                w->r.compute_share, w->r.batched, w->r.prompt_chunk);
        if (w->has_pred)
            fprintf(f, ",\"model\":{\"tg_session\":%.3f,\"tg_total\":%.3f,\"pp\":%.2f}",
                    w->pred.tg_session, w->pred.tg_total, w->pred.pp);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fputs("]}\n", f);
    return fclose(f) == 0 ? 0 : lp_err_set(err, "bench-pool.json: write failed");
}

/* The value a chart shows of a row. */
typedef double (*row_value)(const bpool_row *w);
static double v_tg(const bpool_row *w) { return w->r.tg_session.median; }
static double v_pp(const bpool_row *w) { return w->r.pp.median; }
static double v_hop(const bpool_row *w) { return w->r.hop_bytes; }

/* A series is one (engine, link) at one session and f32: the rows of a
 * sweep come shard count by shard count, so collect them per series. */
static bool same_series(const bpool_row *a, const bpool_row *b)
{
    return !strcmp(a->engine, b->engine) && !strcmp(a->link, b->link);
}

static bool charted(const bpool_row *w)
{
    return w->sessions == 1 && !strcmp(w->dtype, "f32");
}

/* gnuplot data: a block per series, its title on the first row. */
static int write_dat(const char *dir, const char *what, const bpool_row *rows, int n,
                     row_value v, lp_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "bench-pool-%s.dat", what);
    FILE *f = open_in(dir, name, err);
    if (!f)
        return -1;
    int blocks = 0;
    for (int i = 0; i < n; i++) {
        bool first = charted(&rows[i]);
        for (int j = 0; first && j < i; j++)
            first = !(charted(&rows[j]) && same_series(&rows[j], &rows[i]));
        if (!first)
            continue;
        fprintf(f, "%s\"%s %s\" \"v\"\n", blocks++ ? "\n\n" : "", rows[i].engine, rows[i].link);
        for (int j = i; j < n; j++)
            if (charted(&rows[j]) && same_series(&rows[j], &rows[i]))
                fprintf(f, "%d %.4f\n", rows[j].shards, v(&rows[j]));
    }
    fclose(f);
    return blocks;
}

static void plot(FILE *p, const char *dir, const char *what, int blocks, const char *ylabel,
                 const char *machine)
{
    static const char *const term[2][2] = {{"svg size 900,620 dynamic background '#ffffff'", "svg"},
                                           {"pngcairo size 900,620", "png"}};
    for (int t = 0; t < 2; t++)
        fprintf(p, "set terminal %s\nset output '%s/bench-pool-%s.%s'\n"
                   "set key below noenhanced\nset grid\nset xtics 1\nset yrange [0:*]\n"
                   "set offsets 0.2,0.2,0,0\n"
                   "set xlabel 'shards (workers, each in its own network namespace)'\n"
                   "set ylabel '%s'\nset title \"%s\\n%s\" noenhanced font ',10'\n"
                   "plot for [i=0:%d] '%s/bench-pool-%s.dat' index i using 1:2 with linespoints "
                   "title columnheader(1)\n",
                term[t][0], dir, what, term[t][1], ylabel, ylabel, machine, blocks - 1, dir, what);
}

static const struct chart { const char *what, *label; row_value v; } CHARTS[3] = {
    {"decode", "decode tok/s, one session", v_tg},
    {"prompt", "prompt tok/s", v_pp},
    {"bytes", "bytes per token per hop", v_hop},
};

/* Render the charts from the .dat files in dir (blocks[k] series each). */
static int render(const char *dir, const int *blocks, const char *machine, lp_err *err)
{
    if (blocks[0] == 0)
        return 0; /* no one-session f32 points: nothing to chart */
    FILE *p = popen("gnuplot 2>/dev/null", "w");
    if (!p)
        return lp_err_set(err, "gnuplot: %s", strerror(errno));
    for (int k = 0; k < 3; k++)
        plot(p, dir, CHARTS[k].what, blocks[k], CHARTS[k].label, machine);
    int st = pclose(p);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : lp_err_set(err, "gnuplot failed");
}

static int charts(const char *dir, const bpool_row *rows, int n, const char *machine,
                  lp_err *err)
{
    int blocks[3];
    for (int k = 0; k < 3; k++)
        if ((blocks[k] = write_dat(dir, CHARTS[k].what, rows, n, CHARTS[k].v, err)) < 0)
            return -1;
    return render(dir, blocks, machine, err);
}

int bpool_out_replot(const char *dir, lp_err *err)
{
    char path[4096], line[1024], machine[512] = "";
    int blocks[3] = {0};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/bench-pool-%s.dat", dir, CHARTS[k].what);
        FILE *f = fopen(path, "r");
        if (!f)
            return lp_err_set(err, "%s: %s", path, strerror(errno));
        while (fgets(line, sizeof line, f))
            blocks[k] += line[0] == '"';
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/bench-pool.json", dir);
    FILE *f = fopen(path, "r");
    if (f && fgets(line, sizeof line, f)) { /* {"machine":"...", on its first line */
        const char *m = strstr(line, "\"machine\":\"");
        if (m)
            snprintf(machine, sizeof machine, "%.*s", (int)strcspn(m + 11, "\""), m + 11);
    }
    if (f)
        fclose(f);
    return render(dir, blocks, machine, err);
}

int bpool_out_files(const char *dir, const bpool_row *rows, int n, const char *machine,
                    const char *model, lp_err *err)
{
    if (write_csv(dir, rows, n, err) != 0 || write_json(dir, rows, n, machine, model, err) != 0)
        return -1;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        fprintf(stderr, "bench-pool: gnuplot is not installed: no charts (CSV and JSON in %s)\n",
                dir);
    else if (charts(dir, rows, n, machine, err) != 0)
        return -1;
    return 0;
}
