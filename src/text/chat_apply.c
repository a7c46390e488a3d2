/* chat_apply.c — the formatters: each writes what llama.cpp's
 * llm_chat_apply_template writes for its family (src/llama-chat.cpp). */
#include "chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

void lp_chat_buf_free(lp_chat_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Output with a sticky failure flag, so formatters read as plain text. */
typedef struct out {
    lp_chat_buf *b;
    bool failed;
} out;

static void putn(out *o, const char *s, size_t n)
{
    lp_chat_buf *b = o->b;
    if (o->failed)
        return;
    char *d = n < SIZE_MAX ? lp_vec_reserve(b->data, &b->cap, b->len, n + 1, 1) : NULL;
    if (!d) {
        o->failed = true;
        return;
    }
    b->data = d;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void put(out *o, const char *s)
{
    putn(o, s, strlen(s));
}

/* isspace() in the C locale, as llama.cpp's trim() uses it */
static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void put_trim(out *o, const char *s)
{
    size_t a = 0, z = strlen(s);
    while (a < z && space(s[a]))
        a++;
    while (z > a && space(s[z - 1]))
        z--;
    putn(o, s + a, z - a);
}

static bool trimmed_empty(const char *s)
{
    while (*s && space(*s))
        s++;
    return *s == '\0';
}

static bool is(const lp_chat_msg *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

/* ---- the families ------------------------------------------------------- */

/* chatml, phi3, phi4, falcon3, zephyr, llama3: a header per message, a
 * footer after its content, the assistant header as generation prompt. */
typedef struct headed {
    const char *pre, *post_role, *post_content, *gen;
    bool trim;
} headed;

static const headed headed_formats[] = {
    [LP_CHAT_CHATML] = {"<|im_start|>", "\n", "<|im_end|>\n", "<|im_start|>assistant\n", false},
    [LP_CHAT_PHI3] = {"<|", "|>\n", "<|end|>\n", "<|assistant|>\n", false},
    [LP_CHAT_PHI4] = {"<|im_start|>", "<|im_sep|>", "<|im_end|>",
                      "<|im_start|>assistant<|im_sep|>", false},
    [LP_CHAT_FALCON3] = {"<|", "|>\n", "\n", "<|assistant|>\n", false},
    [LP_CHAT_ZEPHYR] = {"<|", "|>\n", "<|endoftext|>\n", "<|assistant|>\n", false},
    [LP_CHAT_LLAMA3] = {"<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>",
                        "<|start_header_id|>assistant<|end_header_id|>\n\n", true},
};

static void fmt_headed(out *o, const headed *f, const lp_chat_msg *m, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        put(o, f->pre);
        put(o, m[i].role);
        put(o, f->post_role);
        if (f->trim)
            put_trim(o, m[i].content);
        else
            put(o, m[i].content);
        put(o, f->post_content);
    }
    if (gen)
        put(o, f->gen);
}

/* [INST] ... [/INST] with an optional <<SYS>> block (llama2) */
static void fmt_llama2(out *o, lp_chat_tmpl t, const lp_chat_msg *m, size_t n)
{
    const bool sys_block = t != LP_CHAT_LLAMA2;
    const bool bos_inside = t == LP_CHAT_LLAMA2_SYS_BOS;
    const bool strip = t == LP_CHAT_LLAMA2_SYS_STRIP;
    bool inside = true; /* the first turn opens without a BOS */
    put(o, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!inside) {
            inside = true;
            put(o, bos_inside ? "<s>[INST] " : "[INST] ");
        }
        const char *open = "", *close = " [/INST]";
        if (is(&m[i], "system")) {
            open = sys_block ? "<<SYS>>\n" : "";
            close = sys_block ? "\n<</SYS>>\n\n" : "\n";
        } else if (is(&m[i], "assistant")) {
            close = "</s>";
            inside = false;
        }
        put(o, open);
        if (strip)
            put_trim(o, m[i].content);
        else
            put(o, m[i].content);
        put(o, close);
    }
}

/* mistral's official v1, v3 and v3-tekken layouts */
static void fmt_mistral_v1_v3(out *o, lp_chat_tmpl t, const lp_chat_msg *m, size_t n)
{
    const char *lead = t == LP_CHAT_MISTRAL_V1 ? " " : "";
    const char *trail = t == LP_CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
    const bool trim_assistant = t == LP_CHAT_MISTRAL_V3;
    bool inside = false;
    for (size_t i = 0; i < n; i++) {
        if (!inside) {
            put(o, lead);
            put(o, "[INST]");
            put(o, trail);
            inside = true;
        }
        if (is(&m[i], "system")) {
            put(o, m[i].content);
            put(o, "\n\n");
        } else if (is(&m[i], "user")) {
            put(o, m[i].content);
            put(o, lead);
            put(o, "[/INST]");
        } else {
            put(o, trail);
            if (trim_assistant)
                put_trim(o, m[i].content);
            else
                put(o, m[i].content);
            put(o, "</s>");
            inside = false;
        }
    }
}

/* mistral v7: [SYSTEM_PROMPT] blocks; tekken drops the spaces */
static void fmt_mistral_v7(out *o, lp_chat_tmpl t, const lp_chat_msg *m, size_t n)
{
    const char *sp = t == LP_CHAT_MISTRAL_V7 ? " " : "";
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            put(o, "[SYSTEM_PROMPT]");
            put(o, sp);
            put(o, m[i].content);
            put(o, "[/SYSTEM_PROMPT]");
        } else if (is(&m[i], "user")) {
            put(o, "[INST]");
            put(o, sp);
            put(o, m[i].content);
            put(o, "[/INST]");
        } else {
            put(o, sp);
            put(o, m[i].content);
            put(o, "</s>");
        }
    }
}

