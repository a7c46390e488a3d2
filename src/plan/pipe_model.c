/* pipe_model.c — the pipeline's expected speed (pipe_model.h). */
#include "pipe_model.h"

#include <math.h>

/* ms to move bytes over the link, besides the hop's latency. */
static double wire_ms(const lp_pipe_model *m, double bytes)
{
    return m->bits_per_s > 0 ? bytes * 8.0 / m->bits_per_s * 1e3 : 0.0;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

void lp_pipe_predict(const lp_pipe_model *m, int sessions, int n_prompt, int chunk,
                        lp_pipe_pred *out)
{
    double sum = 0, slow = 0, psum = 0, pslow = 0;
    for (int i = 0; i < m->n; i++) {
        sum += m->stage_ms[i];
        slow = m->stage_ms[i] > slow ? m->stage_ms[i] : slow;
        psum += m->prompt_ms[i];
        pslow = m->prompt_ms[i] > pslow ? m->prompt_ms[i] : pslow;
    }
    const int hops = m->n + 1;
    const double hop_ms = wire_ms(m, m->hop_bytes);
    double step = sum + hops * m->latency_ms + wire_ms(m, m->in_bytes) +
                  (m->n - 1) * hop_ms + wire_ms(m, m->result_bytes);
    out->tg_session = step > 0 ? 1e3 / step : 0;
    double total = sessions * out->tg_session;
    if (slow > 0)
        total = min2(total, 1e3 / slow);
    if (m->n > 1 && hop_ms > 0)
        total = min2(total, 1e3 / hop_ms);
    out->tg_total = total;
    out->tg_session = min2(out->tg_session, total / sessions);
    /* prompt: the first chunk crosses everything, then one chunk per
     * bottleneck period */
    if (n_prompt <= 0 || chunk <= 0) {
        out->pp = 0;
        return;
    }
    chunk = chunk < n_prompt ? chunk : n_prompt; /* a short prompt is one chunk */
    const int chunks = (n_prompt + chunk - 1) / chunk;
    const double c_hop = wire_ms(m, m->hop_bytes * chunk);
    double period = chunk * pslow;
    if (m->n > 1 && c_hop > period)
        period = c_hop;
    double first = chunk * psum + (m->n - 1) * (c_hop + m->latency_ms) +
                   wire_ms(m, m->in_bytes * chunk) + 2 * m->latency_ms;
    double ms = first + (chunks - 1) * period;
    out->pp = ms > 0 ? n_prompt / ms * 1e3 : 0;
}

int lp_pipe_chunk(const lp_pipe_model *m, int n_prompt, int max_chunk)
{
    if (m->n <= 1 || n_prompt <= 16)
        return max_chunk;
    double f = 0, c = wire_ms(m, m->hop_bytes);
    for (int i = 0; i < m->n; i++) {
        f = m->stage_ms[i] > f ? m->stage_ms[i] : f;
        c = m->prompt_ms[i] > c ? m->prompt_ms[i] : c;
    }
    if (!(f > 0) || !(c > 0))
        return 0;
    const double k = sqrt(n_prompt * f / ((m->n - 1) * c));
    const double k16 = k < 16 ? 16 : 16.0 * ceil(k / 16.0);
    return k16 > max_chunk ? max_chunk : (int)k16;
}

void lp_pipe_of_machines(const lp_pipe_machine *mc, lp_pipe_model *m)
{
    *m = (lp_pipe_model){.n = mc->n, .bits_per_s = mc->bits_per_s, .latency_ms = mc->latency_ms};
    const double reach = mc->mem_gbs * mc->efficiency;
    for (int i = 0; i < mc->n && i < LP_PIPE_MAX; i++) {
        m->stage_ms[i] = reach > 0 ? mc->weight_gb / mc->n / reach * 1e3 : 0;
        m->prompt_ms[i] = mc->gflops > 0 ? 2.0 * mc->params_b / mc->n / mc->gflops * 1e3 : 0;
    }
    m->hop_bytes = mc->n_embd * mc->wire_bytes + 23; /* a Forward's own fields */
    m->in_bytes = 40;     /* a token id and its step */
    m->result_bytes = 40; /* the sampled token */
}
