/* support_serve.h — what the end-to-end tests of `coord serve` share: a
 * local pool's cluster file, llama.cpp's greedy text for the stories260K
 * prompts, and OpenAI requests answered as parsed JSON or collected from
 * their streams. Helpers that assert use cmocka; those meant for threads
 * (sv_t_stream) only report. Include after cmocka.h. */
#ifndef LP_TEST_SUPPORT_SERVE_H
#define LP_TEST_SUPPORT_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "support_http.h"

enum { SV_T_CASES = 3, SV_T_TIMEOUT_MS = 120000 };

/* The stories260K prompts of shared/reference/greedy, and what llama.cpp
 * continues each with: the pieces of its greedy ids, joined. */
typedef struct sv_t_ref {
    const char *prompt[SV_T_CASES];
    char *want[SV_T_CASES];   /* owned */
    int n_prompt[SV_T_CASES]; /* tokens, BOS included */
    int n_gen[SV_T_CASES];
} sv_t_ref;

void sv_t_ref_load(sv_t_ref *r);
void sv_t_ref_free(sv_t_ref *r);

/* Write dir/NAME.ini: `workers` local workers on stories260K, ctx,
 * sessions, and the server lines (e.g. "api_key = k\n"). Returns the path
 * in buf. */
char *sv_t_config(char *buf, size_t cap, const char *dir, const char *name, int workers,
                  int ctx, int sessions, const char *server_lines);

/* POST json to path; the body parsed (caller cJSON_Deletes), *status set.
 * Fails the test if there is no answer or it is not JSON. */
void *sv_t_post(int port, const char *path, const char *json, const char *extra, int *status);
void *sv_t_get(int port, const char *path, int *status);
/* GET with header lines (e.g. the API key). */
void *sv_t_get_with(int port, const char *path, const char *extra, int *status);

/* A streamed answer, collected. */
typedef struct sv_t_stream {
    int status;
    char *text;          /* the deltas joined (chat content or completion text), owned */
    int n_chunks;        /* data events other than [DONE] */
    bool done;           /* ended with data: [DONE] */
    char finish[16];     /* the last finish_reason seen */
    int usage_prompt, usage_completion, usage_total; /* -1 if no usage chunk */
    int n_logprobs;      /* logprob entries over all chunks */
    char error[256];     /* why it is not a well-formed stream ("" if it is) */
} sv_t_stream;

/* Thread-safe: reports through out->error rather than asserting. */
void sv_t_stream_run(int port, const char *path, const char *json, const char *extra,
                     sv_t_stream *out);
void sv_t_stream_free(sv_t_stream *s);

/* The string at o.a.b (keys) or o[i] (numbers as "0".."9"): NULL if absent. */
const char *sv_t_str(const void *json, const char *path);
double sv_t_num(const void *json, const char *path); /* NaN if absent */

/* The workers' sessions_open summed, from /v1/pool (extra: header lines,
 * e.g. the API key); -1 on no answer. */
int sv_t_sessions_open(int port, const char *extra);

/* A coord serve over a local pool of stories260K (two workers), with
 * llama.cpp's greedy text at hand: the fixture of the serve tests. */
typedef struct sv_t_fixture {
    char dir[4096];
    lp_test_server srv;
    sv_t_ref ref;
} sv_t_fixture;

/* cmocka setup: start it with `workers` local workers, ctx positions,
 * sessions, the [server] lines (NULL: none) and coord serve's extra
 * arguments; *state gets it. */
int sv_t_fixture_start(void **state, int workers, int ctx, int sessions,
                       const char *server_lines, const char *args);
/* cmocka teardown: stop the server if a test failed before stopping it. */
int sv_t_fixture_teardown(void **state);
/* The fixture's last test: SIGTERM, and a clean exit (0; under ASan that
 * is also: nothing leaked). */
void sv_t_test_stops_cleanly(void **state);

/* SIGTERM the server and fail (showing the end of its log) unless it exits
 * 0 — under ASan that also means nothing leaked. */
void sv_t_stop_cleanly(lp_test_server *srv);

#endif
