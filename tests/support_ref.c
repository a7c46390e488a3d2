#include "support_ref.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

const char *const REF_MODELS[] = {
    "stories260K", "stories260K-Q4_K_M", "synth-llama-f32", "synth-llama-F16",
    "synth-llama-BF16", "synth-llama-Q8_0", "synth-llama-Q4_0", "synth-llama-Q4_1",
    "synth-llama-Q5_0", "synth-llama-Q5_1", "synth-llama-Q2_K", "synth-llama-Q3_K_M",
    "synth-llama-Q4_K_S", "synth-llama-Q4_K_M", "synth-llama-Q5_K_M", "synth-llama-Q6_K",
    "synth-llama31-tied-f16", "synth-llama31-tied-Q4_K_M", "synth-qwen2-f32",
    "synth-qwen2-Q8_0", "synth-qwen2-Q4_K_M", NULL,
};

static int read_ints(const cJSON *a, int32_t **out, int *n)
{
    if (!cJSON_IsArray(a))
        return -1;
    *n = cJSON_GetArraySize(a);
    *out = calloc((size_t)*n + 1, sizeof **out);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) (*out)[i++] = (int32_t)e->valuedouble;
    return 0;
}

static int read_floats(const cJSON *a, float **out, int *n)
{
    if (!cJSON_IsArray(a))
        return -1;
    *n = cJSON_GetArraySize(a);
    *out = calloc((size_t)*n + 1, sizeof **out);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) (*out)[i++] = (float)e->valuedouble;
    return 0;
}

static int read_case(const cJSON *o, ref_case *c)
{
    int n_gaps = 0;
    if (read_ints(cJSON_GetObjectItem(o, "prompt_ids"), &c->prompt, &c->n_prompt) ||
        read_floats(cJSON_GetObjectItem(o, "last_logits"), &c->logits, &c->n_vocab) ||
        read_ints(cJSON_GetObjectItem(o, "greedy_ids"), &c->greedy, &c->n_greedy) ||
        read_floats(cJSON_GetObjectItem(o, "greedy_top2_gaps"), &c->gaps, &n_gaps))
        return -1;
    return n_gaps == c->n_greedy ? 0 : -1;
}

static bool stem_is_float(const char *stem)
{
    return !strcmp(stem, "stories260K") || strstr(stem, "f32") || strstr(stem, "F16") ||
           strstr(stem, "f16") || strstr(stem, "BF16");
}

int ref_load(const char *stem, ref_model *out)
{
    char rel[256], path[4096];
    size_t len;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", stem);
    out->is_float = stem_is_float(stem);
    snprintf(rel, sizeof rel, "reference/greedy/%s.json", stem);
    char *text = lp_test_read_file(lp_test_shared(path, sizeof path, rel), &len);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    int rc = -1;
    if (cJSON_IsArray(root)) {
        out->n_cases = cJSON_GetArraySize(root);
        out->cases = calloc((size_t)out->n_cases, sizeof *out->cases);
        int i = 0;
        const cJSON *e;
        rc = 0;
        cJSON_ArrayForEach(e, root) rc |= read_case(e, &out->cases[i++]);
    }
    cJSON_Delete(root);
    return rc;
}

void ref_free(ref_model *m)
{
    for (int i = 0; i < m->n_cases; i++) {
        free(m->cases[i].prompt);
        free(m->cases[i].logits);
        free(m->cases[i].greedy);
        free(m->cases[i].gaps);
    }
    free(m->cases);
    memset(m, 0, sizeof *m);
}

float ref_logit_tolerance(const ref_model *m, const ref_case *c)
{
    float lo = c->logits[0], hi = c->logits[0];
    for (int i = 1; i < c->n_vocab; i++) {
        lo = c->logits[i] < lo ? c->logits[i] : lo;
        hi = c->logits[i] > hi ? c->logits[i] : hi;
    }
    return (m->is_float ? 1e-3f : 1e-2f) * (hi - lo);
}

int ref_greedy_mismatch(const ref_case *c, const int32_t *ours, int n, bool *noise_stop)
{
    *noise_stop = false;
    for (int i = 0; i < c->n_greedy; i++) {
        if (i >= n)
            return i;
        if (ours[i] == c->greedy[i])
            continue;
        if (c->gaps[i] < 0.01f) {
            *noise_stop = true;
            return -1;
        }
        return i;
    }
    return -1;
}