/* AlphaMonarch: "<s>" opens every message but the first */
static void fmt_monarch(out *o, const lp_chat_msg *m, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(o, "<s>");
        put(o, m[i].role);
        put(o, "\n");
        put(o, m[i].content);
        put(o, "</s>\n");
    }
    if (gen)
        put(o, "<s>assistant\n");
}

/* gemma has no system turn: trimmed system texts wait, concatenated, and
 * open the next user turn; the assistant is called "model". */
static void fmt_gemma(out *o, const lp_chat_msg *m, size_t n, bool gen)
{
    size_t waiting_from = 0; /* system messages at or after this wait */
    bool waiting = false;    /* ...and together they are not empty */
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            waiting = waiting || !trimmed_empty(m[i].content);
            continue;
        }
        const bool model = is(&m[i], "assistant");
        put(o, "<start_of_turn>");
        put(o, model ? "model" : m[i].role);
        put(o, "\n");
        if (waiting && !model) {
            for (size_t j = waiting_from; j < i; j++)
                if (is(&m[j], "system"))
                    put_trim(o, m[j].content);
            put(o, "\n\n");
            waiting = false;
            waiting_from = i + 1;
        }
        put_trim(o, m[i].content);
        put(o, "<end_of_turn>\n");
    }
    if (gen)
        put(o, "<start_of_turn>model\n");
}

/* ---- entry ----------------------------------------------------------------- */

static int check_messages(const lp_chat_msg *m, size_t n, lp_err *err)
{
    if (n > 0 && !m)
        return lp_err_set(err, "chat: %zu messages but no array", n);
    for (size_t i = 0; i < n; i++) {
        if (!m[i].role || !m[i].content)
            return lp_err_set(err, "chat: message %zu has no %s", i,
                              m[i].role ? "content" : "role");
        if (!is(&m[i], "system") && !is(&m[i], "user") && !is(&m[i], "assistant"))
            return lp_err_set(err, "chat: message %zu has role '%.32s'; "
                              "only system, user and assistant are supported", i, m[i].role);
    }
    return 0;
}

int lp_chat_apply(lp_chat_tmpl t, const lp_chat_msg *msgs, size_t n_msgs,
                  bool add_generation_prompt, lp_chat_buf *buf, lp_err *err)
{
    if (!buf)
        return lp_err_set(err, "chat: no output buffer");
    if (!lp_chat_template_supported(t))
        return lp_err_set(err, "chat: template '%s' is not supported", lp_chat_template_name(t));
    if (check_messages(msgs, n_msgs, err) < 0)
        return -1;
    out o = {buf, false};
    buf->len = 0;
    putn(&o, "", 0); /* an empty conversation is still a valid string */
    switch (t) {
    case LP_CHAT_LLAMA2:
    case LP_CHAT_LLAMA2_SYS:
    case LP_CHAT_LLAMA2_SYS_BOS:
    case LP_CHAT_LLAMA2_SYS_STRIP:
        fmt_llama2(&o, t, msgs, n_msgs);
        break;
    case LP_CHAT_MISTRAL_V1:
    case LP_CHAT_MISTRAL_V3:
    case LP_CHAT_MISTRAL_V3_TEKKEN:
        fmt_mistral_v1_v3(&o, t, msgs, n_msgs);
        break;
    case LP_CHAT_MISTRAL_V7:
    case LP_CHAT_MISTRAL_V7_TEKKEN:
        fmt_mistral_v7(&o, t, msgs, n_msgs);
        break;
    case LP_CHAT_MONARCH:
        fmt_monarch(&o, msgs, n_msgs, add_generation_prompt);
        break;
    case LP_CHAT_GEMMA:
        fmt_gemma(&o, msgs, n_msgs, add_generation_prompt);
        break;
    case LP_CHAT_CHATML:
    case LP_CHAT_PHI3:
    case LP_CHAT_PHI4:
    case LP_CHAT_FALCON3:
    case LP_CHAT_ZEPHYR:
    case LP_CHAT_LLAMA3:
        fmt_headed(&o, &headed_formats[t], msgs, n_msgs, add_generation_prompt);
        break;
    default: /* lp_chat_template_supported and this switch disagree */
        return lp_err_set(err, "chat: no formatter for '%s'", lp_chat_template_name(t));
    }
    if (o.failed)
        return lp_err_set(err, "chat: out of memory formatting %zu messages", n_msgs);
    return 0;
}
