/* config.h — cluster files: which model, which workers, how much memory
 * each may use. INI, read with inih (Debian libinih-dev).
 *
 *   [model]
 *   path = ../shared/models/stories260K.gguf  ; required; relative paths are
 *                                             ; relative to this file's folder
 *   ctx = 512          ; positions per session; 0 or absent: the model's
 *                      ; training context, at most 4096
 *   sessions = 4       ; sessions held at once (1 .. 4096; default 1)
 *   batch = 256        ; tokens per forward step (1 .. 4096; default 256)
 *   prompt_chunk = auto ; prompt tokens per step through the pipeline: auto
 *                      ; (default: from the compute measured so far, see
 *                      ; lp_pipe_chunk) or 1 .. batch
 *   wire_dtype = f32   ; hidden states on the wire: f32 (default), f16,
 *                      ; bf16, q8_0
 *   threads = 2        ; per worker; 0 or absent: each worker's own -t
 *
 *   [server]
 *   listen = 127.0.0.1:8080   ; HTTP API (default 127.0.0.1:8080)
 *   api_key = secret          ; optional bearer token
 *   key = coord.key           ; optional: our CURVE key pair (coord keygen);
 *                             ; then every link is authenticated and
 *                             ; encrypted, and each worker needs public_key
 *   insecure = true           ; without key, [worker.*] links are plain: only
 *                             ; if said (a network you trust); beyond
 *   allow_insecure_remote = true ; loopback this too
 *   recover_timeout = 60      ; seconds a request whose worker was lost waits
 *                             ; for it (or its restart) before it fails; it
 *                             ; is then replayed and goes on (0: fail at once)
 *   step_timeout = 30         ; seconds a step may take at least before its
 *                             ; request fails (10x the measured need when
 *                             ; more; 0: no deadline)
 *   advertise = 192.168.1.2   ; optional: the address workers send results
 *                             ; to, HOST or HOST:PORT (NAT: a fixed port
 *                             ; to forward). Default: for each worker, our
 *                             ; address on the interface that reaches it
 *
 *   [worker.NAME]             ; one per machine; NAME: 1-32 of [A-Za-z0-9_-]
 *   endpoint = tcp://10.0.0.2:5555   ; required: its --listen address
 *   mem = 16G                 ; required: the most it may use (see size.h:
 *                             ; K/M/G/T are binary, 1024-based)
 *   spare = true              ; optional: no layers at first; takes those of a
 *                             ; worker lost (needs model_path)
 *   model_path = /data/m.gguf ; optional: the GGUF on that machine, inside
 *                             ; one of its worker's --models-dir folders; absent:
 *                             ; the coordinator streams it a shard
 *   speed = 1.0               ; optional relative speed (default 1)
 *   public_key = <40 chars>   ; with [server] key: the worker's (its .pub)
 *
 *   [local]                   ; instead of [worker.*]: the coordinator
 *   workers = 2               ; starts this many workers on 127.0.0.1,
 *   mem = 8G                  ; each with this budget
 *
 * Comments start a line with ';' or '#', or follow a value after " ;".
 * Every key and section is checked: unknown ones, duplicates, values out of
 * range, a missing endpoint or mem are errors naming the file, the line and
 * the key: "configs/x.ini:12: key 'mem' in [worker.a]: '16Q' is not a
 * size". Lines are limited to what inih reads at once (198 characters).
 *
 * Ownership: lp_config is a plain caller-owned struct (about 90 KB: keep
 * it off small stacks); loading allocates nothing that outlives the call,
 * so there is nothing to free. */
#ifndef LP_CONFIG_H
#define LP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LP_CONFIG_MAX_WORKERS 64      /* = LP_PLAN_MAX_WORKERS */
#define LP_CONFIG_NAME_MAX 32         /* worker name characters */
#define LP_CONFIG_ENDPOINT_MAX 256
#define LP_CONFIG_PATH_MAX 1024
#define LP_CONFIG_KEY_MAX 256
#define LP_CONFIG_MAX_FILE (1 << 20)  /* bytes in a config file */

/* Hidden-state dtypes on the wire; the values are proto's Lp__HiddenDtype
 * (HIDDEN_F32 = 0 ...), so a cast converts. */
typedef enum lp_config_dtype {
    LP_CONFIG_DTYPE_F32 = 0,
    LP_CONFIG_DTYPE_F16 = 1,
    LP_CONFIG_DTYPE_BF16 = 2,
    LP_CONFIG_DTYPE_Q8_0 = 3,
} lp_config_dtype;

typedef struct lp_config_worker {
    char name[LP_CONFIG_NAME_MAX + 1];        /* "local0".. for [local] */
    char endpoint[LP_CONFIG_ENDPOINT_MAX];    /* "tcp://host:port"; "" for
                                                 [local]: the coordinator
                                                 picks free ports */
    uint64_t mem;                             /* budget, bytes (> 0) */
    double speed;                             /* relative, > 0; default 1 */
    char model_path[LP_CONFIG_PATH_MAX];      /* on the worker; "" = none */
    char public_key[41];                      /* CURVE, Z85; "" = plain */
    bool spare;                               /* spare = true: out of the pipeline,
                                                 takes a lost worker's layers */
    int line;                                 /* of its [section]; 0 local */
} lp_config_worker;

typedef struct lp_config {
    char file[LP_CONFIG_PATH_MAX];            /* as given to load */
    char model_path[LP_CONFIG_PATH_MAX];      /* resolved against file's dir */
    int ctx;                                  /* 0 = from the model */
    int sessions;
    int batch;
    int prompt_chunk;                         /* 0 = auto */
    int threads;                              /* 0 = each worker's own */
    lp_config_dtype wire_dtype;
    char listen[LP_CONFIG_ENDPOINT_MAX];      /* "host:port" */
    char api_key[LP_CONFIG_KEY_MAX];          /* "" = none */
    char advertise[LP_CONFIG_ENDPOINT_MAX];   /* "HOST[:PORT]"; "" = per worker */
    char key_file[LP_CONFIG_PATH_MAX];        /* our CURVE key pair; "" = plain */
    bool insecure, insecure_remote;           /* plain links allowed (beyond loopback) */
    int recover_s;                            /* recover_timeout (default 60) */
    int step_timeout_s;                       /* step_timeout (default 30) */
    bool local;                               /* workers come from [local] */
    int n_workers;                            /* the pipeline: workers[0..n_workers) */
    int n_spares;                             /* then workers[n_workers..+n_spares) */
    lp_config_worker workers[LP_CONFIG_MAX_WORKERS];
} lp_config;

/* Read and check a cluster file. 0, or -1 with err as described above. */
int lp_config_load(const char *path, lp_config *out, lp_err *err);
/* Every field zero but the defaults a file may leave out (sessions 1,
 * batch 256, f32, recover_timeout 60, step_timeout 30, listen
 * 127.0.0.1:8080): what a pool the command line describes starts from.
 * name: what messages call it. */
void lp_config_defaults(lp_config *c, const char *name);

/* The same from text in memory: `name` is used in messages, relative model
 * paths are resolved against `dir` ("" or NULL: left as written). */
int lp_config_parse(const char *text, size_t len, const char *name, const char *dir,
                    lp_config *out, lp_err *err);

/* "f32", "f16", "bf16", "q8_0". */
const char *lp_config_dtype_name(lp_config_dtype d);

#endif
