/* support_ref.h — llama.cpp's reference outputs (shared/reference/greedy). */
#ifndef LP_TEST_SUPPORT_REF_H
#define LP_TEST_SUPPORT_REF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ref_case {
    int32_t *prompt;   /* owned */
    int n_prompt;
    float *logits;     /* owned, n_vocab */
    int n_vocab;
    int32_t *greedy;   /* owned */
    float *gaps;       /* owned; llama.cpp's top-1 minus top-2 logit per step */
    int n_greedy;
} ref_case;

typedef struct ref_model {
    char name[128];    /* file stem, e.g. "synth-llama-Q4_K_M" */
    bool is_float;     /* F32/F16/BF16 weights: the tighter logit tolerance */
    ref_case *cases;   /* owned */
    int n_cases;
} ref_model;

/* Load shared/reference/greedy/<stem>.json. 0 on success. */
int ref_load(const char *stem, ref_model *out);
void ref_free(ref_model *m);

/* Stems of every model the reference covers (NULL-terminated, static). */
extern const char *const REF_MODELS[];

/* Tolerance for max |ours - ref| from reference/README.md. */
float ref_logit_tolerance(const ref_model *m, const ref_case *c);

/* Compare our greedy ids with llama.cpp's, step by step, as the reference
 * README says: a different choice where llama.cpp's top-2 gap is below
 * 0.01 is float noise and ends the comparison (*noise_stop = true).
 * Returns the index of the first real mismatch, or -1 if none. */
int ref_greedy_mismatch(const ref_case *c, const int32_t *ours, int n, bool *noise_stop);

#endif
