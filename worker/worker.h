/* worker.h — the pieces of the `worker` program and what they share.
 *
 * Two threads, each owning its sockets (DESIGN.md, ZeroMQ's rule):
 *   control (control.c, the main thread): the ROUTER on --listen. It
 *     answers Hello, Heartbeat, StatsRequest and ShardChunk itself, at
 *     once, even while a long prefill runs; LoadShard, EndSession and
 *     Shutdown it passes to the compute thread over an inproc PAIR, with
 *     the peer to answer, and relays the answer.
 *   compute (compute.c): the PULL on the data endpoint and the other end
 *     of the PAIR. It owns the shard, the sessions and the PUSH sockets to
 *     the next worker and to the coordinator's result endpoint, and runs
 *     Forward messages (forward.c) between control requests.
 *
 * Ownership: main.c owns the wk_ctx (on its stack) and the lp_wire; the
 * control thread owns the ROUTER and the PAIR's bound end; the compute
 * thread owns everything in wk_compute. The only state both threads touch
 * after start is wk_stats, whose fields are atomics. */
#ifndef WK_WORKER_H
#define WK_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "shard.h"
#include "sysinfo.h"
#include "keys.h"
#include "wire.h"
#include "zap.h"

#define WK_PAIR_ENDPOINT "inproc://worker-compute"
#define WK_MAX_MODELS_DIRS 8

typedef struct wk_opts {
    char listen[256];     /* --listen, the control endpoint */
    char data[256];       /* --data, or "" for the default */
    int n_threads;        /* -t, >= 1 */
    uint64_t mem_limit;   /* --mem-limit in bytes; 0 = RAM available */
    char cache_dir[4096]; /* --cache-dir */
    uint64_t cache_max;   /* --cache-max in bytes; 0 = twice the memory budget */
    char name[64];        /* --name, default the host name */
    int session_ttl_s;    /* --session-ttl; 0 = sessions never expire */
    lp_attn_opts attn;    /* -fa, -ctk, -ctv: every shard this worker loads */
    char models_dirs[WK_MAX_MODELS_DIRS][4096]; /* --models-dir, resolved */
    char models_dirs_as_given[WK_MAX_MODELS_DIRS][4096]; /* ".." folded */
    int n_models_dirs;
    char key_file[4096];  /* --key: our CURVE key pair; "" = plain links */
    char coordinator_key[LP_KEY_Z85 + 1]; /* --coordinator-key, with --key */
    bool insecure;        /* --insecure: plain links beyond loopback, said so */
} wk_opts;

/* Counters the compute thread publishes and the control thread reports. */
typedef struct wk_stats {
    _Atomic uint64_t sessions_open;
    _Atomic uint64_t kv_bytes_used;
    _Atomic uint64_t kv_bytes_reserved;
    _Atomic uint64_t tokens_processed;
    _Atomic uint64_t compute_us;
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t decode_bytes_out, decode_msgs_out; /* single-token steps */
    _Atomic uint64_t batches, batched_steps; /* decode batches of >= 2 sessions */
    _Atomic uint64_t refused;                /* Errors sent (Stats.refused) */
} wk_stats;

typedef struct wk_ctx {
    wk_opts opts;
    lp_wire *wire;
    lp_sysinfo si;
    double gflops;         /* measured at start (bench_speed.c) */
    char control_ep[256];  /* as bound */
    char data_ep[256];
    wk_stats stats;
    lp_keypair key;        /* with --key: ours (read at start) */
    lp_zap *zap;           /* with --key: who may connect (owned by main.c) */
    uint64_t incarnation;  /* random, drawn at start: tells a restart apart */
} wk_ctx;

/* args.c: parse the command line into o (defaults filled). 0 ok, -1 with
 * err on a bad argument. */
int wk_args_parse(int argc, char **argv, wk_opts *o, lp_err *err);
/* The data endpoint to bind when --data is not given: the control
 * endpoint's host, port + 1 (port 0 when the control port is 0). */
int wk_default_data_endpoint(const char *listen, char *out, size_t cap, lp_err *err);
/* The cache directory when --cache-dir is not given. */
void wk_default_cache_dir(char *out, size_t cap);

/* models_dir.c: --models-dir DIR (resolved; 0, or -1 with err), and
 * whether a LoadShard's model_path may be opened: 0 with its resolved
 * path in out, or -1 with err (nothing opened outside the folders). */
int wk_models_dir_add(wk_opts *o, const char *dir, lp_err *err);
int wk_models_dir_check(const wk_opts *o, const char *path, char *out, size_t cap, lp_err *err);

/* bench_speed.c: GFLOP/s of a Q4_K decode-shaped matvec (~50 ms). */
double wk_bench_gflops(int n_threads);

/* control.c: the control loop, until Shutdown or SIGINT/SIGTERM (which
 * the caller has blocked in every thread). Returns 0 on a clean stop. */
int wk_control_run(wk_ctx *ctx, void *router, void *pair);

/* compute.c: the compute thread. arg is a wk_compute_start. */
typedef struct wk_compute_start {
    wk_ctx *ctx;
    void *pull; /* bound data socket, handed over to the thread */
    void *pair; /* connected end of WK_PAIR_ENDPOINT, handed over too */
} wk_compute_start;
void *wk_compute_main(void *arg);

/* rss.c: the process's resident set in bytes (0 if unknown). */
uint64_t wk_rss_bytes(void);

#endif
