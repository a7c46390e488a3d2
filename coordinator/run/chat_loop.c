#include "chat_loop.h"

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "vec.h"

/* The conversation so far; every string is owned here. */
typedef struct convo {
    lp_chat_msg *msgs;
    size_t n, cap;
} convo;

static int convo_add(convo *c, const char *role, const char *text, size_t len)
{
    lp_chat_msg *m = lp_vec_reserve(c->msgs, &c->cap, c->n, 1, sizeof *m);
    if (!m)
        return -1;
    c->msgs = m;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = 0;
    c->msgs[c->n++] = (lp_chat_msg){role, copy};
    return 0;
}

static void convo_free(convo *c)
{
    for (size_t i = 0; i < c->n; i++)
        free((char *)c->msgs[i].content);
    free(c->msgs);
}

static int pick_template(const chat_engine *e, const run_opts *o, lp_chat_tmpl *t, lp_err *err)
{
    lp_str jinja = {0};
    lp_gguf_get_str(e->gguf, "tokenizer.chat_template", &jinja);
    return lp_chat_resolve(o->chat_template, jinja.ptr, jinja.len, t, err);
}

int chat_turn_local(void *session_ptr, const lp_token *ids, size_t n, run_tokens *reply,
                    lp_err *err)
{
    run_local *s = session_ptr;
    const float *logits;
    if (run_local_set_context(s, ids, n, &logits, err) != 0)
        return -1;
    return run_local_generate(s, s->opts, logits, reply, err);
}

/* Format and tokenize the conversation with the assistant's turn opened,
 * have the engine reply, keep the reply as the assistant's message. */
static int one_turn(const chat_engine *e, lp_chat_tmpl t, convo *c, lp_chat_buf *buf,
                    lp_err *err)
{
    lp_token *ids = NULL;
    size_t n = 0, len = 0;
    run_tokens reply = {0};
    char *text = NULL;
    /* The template text never holds BOS itself (chat.h): add it as the
     * model asks, and parse the template's special tokens. */
    int rc = lp_chat_apply(t, c->msgs, c->n, true, buf, err);
    if (rc == 0)
        rc = lp_tokenize(e->tok, buf->data, buf->len, true, true, &ids, &n, err);
    if (rc == 0)
        rc = e->turn(e->ctx, ids, n, &reply, err);
    if (rc == 0)
        rc = lp_detokenize(e->tok, reply.ids, reply.n, false, false, &text, &len, err);
    if (rc == 0 && convo_add(c, "assistant", text, len) != 0)
        rc = lp_err_set(err, "out of memory");
    free(text);
    free(reply.ids);
    free(ids);
    return rc;
}

int chat_loop(const chat_engine *e, const run_opts *o, FILE *in, lp_err *err)
{
    lp_chat_tmpl t;
    convo c = {0};
    lp_chat_buf buf = {0};
    char *line = NULL;
    size_t cap = 0, bad;
    int rc = pick_template(e, o, &t, err);
    if (rc == 0 && o->system && convo_add(&c, "system", o->system, strlen(o->system)) != 0)
        rc = lp_err_set(err, "out of memory");
    while (rc == 0) {
        fputs("> ", stdout);
        fflush(stdout);
        ssize_t got = getline(&line, &cap, in);
        if (got < 0)
            break; /* end of input ends the chat */
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (got == 0)
            continue;
        if (!lp_utf8_valid(line, (size_t)got, &bad)) {
            fprintf(stderr, "(that line is not valid UTF-8 at byte %zu; say it again)\n", bad);
            continue;
        }
        if (convo_add(&c, "user", line, (size_t)got) != 0)
            rc = lp_err_set(err, "out of memory");
        else
            rc = one_turn(e, t, &c, &buf, err);
    }
    if (rc == 0)
        fputs("\n", stdout);
    free(line);
    lp_chat_buf_free(&buf);
    convo_free(&c);
    return rc;
}
