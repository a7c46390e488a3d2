/* tend.c — a local pool's workers are the coordinator's to keep alive.
 * One that exits (killed, crashed, out of memory) is reaped and said so,
 * then started again on the endpoints it had, with its key; the cluster
 * hears it answer and loads it again, and the sessions it interrupted are
 * replayed (cluster_session.c). One that keeps dying is started again
 * after a growing pause (0.5 s doubling to 30 s), back to 0.5 s once it
 * has lived a minute. The check is a timer on the cluster's loop. */
#include "pool.h"

#include <stdio.h>

#include "clock.h"

enum { TEND_MS = 200, FIRST_PAUSE_MS = 500, MAX_PAUSE_MS = 30000, STEADY_MS = 60000 };

static int64_t pause_ms(int restarts)
{
    int64_t ms = FIRST_PAUSE_MS;
    for (int i = 0; i < restarts && ms < MAX_PAUSE_MS; i++)
        ms *= 2;
    return ms < MAX_PAUSE_MS ? ms : MAX_PAUSE_MS;
}

static void restart(coord_pool *p, int i, int64_t now)
{
    coord_tend *t = &p->tend;
    lp_err err = {0};
    const lp_cluster_worker *w = lp_cluster_get_worker(p->cl, i);
    const lp_config *cfg = p->cfg;
    char mem[32] = "";
    if (cfg->workers[0].mem)
        snprintf(mem, sizeof mem, "%llu", (unsigned long long)cfg->workers[0].mem);
    t->restart_at[i] = 0;
    t->restarts[i]++;
    if (lp_local_workers_restart(&p->lw, i, w->data, cfg->threads ? cfg->threads
                                                                   : p->local_threads,
                                 mem[0] ? mem : NULL, cfg->model_path, &err) != 0) {
        t->restart_at[i] = now + pause_ms(t->restarts[i]);
        fprintf(stderr, "pool: cannot start local worker %s again (%s); next try in %.1f s\n",
                w->name, err.msg, pause_ms(t->restarts[i]) / 1000.0);
        return;
    }
    t->started_ms[i] = now;
    fprintf(stderr, "pool: local worker %s started again (pid %d, restart %d)\n", w->name,
            (int)p->lw.pid[i], t->restarts[i]);
}

static int64_t tend(void *pool, int64_t now)
{
    coord_pool *p = pool;
    coord_tend *t = &p->tend;
    char why[128];
    for (int i = 0; i < p->lw.n; i++) {
        if (lp_local_workers_exited(&p->lw, i, why, sizeof why)) {
            if (now - t->started_ms[i] > STEADY_MS)
                t->restarts[i] = 0;
            t->restart_at[i] = now + (t->restarts[i] ? pause_ms(t->restarts[i]) : 0);
            fprintf(stderr, "pool: local worker %s %s; starting it again%s\n",
                    lp_cluster_get_worker(p->cl, i)->name, why,
                    t->restarts[i] ? " after a pause" : "");
        }
        if (t->restart_at[i] && now >= t->restart_at[i])
            restart(p, i, now);
    }
    return TEND_MS;
}

int coord_pool_tend_start(coord_pool *p, lp_err *err)
{
    const int64_t now = lp_now_ms();
    for (int i = 0; i < p->lw.n; i++)
        p->tend.started_ms[i] = now;
    return lp_loop_timer(lp_cluster_loop(p->cl), TEND_MS, tend, p, err) ? 0 : -1;
}
