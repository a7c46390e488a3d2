/* synth_plan.c — a model that is not here, for `coord plan --shape`: a
 * synth shape and a file type named (with errors that list what is valid)
 * and planned from the tensors lp_synth_new plans. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "synth.h"
#include "synth_plan.h"

/* What README, bench/ and tests have called the 70B since before the synth
 * shapes existed. */
static const char k_alias_70b[] = "llama70b-q4_k_m";

/* ", "-separated names into buf (truncated to fit; err's own size is the
 * real limit). */
static void list_shapes(char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; lp_synth_shape_at(i) && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "",
                              lp_synth_shape_at(i)->name);
}

static void list_types(char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < lp_ftype_count() && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "",
                              lp_ftype_name(lp_ftype_at(i)));
}

static int parse_type(const char *name, lp_ftype *out, lp_err *err)
{
    if (lp_ftype_parse(name, out) == 0)
        return 0;
    char types[256];
    list_types(types, sizeof types);
    return lp_err_set(err, "plan: unknown file type '%s' (types: %s)", name, types);
}

int lp_synth_spec_parse(const char *spec, const char *type, lp_synth_spec *out, lp_err *err)
{
    const char *colon = strchr(spec, ':');
    const size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *t = colon ? colon + 1 : type;
    if (colon && type)
        return lp_err_set(err, "plan: --shape %s and --type %s: give the type once", spec,
                          type);
    if (name_len == strlen(k_alias_70b) && !strncasecmp(spec, k_alias_70b, name_len)) {
        if (t)
            return lp_err_set(err, "plan: shape %s names its type (Q4_K_M) already; for "
                              "another, give --shape llama3-70b:%s", k_alias_70b, t);
        *out = LP_SYNTH_LLAMA70B_Q4_K_M;
        return 0;
    }
    const lp_synth_shape *sh = NULL;
    for (int i = 0; lp_synth_shape_at(i) && !sh; i++) {
        const char *n = lp_synth_shape_at(i)->name;
        if (strlen(n) == name_len && !strncmp(n, spec, name_len))
            sh = lp_synth_shape_at(i);
    }
    if (!sh) {
        char shapes[256];
        list_shapes(shapes, sizeof shapes);
        return lp_err_set(err, "plan: unknown shape '%.*s' (shapes: %s; or %s)",
                          (int)(name_len > 64 ? 64 : name_len), spec, shapes, k_alias_70b);
    }
    out->name = sh->name;
    out->ftype = LP_SYNTH_DEFAULT_FTYPE;
    return t ? parse_type(t, &out->ftype, err) : 0;
}

void lp_synth_list_shapes(FILE *f)
{
    for (int i = 0; lp_synth_shape_at(i); i++) {
        const lp_synth_shape *s = lp_synth_shape_at(i);
        fprintf(f, "  %-12s %s: %s, %u layers, n_embd %u, %u/%u heads, ffn %u, vocab %u\n",
                s->name, s->desc, s->arch, s->n_layer, s->n_embd, s->n_head, s->n_head_kv,
                s->n_ff, s->n_vocab);
    }
    fprintf(f, "\ntypes:\n");
    for (int i = 0; i < lp_ftype_count(); i++)
        fprintf(f, "  %-12s %s\n", lp_ftype_name(lp_ftype_at(i)),
                lp_ftype_summary(lp_ftype_at(i)));
}

const lp_synth_spec LP_SYNTH_LLAMA70B_Q4_K_M = {.name = "llama3-70b", .ftype = LP_FTYPE_Q4_K_M};

/* What lp_hparams_read would read from the file lp_synth_write makes. */
static void shape_hparams(const lp_synth_shape *sh, lp_hparams *hp)
{
    *hp = (lp_hparams){.n_vocab = sh->n_vocab, .n_ctx_train = sh->n_ctx,
                       .n_embd = sh->n_embd, .n_layer = sh->n_layer, .n_ff = sh->n_ff,
                       .n_head = sh->n_head, .n_head_kv = sh->n_head_kv,
                       .head_dim = sh->head_dim, .n_rot = sh->head_dim,
                       .rms_eps = sh->rms_eps, .rope_base = sh->rope_base,
                       .rope_freq_scale = 1.0f};
    snprintf(hp->arch_name, sizeof hp->arch_name, "%s", sh->arch);
}

int lp_synth_plan_model(const lp_synth_spec *spec, lp_plan_model *m, lp_err *err)
{
    memset(m, 0, sizeof *m);
    const lp_synth_shape *sh = spec->name ? lp_synth_shape_find(spec->name) : NULL;
    if (!sh)
        return lp_err_set(err, "plan: unknown shape '%s'", spec->name ? spec->name : "");
    const lp_synth_opts o = {.shape = sh, .ftype = spec->ftype, .n_threads = 1};
    lp_synth *s = lp_synth_new(&o, err);
    lp_hparams hp;
    shape_hparams(sh, &hp);
    int rc = s ? lp_plan_model_begin(m, &hp, err) : -1;
    for (size_t i = 0; rc == 0 && i < lp_synth_n_tensors(s); i++) {
        lp_synth_tensor_info ti;
        lp_synth_tensor(s, i, &ti);
        const lp_gguf_tensor t = {.name = {ti.name, strlen(ti.name)}, .n_dims = ti.n_dims,
                                  .ne = {ti.ne[0], ti.ne[1], 1, 1}, .type = ti.type,
                                  .nbytes = ti.nbytes};
        lp_plan_model_add(m, &t);
    }
    if (rc == 0)
        rc = lp_plan_model_end(m, err);
    lp_synth_free(s);
    return rc;
}
