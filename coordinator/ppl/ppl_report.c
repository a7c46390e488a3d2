/* ppl_report.c — the KL-divergence figures, laid out as llama-perplexity
 * --kl-divergence prints them, so the two can be read side by side. */
#include <math.h>
#include <stdlib.h>

#include "perplexity.h"
#include "ppl.h"

void ppl_report_kld_header(FILE *f)
{
    fprintf(f, "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence"
               "              Δp RMS            Same top p\n");
}

void ppl_report_kld_chunk(FILE *f, int chunk, const lp_kld_acc *k)
{
    lp_kld_stats s;
    lp_kld_summary(k, &s);
    fprintf(f, "%4d    %9.4lf ± %9.4lf    %10.5lf ± %10.5lf    %10.5lf ± %10.5lf"
               "    %6.3lf ± %6.3lf %%    %6.3lf ± %6.3lf %%\n",
            chunk, s.ppl.mean, s.ppl.err, s.ln_ratio.mean, s.ln_ratio.err, s.kld.mean, s.kld.err,
            100.0 * s.p_diff_rms.mean, 100.0 * s.p_diff_rms.err, 100.0 * s.same_top.mean,
            100.0 * s.same_top.err);
    fflush(f);
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median(const float *v, size_t n)
{
    return n % 2 == 0 ? 0.5f * (v[n / 2] + v[n / 2 - 1]) : v[n / 2];
}

static void print_ppl(FILE *f, const lp_kld_stats *s)
{
    fprintf(f, "====== Perplexity statistics ======\n");
    fprintf(f, "Mean PPL(Q)                   : %10.6lf ± %10.6lf\n", s->ppl.mean, s->ppl.err);
    fprintf(f, "Mean PPL(base)                : %10.6lf ± %10.6lf\n", s->ppl_base.mean,
            s->ppl_base.err);
    fprintf(f, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2lf%%\n", 100.0 * s->cor);
    fprintf(f, "Mean ln(PPL(Q)/PPL(base))     : %10.6lf ± %10.6lf\n", s->ln_ratio.mean,
            s->ln_ratio.err);
    fprintf(f, "Mean PPL(Q)/PPL(base)         : %10.6lf ± %10.6lf\n", s->ratio.mean, s->ratio.err);
    fprintf(f, "Mean PPL(Q)-PPL(base)         : %10.6lf ± %10.6lf\n\n", s->diff.mean, s->diff.err);
}

static void print_kld(FILE *f, const lp_kld_stats *s, const float *v, size_t n)
{
    static const struct { const char *name; float at; } pct[] = {
        {"99.9%   KLD", 0.999f}, {"99.0%   KLD", 0.990f}, {"Median  KLD", -1},
        {"10.0%   KLD", 0.100f}, {" 5.0%   KLD", 0.050f}, {" 1.0%   KLD", 0.010f},
    };
    fprintf(f, "====== KL divergence statistics ======\n");
    fprintf(f, "Mean    KLD: %10.6lf ± %10.6lf\n", s->kld.mean, s->kld.err);
    fprintf(f, "Maximum KLD: %10.6f\n", v[n - 1]);
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
        fprintf(f, "%s: %10.6f\n", pct[i].name,
                pct[i].at < 0 ? median(v, n) : lp_percentile(v, n, pct[i].at));
    fprintf(f, "Minimum KLD: %10.6f\n\n", v[0]);
}

static void print_p_diff(FILE *f, const lp_kld_stats *s, const float *v, size_t n)
{
    static const struct { const char *name; float at; } pct[] = {
        {"99.9%   Δp", 0.999f}, {"99.0%   Δp", 0.990f}, {"95.0%   Δp", 0.950f},
        {"90.0%   Δp", 0.900f}, {"75.0%   Δp", 0.750f}, {"Median  Δp", -1},
        {"25.0%   Δp", 0.250f}, {"10.0%   Δp", 0.100f}, {" 5.0%   Δp", 0.050f},
        {" 1.0%   Δp", 0.010f}, {" 0.1%   Δp", 0.001f},
    };
    fprintf(f, "====== Token probability statistics ======\n");
    fprintf(f, "Mean    Δp: %6.3lf ± %5.3lf %%\n", 100.0 * s->p_diff.mean, 100.0 * s->p_diff.err);
    fprintf(f, "Maximum Δp: %6.3lf%%\n", 100.0 * v[n - 1]);
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
        fprintf(f, "%s: %6.3lf%%\n", pct[i].name,
                100.0 * (pct[i].at < 0 ? median(v, n) : lp_percentile(v, n, pct[i].at)));
    fprintf(f, "Minimum Δp: %6.3lf%%\n", 100.0 * v[0]);
    fprintf(f, "RMS Δp    : %6.3lf ± %5.3lf %%\n", 100.0 * s->p_diff_rms.mean,
            100.0 * s->p_diff_rms.err);
    fprintf(f, "Same top p: %6.3lf ± %5.3lf %%\n", 100.0 * s->same_top.mean,
            100.0 * s->same_top.err);
}

void ppl_report_kld_final(FILE *f, const lp_kld_acc *k, float *kld, float *p_diff, size_t n)
{
    lp_kld_stats s;
    lp_kld_summary(k, &s);
    fputc('\n', f);
    if (n < 100) { /* llama.cpp's limit: no statistics on so few values */
        fprintf(f, "only %zu positions scored: too few for statistics\n", n);
        return;
    }
    qsort(kld, n, sizeof *kld, cmp_float);
    qsort(p_diff, n, sizeof *p_diff, cmp_float);
    print_ppl(f, &s);
    print_kld(f, &s, kld, n);
    print_p_diff(f, &s, p_diff, n);
}
