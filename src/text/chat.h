/* chat.h — turn a conversation into the prompt text a chat model expects.
 *
 * This is llama.cpp's built-in (non-Jinja) template path: the model's
 * `tokenizer.chat_template` (a Jinja string from the GGUF) is not executed;
 * substring heuristics recognise which family it belongs to, exactly as
 * llama.cpp's llm_chat_detect_template does, and a hand-written formatter
 * for that family produces text equal byte for byte to llama.cpp's
 * llm_chat_apply_template for the same messages.
 *
 * Detection recognises every family llama.cpp does, so a template is never
 * mistaken for a neighbour; lp_chat_apply formats these (llama.cpp names):
 *   chatml (Qwen, Hermes, ...), llama3, llama2, llama2-sys, llama2-sys-bos,
 *   llama2-sys-strip, mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7,
 *   mistral-v7-tekken, phi3, phi4, falcon3, zephyr, monarch, gemma.
 * The others are recognised by name but refused with a clear error.
 *
 * BOS rule. No template here begins its output with the model's BOS token
 * (llama.cpp's formatters never emit "<|begin_of_text|>" or a leading
 * "<s>", although the Jinja originals do). The caller tokenizes the output
 * the way llama.cpp does after applying a template: add BOS if and only if
 * the model's `tokenizer.ggml.add_bos_token` says so, and parse special
 * tokens in the text (it contains control tokens such as <|eot_id|>,
 * <|im_end|>, [INST]; llama2-sys-bos and monarch also put "<s>" between
 * turns, which must become the BOS token id). The same parsing applies to
 * message contents, as in llama.cpp.
 *
 * What the templates do with the generation prompt: chatml, llama3, phi3,
 * phi4, falcon3, zephyr, monarch and gemma append the assistant header when
 * add_generation_prompt is true; the llama2 and mistral families end the
 * last user turn with "[/INST]" either way.
 *
 * Ownership: messages are borrowed for the call. The output buffer is the
 * caller's (zero-initialize it, reuse it, free it with lp_chat_buf_free). */
#ifndef LP_CHAT_H
#define LP_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef enum lp_chat_tmpl {
    LP_CHAT_UNKNOWN = 0,
    /* formatted by lp_chat_apply */
    LP_CHAT_CHATML,
    LP_CHAT_LLAMA2,
    LP_CHAT_LLAMA2_SYS,
    LP_CHAT_LLAMA2_SYS_BOS,
    LP_CHAT_LLAMA2_SYS_STRIP,
    LP_CHAT_MISTRAL_V1,
    LP_CHAT_MISTRAL_V3,
    LP_CHAT_MISTRAL_V3_TEKKEN,
    LP_CHAT_MISTRAL_V7,
    LP_CHAT_MISTRAL_V7_TEKKEN,
    LP_CHAT_PHI3,
    LP_CHAT_PHI4,
    LP_CHAT_FALCON3,
    LP_CHAT_ZEPHYR,
    LP_CHAT_MONARCH,
    LP_CHAT_GEMMA,
    LP_CHAT_LLAMA3,
    /* recognised, not formatted */
    LP_CHAT_SMOLVLM,
    LP_CHAT_CHATGLM3,
    LP_CHAT_CHATGLM4,
    LP_CHAT_GLMEDGE,
    LP_CHAT_ORION,
    LP_CHAT_OPENCHAT,
    LP_CHAT_VICUNA,
    LP_CHAT_VICUNA_ORCA,
    LP_CHAT_DEEPSEEK,
    LP_CHAT_DEEPSEEK2,
    LP_CHAT_DEEPSEEK3,
    LP_CHAT_COMMAND_R,
    LP_CHAT_MINICPM,
    LP_CHAT_EXAONE3,
    LP_CHAT_EXAONE4,
    LP_CHAT_RWKV_WORLD,
    LP_CHAT_GRANITE,
    LP_CHAT_GIGACHAT,
    LP_CHAT_MEGREZ,
    LP_CHAT_YANDEX,
    LP_CHAT_BAILING,
    LP_CHAT_BAILING_THINK,
    LP_CHAT_BAILING2,
    LP_CHAT_LLAMA4,
    LP_CHAT_DOTS1,
    LP_CHAT_HUNYUAN_MOE,
    LP_CHAT_GPT_OSS,
    LP_CHAT_HUNYUAN_DENSE,
    LP_CHAT_KIMI_K2,
    LP_CHAT_SEED_OSS,
    LP_CHAT_GROK2,
    LP_CHAT_PANGU_EMBED,
    LP_CHAT_COUNT
} lp_chat_tmpl;

/* llama.cpp's name for t ("chatml", "llama3", ...); "unknown" if none. */
const char *lp_chat_template_name(lp_chat_tmpl t);

/* The template with this llama.cpp name (what `--chat-template NAME`
 * passes), or LP_CHAT_UNKNOWN. NULL is LP_CHAT_UNKNOWN. */
lp_chat_tmpl lp_chat_template_from_name(const char *name);

/* Whether lp_chat_apply formats t. */
bool lp_chat_template_supported(lp_chat_tmpl t);

/* Classify a Jinja template (need not be NUL-terminated): a string that is
 * exactly a template name means that template; otherwise llama.cpp's
 * substring heuristics, in llama.cpp's order. A model without a template
 * (jinja NULL or len 0) gets chatml, as in llama.cpp. LP_CHAT_UNKNOWN if
 * nothing matches. */
lp_chat_tmpl lp_chat_detect(const char *jinja, size_t len);

/* The coordinator's decision in one call: the override name if given
 * (--chat-template), else detection on the model's template. Fails with a
 * sentence naming the problem and the supported names when the name is
 * not a template, the model's template is not recognised, or the template
 * is recognised but not formatted here. */
int lp_chat_resolve(const char *override_name, const char *jinja, size_t len,
                    lp_chat_tmpl *out, lp_err *err);

typedef struct lp_chat_msg {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content; /* NUL-terminated UTF-8 */
} lp_chat_msg;

/* A growable string the caller owns. data is NUL-terminated after a
 * successful lp_chat_apply; len excludes the NUL. */
typedef struct lp_chat_buf {
    char *data;
    size_t len;
    size_t cap;
} lp_chat_buf;

void lp_chat_buf_free(lp_chat_buf *b); /* frees data and zeroes *b */

/* Replace out's contents with the prompt for msgs[0..n_msgs). Fails (-1,
 * err says which message) on a NULL role or content, a role other than
 * system/user/assistant, an unsupported template, or out of memory; out
 * then holds no useful text but stays valid for reuse or freeing. */
int lp_chat_apply(lp_chat_tmpl t, const lp_chat_msg *msgs, size_t n_msgs,
                  bool add_generation_prompt, lp_chat_buf *out, lp_err *err);

#endif
