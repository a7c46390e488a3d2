/* bpool_predict.c — the 70B table (bpool_predict.h). */
#include "bpool_predict.h"

#include "pipe_model.h"

/* One pool of like machines. mem_gbs is what a STREAM triad measures on
 * one of them (coord bench-node prints it); decoding reaches efficiency of
 * it with every core (measured here: 89-90 % with both cores, README);
 * gflops is its prompt speed in GFLOP/s with every core. */
typedef struct scenario {
    const char *name, *link;
    int n;
    double mem_gbs, gflops, bits_per_s, latency_ms;
} scenario;

static const scenario SCENARIOS[] = {
    {"3 laptops (16 GB, DDR4)", "Wi-Fi 300 Mbit, 3 ms", 3, 35, 300, 300e6, 3.0},
    {"3 desktops (32 GB, DDR5)", "1 GbE, 0.2 ms", 3, 65, 800, 1e9, 0.2},
    {"4 mini PCs (16 GB, DDR5)", "2.5 GbE, 0.15 ms", 4, 50, 400, 2.5e9, 0.15},
};

void bpool_predict_70b(FILE *f)
{
    fprintf(f, "Llama 3 70B Q4_K_M (42.5 GB, 70.55 B weights, n_embd 8192), weights split "
               "by the planner, decoding at 85 %% of each machine's triad; hidden states "
               "as f16 (16.4 KB a hop), a 512-token prompt in chunks of 64\n");
    fprintf(f, "| pool | link | triad GB/s each | GFLOP/s each | decode tok/s | 4 sessions "
               "tok/s (no batching gain) | prompt tok/s | wire share of a token |\n"
               "|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof SCENARIOS[0]; i++) {
        const scenario *s = &SCENARIOS[i];
        lp_pipe_machine mc = {.n = s->n, .weight_gb = 42.5, .params_b = 70.55, .n_embd = 8192,
                              .wire_bytes = 2, .mem_gbs = s->mem_gbs, .efficiency = 0.85,
                              .gflops = s->gflops, .bits_per_s = s->bits_per_s,
                              .latency_ms = s->latency_ms};
        lp_pipe_model m;
        lp_pipe_pred one, four;
        lp_pipe_of_machines(&mc, &m);
        const int chunk = 64; /* enough rows for the tiles, 8 chunks to pipeline */
        lp_pipe_predict(&m, 1, 512, chunk, &one);
        lp_pipe_predict(&m, 4, 512, chunk, &four);
        lp_pipe_model nowire = m;
        nowire.bits_per_s = 0;
        nowire.latency_ms = 0;
        lp_pipe_pred ideal;
        lp_pipe_predict(&nowire, 1, 0, 0, &ideal);
        fprintf(f, "| %s | %s | %.0f | %.0f | %.2f | %.2f | %.1f | %.1f %% |\n", s->name,
                s->link, s->mem_gbs, s->gflops, one.tg_session, four.tg_total, one.pp,
                100.0 * (1.0 - one.tg_session / ideal.tg_session));
    }
}
