/* plan_shape.c — naming a model that is not here for `coord plan --shape`:
 * a synth shape and a file type, with errors that list what is valid. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "plan.h"
#include "synth.h"

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

int lp_plan_shape_parse(const char *spec, const char *type, lp_plan_shape *out, lp_err *err)
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
        *out = LP_PLAN_SHAPE_LLAMA70B_Q4_K_M;
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
    out->ftype = LP_PLAN_SHAPE_DEFAULT_FTYPE;
    return t ? parse_type(t, &out->ftype, err) : 0;
}
