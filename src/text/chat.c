/* chat.c — which chat template a model uses: names and detection.
 * The formatters are in chat_apply.c. */
#include "chat.h"

#include <stdio.h>
#include <string.h>

/* llama.cpp's names (src/llama-chat.cpp, LLM_CHAT_TEMPLATES), by enum. */
static const char *const names[LP_CHAT_COUNT] = {
    [LP_CHAT_UNKNOWN] = "unknown",
    [LP_CHAT_CHATML] = "chatml",
    [LP_CHAT_LLAMA2] = "llama2",
    [LP_CHAT_LLAMA2_SYS] = "llama2-sys",
    [LP_CHAT_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [LP_CHAT_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
    [LP_CHAT_MISTRAL_V1] = "mistral-v1",
    [LP_CHAT_MISTRAL_V3] = "mistral-v3",
    [LP_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [LP_CHAT_MISTRAL_V7] = "mistral-v7",
    [LP_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [LP_CHAT_PHI3] = "phi3",
    [LP_CHAT_PHI4] = "phi4",
    [LP_CHAT_FALCON3] = "falcon3",
    [LP_CHAT_ZEPHYR] = "zephyr",
    [LP_CHAT_MONARCH] = "monarch",
    [LP_CHAT_GEMMA] = "gemma",
    [LP_CHAT_LLAMA3] = "llama3",
    [LP_CHAT_SMOLVLM] = "smolvlm",
    [LP_CHAT_CHATGLM3] = "chatglm3",
    [LP_CHAT_CHATGLM4] = "chatglm4",
    [LP_CHAT_GLMEDGE] = "glmedge",
    [LP_CHAT_ORION] = "orion",
    [LP_CHAT_OPENCHAT] = "openchat",
    [LP_CHAT_VICUNA] = "vicuna",
    [LP_CHAT_VICUNA_ORCA] = "vicuna-orca",
    [LP_CHAT_DEEPSEEK] = "deepseek",
    [LP_CHAT_DEEPSEEK2] = "deepseek2",
    [LP_CHAT_DEEPSEEK3] = "deepseek3",
    [LP_CHAT_COMMAND_R] = "command-r",
    [LP_CHAT_MINICPM] = "minicpm",
    [LP_CHAT_EXAONE3] = "exaone3",
    [LP_CHAT_EXAONE4] = "exaone4",
    [LP_CHAT_RWKV_WORLD] = "rwkv-world",
    [LP_CHAT_GRANITE] = "granite",
    [LP_CHAT_GIGACHAT] = "gigachat",
    [LP_CHAT_MEGREZ] = "megrez",
    [LP_CHAT_YANDEX] = "yandex",
    [LP_CHAT_BAILING] = "bailing",
    [LP_CHAT_BAILING_THINK] = "bailing-think",
    [LP_CHAT_BAILING2] = "bailing2",
    [LP_CHAT_LLAMA4] = "llama4",
    [LP_CHAT_DOTS1] = "dots1",
    [LP_CHAT_HUNYUAN_MOE] = "hunyuan-moe",
    [LP_CHAT_GPT_OSS] = "gpt-oss",
    [LP_CHAT_HUNYUAN_DENSE] = "hunyuan-dense",
    [LP_CHAT_KIMI_K2] = "kimi-k2",
    [LP_CHAT_SEED_OSS] = "seed_oss",
    [LP_CHAT_GROK2] = "grok-2",
    [LP_CHAT_PANGU_EMBED] = "pangu-embedded",
};

const char *lp_chat_template_name(lp_chat_tmpl t)
{
    return t > LP_CHAT_UNKNOWN && t < LP_CHAT_COUNT ? names[t] : names[LP_CHAT_UNKNOWN];
}

bool lp_chat_template_supported(lp_chat_tmpl t)
{
    return t >= LP_CHAT_CHATML && t <= LP_CHAT_LLAMA3;
}

/* Exact match against the names, over a possibly unterminated string. */
static lp_chat_tmpl by_name(const char *s, size_t len)
{
    for (int t = LP_CHAT_UNKNOWN + 1; t < LP_CHAT_COUNT; t++)
        if (strlen(names[t]) == len && memcmp(names[t], s, len) == 0)
            return (lp_chat_tmpl)t;
    return LP_CHAT_UNKNOWN;
}

lp_chat_tmpl lp_chat_template_from_name(const char *name)
{
    return name ? by_name(name, strlen(name)) : LP_CHAT_UNKNOWN;
}

/* A template string with its length, searched like std::string::find. */
typedef struct jinja {
    const char *s;
    size_t len;
} jinja;

static bool has(jinja j, const char *needle)
{
    const size_t n = strlen(needle);
    if (n > j.len)
        return false;
    for (size_t i = 0; i + n <= j.len; i++)
        if (j.s[i] == needle[0] && memcmp(j.s + i, needle, n) == 0)
            return true;
    return false;
}

static bool starts(jinja j, const char *prefix)
{
    const size_t n = strlen(prefix);
    return n <= j.len && memcmp(j.s, prefix, n) == 0;
}

/* The [INST] families, told apart as llama.cpp does. */
static lp_chat_tmpl detect_inst(jinja j)
{
    if (has(j, "[SYSTEM_PROMPT]"))
        return LP_CHAT_MISTRAL_V7;
    /* mistral's official v1 template, or v3/v3-tekken (tool support) */
    if (has(j, "' [INST] ' + system_message") || has(j, "[AVAILABLE_TOOLS]")) {
        if (has(j, " [INST]"))
            return LP_CHAT_MISTRAL_V1;
        if (has(j, "\"[INST]\""))
            return LP_CHAT_MISTRAL_V3_TEKKEN;
        return LP_CHAT_MISTRAL_V3;
    }
    if (has(j, "content.strip()"))
        return LP_CHAT_LLAMA2_SYS_STRIP;
    if (has(j, "bos_token + '[INST]"))
        return LP_CHAT_LLAMA2_SYS_BOS;
    if (has(j, "<<SYS>>"))
        return LP_CHAT_LLAMA2_SYS;
    return LP_CHAT_LLAMA2;
}

/* The families llama.cpp checks before Llama 3's headers. */
static lp_chat_tmpl detect_early(jinja j)
{
    if (has(j, "<|im_start|>")) {
        if (has(j, "<|im_sep|>"))
            return LP_CHAT_PHI4;
        /* SmolVLM uses <|im_start|> as its BOS but is not chatml */
        return has(j, "<end_of_utterance>") ? LP_CHAT_SMOLVLM : LP_CHAT_CHATML;
    }
    if (starts(j, "mistral") || has(j, "[INST]"))
        return detect_inst(j);
    if (has(j, "<|assistant|>") && has(j, "<|end|>"))
        return LP_CHAT_PHI3;
    if (has(j, "[gMASK]<sop>"))
        return LP_CHAT_CHATGLM4;
    if (has(j, "<|assistant|>") && has(j, "<|user|>"))
        return has(j, "</s>") ? LP_CHAT_FALCON3 : LP_CHAT_GLMEDGE;
    if (has(j, "<|{{ item['role'] }}|>") && has(j, "<|begin_of_image|>"))
        return LP_CHAT_GLMEDGE;
    if (has(j, "<|user|>") && has(j, "<|endoftext|>"))
        return LP_CHAT_ZEPHYR;
    if (has(j, "bos_token + message['role']"))
        return LP_CHAT_MONARCH;
    if (has(j, "<start_of_turn>"))
        return LP_CHAT_GEMMA;
    if (has(j, "'\\n\\nAssistant: ' + eos_token"))
        return LP_CHAT_ORION;
    if (has(j, "GPT4 Correct "))
        return LP_CHAT_OPENCHAT;
    if (has(j, "USER: ") && has(j, "ASSISTANT: "))
        return has(j, "SYSTEM: ") ? LP_CHAT_VICUNA_ORCA : LP_CHAT_VICUNA;
    if (has(j, "### Instruction:") && has(j, "<|EOT|>"))
        return LP_CHAT_DEEPSEEK;
    if (has(j, "<|START_OF_TURN_TOKEN|>") && has(j, "<|USER_TOKEN|>"))
        return LP_CHAT_COMMAND_R;
    if (has(j, "<|start_header_id|>") && has(j, "<|end_header_id|>"))
        return LP_CHAT_LLAMA3;
    return LP_CHAT_UNKNOWN;
}

static lp_chat_tmpl detect_late(jinja j)
{
    if (has(j, "[gMASK]sop"))
        return LP_CHAT_CHATGLM3;
    if (has(j, "<用户>"))
        return LP_CHAT_MINICPM;
    if (has(j, "'Assistant: ' + message['content'] + eos_token"))
        return LP_CHAT_DEEPSEEK2;
    if (has(j, "<｜Assistant｜>") && has(j, "<｜User｜>") && has(j, "<｜end▁of▁sentence｜>"))
        return LP_CHAT_DEEPSEEK3;
    if (has(j, "[|system|]") && has(j, "[|assistant|]") && has(j, "[|endofturn|]"))
        return has(j, "[|tool|]") ? LP_CHAT_EXAONE4 : LP_CHAT_EXAONE3;
    if (has(j, "rwkv-world") || has(j, "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}"))
        return LP_CHAT_RWKV_WORLD;
    if (has(j, "<|start_of_role|>"))
        return LP_CHAT_GRANITE;
    if (has(j, "message['role'] + additional_special_tokens[0] + message['content'] + "
               "additional_special_tokens[1]"))
        return LP_CHAT_GIGACHAT;
    if (has(j, "<|role_start|>"))
        return LP_CHAT_MEGREZ;
    if (has(j, " Ассистент:"))
        return LP_CHAT_YANDEX;
    if (has(j, "<role>ASSISTANT</role>") && has(j, "'HUMAN'"))
        return LP_CHAT_BAILING;
    if (has(j, "<role>ASSISTANT</role>") && has(j, "\"HUMAN\"") && has(j, "<think>"))
        return LP_CHAT_BAILING_THINK;
    if (has(j, "<role>ASSISTANT</role>") && has(j, "<role>HUMAN</role>") && has(j, "<|role_end|>"))
        return LP_CHAT_BAILING2;
    if (has(j, "<|header_start|>") && has(j, "<|header_end|>"))
        return LP_CHAT_LLAMA4;
    if (has(j, "<|endofuserprompt|>"))
        return LP_CHAT_DOTS1;
    if (has(j, "<|extra_0|>") && has(j, "<|extra_4|>"))
        return LP_CHAT_HUNYUAN_MOE;
    if (has(j, "<|start|>") && has(j, "<|channel|>"))
        return LP_CHAT_GPT_OSS;
    if (has(j, "<｜hy_Assistant｜>") && has(j, "<｜hy_place▁holder▁no▁3｜>"))
        return LP_CHAT_HUNYUAN_DENSE;
    if (has(j, "<|im_assistant|>assistant<|im_middle|>"))
        return LP_CHAT_KIMI_K2;
    if (has(j, "<seed:bos>"))
        return LP_CHAT_SEED_OSS;
    if (has(j, "'Assistant: '  + message['content'] + '<|separator|>"))
        return LP_CHAT_GROK2;
    if (has(j, "[unused9]系统：[unused10]"))
        return LP_CHAT_PANGU_EMBED;
    return LP_CHAT_UNKNOWN;
}

lp_chat_tmpl lp_chat_detect(const char *s, size_t len)
{
    if (!s || len == 0)
        return LP_CHAT_CHATML;
    lp_chat_tmpl t = by_name(s, len);
    if (t != LP_CHAT_UNKNOWN)
        return t;
    const jinja j = {s, len};
    t = detect_early(j);
    return t != LP_CHAT_UNKNOWN ? t : detect_late(j);
}

static void supported_list(char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int t = LP_CHAT_CHATML; t <= LP_CHAT_LLAMA3 && at < cap; t++) {
        int n = snprintf(buf + at, cap - at, "%s%s", at ? ", " : "", names[t]);
        if (n < 0)
            break;
        at += (size_t)n;
    }
}

int lp_chat_resolve(const char *override_name, const char *jinja_s, size_t len,
                    lp_chat_tmpl *out, lp_err *err)
{
    char list[320];
    supported_list(list, sizeof list);
    lp_chat_tmpl t;
    if (override_name) {
        t = lp_chat_template_from_name(override_name);
        if (t == LP_CHAT_UNKNOWN)
            return lp_err_set(err, "chat template '%.64s' is not a template name; use one of: %s",
                              override_name, list);
    } else {
        t = lp_chat_detect(jinja_s, len);
        if (t == LP_CHAT_UNKNOWN)
            return lp_err_set(err, "the model's chat template is not one layerpool recognises; "
                              "choose one with --chat-template (%s)", list);
    }
    if (!lp_chat_template_supported(t))
        return lp_err_set(err, "chat template '%s' is recognised but not supported; "
                          "choose one with --chat-template (%s)", names[t], list);
    *out = t;
    return 0;
}
