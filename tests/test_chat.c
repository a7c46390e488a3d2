/* test_chat.c — template detection and formatting against llama.cpp.
 *
 * The conversation, the Jinja templates and the expected outputs of
 * `upstream` are test vectors from llama.cpp's tests/test-chat-template.cpp
 * (MIT), where llama_chat_apply_template(template_str, conversation,
 * add_ass = true) must produce expected_output: detection and formatting
 * are checked together, as there. Cases marked "derived" have no upstream
 * vector; their expected text is llama.cpp's formatter for that family
 * (src/llama-chat.cpp) worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "support.h"

static const lp_chat_msg conversation[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};
enum { N_CONV = sizeof conversation / sizeof conversation[0] };

typedef struct vector {
    const char *name;
    lp_chat_tmpl want;
    const char *tmpl;
    const char *expected;
} vector;

static const vector upstream[] = {
    {"teknium/OpenHermes-2.5-Mistral-7B", LP_CHAT_CHATML,
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (old, no system prompt)", LP_CHAT_LLAMA2,
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
     "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]"},
    {"TheBloke/FusionNet_34Bx2_MoE-AWQ", LP_CHAT_LLAMA2_SYS_BOS,
     "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another question [/INST]"},
    {"bofenghuang/vigogne-2-70b-chat", LP_CHAT_LLAMA2_SYS_STRIP,
     "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif true == true and not '<<SYS>>' in messages[0]['content'] %}{% set loop_messages = messages %}{% set system_message = 'Vous êtes Vigogne, un assistant IA créé par Zaion Lab. Vous suivez extrêmement bien les instructions. Aidez autant que vous le pouvez.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]"},
    {"mlabonne/AlphaMonarch-7B", LP_CHAT_MONARCH,
     "{% for message in messages %}{{bos_token + message['role'] + '\\n' + message['content'] + eos_token + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ bos_token + 'assistant\\n' }}{% endif %}",
     "system\nYou are a helpful assistant</s>\n<s>user\nHello</s>\n<s>assistant\nHi there</s>\n<s>user\nWho are you</s>\n<s>assistant\n   I am an assistant   </s>\n<s>user\nAnother question</s>\n<s>assistant\n"},
    {"google/gemma-7b-it", LP_CHAT_GEMMA,
     "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
     "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"},
    {"Llama-3", LP_CHAT_LLAMA3,
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Phi-3-mini", LP_CHAT_PHI3,
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"Phi-3-small", LP_CHAT_PHI3,
     "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"Phi-3-medium", LP_CHAT_PHI3,
     "{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"Phi-3-vision", LP_CHAT_PHI3,
     "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{- '<|assistant|>\n' -}}{% endif %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)", LP_CHAT_MISTRAL_V1,
     "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}\n    {%- endif %}\n    {%- if message['role'] == 'user' %}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n    {%- else %}\n        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}\n    {%- endif %}\n{%- endfor %}\n",
     " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s> [INST] Another question [/INST]"},
    {"Mistral-Large-Instruct-2407 (mistralai 'v3' template; modified to have system prompt at start)", LP_CHAT_MISTRAL_V3,
     "{%- if messages[0][\"role\"] == \"system\" %}\n    {%- set system_message = messages[0][\"content\"] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n\n{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}\n{%- set ns = namespace() %}\n{%- set ns.index = 0 %}\n{%- for message in loop_messages %}\n    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_calls is defined and message.tool_calls is not none)) %}\n        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n            {{- raise_exception(\"After the optional system message, conversation roles must alternate user/assistant/user/assistant/...\") }}\n        {%- endif %}\n        {%- set ns.index = ns.index + 1 %}\n    {%- endif %}\n{%- endfor %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and (message == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS] [\" }}\n            {%- for tool in tools %}\n                {%- set tool = tool.function %}\n                {{- '{\"type\": \"function\", \"function\": {' }}\n                {%- for key, val in tool.items() if key != \"return\" %}\n                    {%- if val is string %}\n                        {{- '\"' + key + '\": \"' + val + '\"' }}\n                    {%- else %}\n                        {{- '\"' + key + '\": ' + val|tojson }}\n                    {%- endif %}\n                    {%- if not loop.last %}\n                        {{- \", \" }}\n                    {%- endif %}\n                {%- endfor %}\n                {{- \"}}\" }}\n                {%- if not loop.last %}\n                    {{- \", \" }}\n                {%- else %}\n                    {{- \"]\" }}\n                {%- endif %}\n            {%- endfor %}\n            {{- \"[/AVAILABLE_TOOLS]\" }}\n            {%- endif %}\n        {%- if loop.last and system_message is defined %}\n            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n    {%- elif message.tool_calls is defined and message.tool_calls is not none %}\n        {{- \"[TOOL_CALLS] [\" }}\n        {%- for tool_call in message.tool_calls %}\n            {%- set out = tool_call.function|tojson %}\n            {{- out[:-1] }}\n            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n                {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\") }}\n            {%- endif %}\n            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n            {%- if not loop.last %}\n                {{- \", \" }}\n            {%- else %}\n                {{- \"]\" + eos_token }}\n            {%- endif %}\n        {%- endfor %}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {{- \" \" + message[\"content\"]|trim + eos_token}}\n    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n        {%- if message.content is defined and message.content.content is defined %}\n            {%- set content = message.content.content %}\n        {%- else %}\n            {%- set content = message.content %}\n        {%- endif %}\n        {{- '[TOOL_RESULTS] {\"content\": ' + content|string + \", \" }}\n        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\") }}\n        {%- endif %}\n        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n    {%- else %}\n        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of an initial optional system message!\") }}\n    {%- endif %}\n{%- endfor %}\n",
     "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]"},
    {"Mistral-Nemo-Instruct-2407 (mistralai 'v3-tekken' template; modified to have system prompt at start)", LP_CHAT_MISTRAL_V3_TEKKEN,
     "{%- if messages[0][\"role\"] == \"system\" %}\n    {%- set system_message = messages[0][\"content\"] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n\n{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}\n{%- set ns = namespace() %}\n{%- set ns.index = 0 %}\n{%- for message in loop_messages %}\n    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_calls is defined and message.tool_calls is not none)) %}\n        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n            {{- raise_exception(\"After the optional system message, conversation roles must alternate user/assistant/user/assistant/...\") }}\n        {%- endif %}\n        {%- set ns.index = ns.index + 1 %}\n    {%- endif %}\n{%- endfor %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and (message == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS][\" }}\n            {%- for tool in tools %}\n                {%- set tool = tool.function %}\n                {{- '{\"type\": \"function\", \"function\": {' }}\n                {%- for key, val in tool.items() if key != \"return\" %}\n                    {%- if val is string %}\n                        {{- '\"' + key + '\": \"' + val + '\"' }}\n                    {%- else %}\n                        {{- '\"' + key + '\": ' + val|tojson }}\n                    {%- endif %}\n                    {%- if not loop.last %}\n                        {{- \", \" }}\n                    {%- endif %}\n                {%- endfor %}\n                {{- \"}}\" }}\n                {%- if not loop.last %}\n                    {{- \", \" }}\n                {%- else %}\n                    {{- \"]\" }}\n                {%- endif %}\n            {%- endfor %}\n            {{- \"[/AVAILABLE_TOOLS]\" }}\n            {%- endif %}\n        {%- if loop.last and system_message is defined %}\n            {{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}\n        {{- \"[TOOL_CALLS][\" }}\n        {%- for tool_call in message.tool_calls %}\n            {%- set out = tool_call.function|tojson %}\n            {{- out[:-1] }}\n            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n                {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\") }}\n            {%- endif %}\n            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n            {%- if not loop.last %}\n                {{- \", \" }}\n            {%- else %}\n                {{- \"]\" + eos_token }}\n            {%- endif %}\n        {%- endfor %}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {{- message[\"content\"] + eos_token}}\n    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n        {%- if message.content is defined and message.content.content is defined %}\n            {%- set content = message.content.content %}\n        {%- else %}\n            {%- set content = message.content %}\n        {%- endif %}\n        {{- '[TOOL_RESULTS]{\"content\": ' + content|string + \", \" }}\n        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\") }}\n        {%- endif %}\n        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n    {%- else %}\n        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of an initial optional system message!\") }}\n    {%- endif %}\n{%- endfor %}\n",
     "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]"},
    {"mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)", LP_CHAT_MISTRAL_V7,
     "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and assistant roles are supported!') }}{% endif %}{% endfor %}",
     "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"},
    {"phi-4", LP_CHAT_PHI4,
     "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|>'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}",
     "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you<|im_end|><|im_start|>assistant<|im_sep|>   I am an assistant   <|im_end|><|im_start|>user<|im_sep|>Another question<|im_end|><|im_start|>assistant<|im_sep|>"},
};

/* derived from llama.cpp's formatters (no upstream vector); the template
 * strings are minimal ones that llama.cpp's heuristics classify the same */
static const vector derived[] = {
    {"llama2-sys", LP_CHAT_LLAMA2_SYS,
     "{% if m['role'] == 'system' %}{{ '[INST] <<SYS>>\\n' + m['content'] }}{% endif %}",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]"},
    {"mistral-v7-tekken", LP_CHAT_MISTRAL_V7_TEKKEN, "mistral-v7-tekken",
     "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]"},
    {"zephyr", LP_CHAT_ZEPHYR,
     "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + '<|endoftext|>\\n' }}{% endfor %}{{ '<|user|>' }}",
     "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n   I am an assistant   <|endoftext|>\n<|user|>\nAnother question<|endoftext|>\n<|assistant|>\n"},
    {"falcon3", LP_CHAT_FALCON3,
     "{{ '<|user|>\\n' + m['content'] + '\\n<|assistant|>\\n' + '</s>' }}",
     "<|system|>\nYou are a helpful assistant\n<|user|>\nHello\n<|assistant|>\nHi there\n<|user|>\nWho are you\n<|assistant|>\n   I am an assistant   \n<|user|>\nAnother question\n<|assistant|>\n"},
};

static void check_vector(const vector *v)
{
    lp_chat_tmpl t = lp_chat_detect(v->tmpl, strlen(v->tmpl));
    if (t != v->want)
        fail_msg("%s: detected '%s', want '%s'", v->name, lp_chat_template_name(t),
                 lp_chat_template_name(v->want));
    lp_chat_buf out = {0};
    lp_err err = {{0}};
    if (lp_chat_apply(t, conversation, N_CONV, true, &out, &err) < 0)
        fail_msg("%s: %s", v->name, err.msg);
    if (out.len != strlen(v->expected) || strcmp(out.data, v->expected) != 0)
        fail_msg("%s:\n got: [%s]\nwant: [%s]", v->name, out.data, v->expected);
    lp_chat_buf_free(&out);
}

static void test_upstream_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof upstream / sizeof upstream[0]; i++)
        check_vector(&upstream[i]);
}

static void test_derived_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++)
        check_vector(&derived[i]);
}

/* Families llama.cpp recognises that we do not format: detection must
 * still name them (so they are never mistaken for a neighbour) and apply
 * must refuse. Templates from the same upstream test file. */
static void test_recognised_but_unsupported(void **state)
{
    (void)state;
    const vector v[] = {
        {"OrionStarAI/Orion-14B-Chat", LP_CHAT_ORION,
         "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{% if message['role'] == 'user' %}{{ 'Human: ' + message['content'] + '\\n\\nAssistant: ' + eos_token }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}", NULL},
        {"openchat/openchat-3.5-0106", LP_CHAT_OPENCHAT,
         "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title() + ': ' + message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct Assistant:' }}{% endif %}", NULL},
        {"eachadea/vicuna-13b-1.1", LP_CHAT_VICUNA,
         "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] + '\n\n' -}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}", NULL},
        {"Orca-Vicuna", LP_CHAT_VICUNA_ORCA,
         "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{-'SYSTEM: ' + message['content'] + '\n' -}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}", NULL},
        {"ChatGLM3", LP_CHAT_CHATGLM3,
         "{% for message in messages %}{% if loop.first %}[gMASK]sop<|{{ message['role'] }}|>\n {{ message['content'] }}{% else %}<|{{ message['role'] }}|>\n {{ message['content'] }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}", NULL},
        {"GLMEdge", LP_CHAT_GLMEDGE,
         "{% for item in messages %}{% if item['role'] == 'system' %}<|system|>\n{{ item['content'] }}{% elif item['role'] == 'user' %}<|user|>\n{{ item['content'] }}{% elif item['role'] == 'assistant' %}<|assistant|>\n{{ item['content'] }}{% endif %}{% endfor %}<|assistant|>", NULL},
        {"MiniCPM-3B-OpenHermes-2.5-v2-GGUF", LP_CHAT_MINICPM,
         "{% for message in messages %}{% if message['role'] == 'user' %}{{'<用户>' + message['content'].strip() + '<AI>'}}{% else %}{{message['content'].strip()}}{% endif %}{% endfor %}", NULL},
        {"DeepSeek-V2", LP_CHAT_DEEPSEEK2,
         "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}", NULL},
        {"Infinigence/Megrez-3B-Instruct", LP_CHAT_MEGREZ,
         "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|role_start|>system<|role_end|>你是Megrez-3B-Instruct，将针对用户的问题给出详细的、积极的回答。<|turn_end|>' }}{% endif %}{{ '<|role_start|>' + message['role'] + '<|role_end|>' + message['content'] + '<|turn_end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|role_start|>assistant<|role_end|>' }}{% endif %}", NULL},
        {"inclusionAI/Ling-lite", LP_CHAT_BAILING,
         "{% for message in messages %}{% set role = message['role'] | lower %}{% if role == 'user' %}{% set role = 'HUMAN' %}{% endif %}{% set role = role | upper %}{{ '<role>' + role + '</role>' + message['content'] }}{% endfor %}{% if add_generation_prompt %}{{ '<role>ASSISTANT</role>' }}{% endif %}", NULL},
        {"ByteDance-Seed/Seed-OSS-36B-Instruct", LP_CHAT_SEED_OSS,
         "{# <seed:bos> #}{%- for message in messages %}{%- if message.role in [\"user\", \"system\"] %}{{ bos_token + message.role + \"\\n\" + message.content + eos_token }}{%- endif %}{%- endfor %}", NULL},
    };
    lp_chat_buf out = {0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lp_chat_tmpl t = lp_chat_detect(v[i].tmpl, strlen(v[i].tmpl));
        if (t != v[i].want)
            fail_msg("%s: detected '%s', want '%s'", v[i].name, lp_chat_template_name(t),
                     lp_chat_template_name(v[i].want));
        assert_false(lp_chat_template_supported(t));
        lp_err err = {{0}};
        assert_int_equal(lp_chat_apply(t, conversation, N_CONV, true, &out, &err), -1);
        assert_non_null(strstr(err.msg, lp_chat_template_name(t)));
        lp_chat_tmpl r;
        assert_int_equal(lp_chat_resolve(NULL, v[i].tmpl, strlen(v[i].tmpl), &r, &err), -1);
        assert_non_null(strstr(err.msg, "not supported"));
    }
    lp_chat_buf_free(&out);
    assert_int_equal(lp_chat_detect("INVALID TEMPLATE", 16), LP_CHAT_UNKNOWN);
}

/* ---- the templates inside real GGUF files ------------------------------------ */

static lp_chat_tmpl detect_file(const char *rel)
{
    char path[1024];
    lp_err err = {{0}};
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    if (!g)
        fail_msg("%s: %s", path, err.msg);
    lp_str s = {NULL, 0};
    lp_chat_tmpl t = lp_gguf_get_str(g, "tokenizer.chat_template", &s) == 0
                         ? lp_chat_detect(s.ptr, (size_t)s.len)
                         : lp_chat_detect(NULL, 0);
    lp_gguf_close(g);
    return t;
}

static void test_gguf_templates(void **state)
{
    (void)state;
    /* Meta Llama 3's own template */
    assert_int_equal(detect_file("vocab/ggml-vocab-llama-bpe.gguf"), LP_CHAT_LLAMA3);
    /* Qwen's chatml with tools and <think> */
    assert_int_equal(detect_file("vocab/ggml-vocab-qwen2.gguf"), LP_CHAT_CHATML);
    /* no template at all: llama.cpp falls back to chatml */
    assert_int_equal(detect_file("vocab/ggml-vocab-llama-spm.gguf"), LP_CHAT_CHATML);
    assert_int_equal(detect_file("models/stories260K.gguf"), LP_CHAT_CHATML);
}

/* ---- names, resolution ------------------------------------------------------------ */

static void test_names(void **state)
{
    (void)state;
    for (int t = LP_CHAT_UNKNOWN + 1; t < LP_CHAT_COUNT; t++) {
        const char *n = lp_chat_template_name((lp_chat_tmpl)t);
        assert_int_equal(lp_chat_template_from_name(n), t);
        assert_int_equal(lp_chat_detect(n, strlen(n)), t); /* a name is a template */
    }
    assert_string_equal(lp_chat_template_name(LP_CHAT_LLAMA3), "llama3");
    assert_string_equal(lp_chat_template_name(LP_CHAT_CHATML), "chatml");
    assert_string_equal(lp_chat_template_name(LP_CHAT_COUNT), "unknown");
    assert_int_equal(lp_chat_template_from_name("llama-3"), LP_CHAT_UNKNOWN);
    assert_int_equal(lp_chat_template_from_name(NULL), LP_CHAT_UNKNOWN);
    /* only an exact name counts; a template merely starting "mistral" is
     * an [INST] family by llama.cpp's rule */
    assert_int_equal(lp_chat_detect("mistral-v7-tekken ", 18), LP_CHAT_LLAMA2);
    assert_int_equal(lp_chat_detect("llama3x", 6), LP_CHAT_LLAMA3); /* length-bounded */
}

static void test_resolve(void **state)
{
    (void)state;
    const char *l3 = upstream[6].tmpl;
    lp_chat_tmpl t = LP_CHAT_UNKNOWN;
    lp_err err = {{0}};
    assert_int_equal(lp_chat_resolve(NULL, l3, strlen(l3), &t, &err), 0);
    assert_int_equal(t, LP_CHAT_LLAMA3);
    /* the override wins over the model's template */
    assert_int_equal(lp_chat_resolve("chatml", l3, strlen(l3), &t, &err), 0);
    assert_int_equal(t, LP_CHAT_CHATML);
    assert_int_equal(lp_chat_resolve("nonsense", l3, strlen(l3), &t, &err), -1);
    assert_non_null(strstr(err.msg, "nonsense"));
    assert_non_null(strstr(err.msg, "llama3")); /* lists the choices */
    assert_int_equal(lp_chat_resolve("gemma", NULL, 0, &t, &err), 0);
    assert_int_equal(lp_chat_resolve("vicuna", NULL, 0, &t, &err), -1);
    assert_non_null(strstr(err.msg, "vicuna"));
    assert_int_equal(lp_chat_resolve(NULL, "{{ hello }}", 11, &t, &err), -1);
    assert_non_null(strstr(err.msg, "--chat-template"));
    assert_int_equal(lp_chat_resolve(NULL, NULL, 0, &t, &err), 0);
    assert_int_equal(t, LP_CHAT_CHATML);
}

/* ---- formatting details --------------------------------------------------------------- */

static const char *apply(lp_chat_tmpl t, const lp_chat_msg *m, size_t n, bool gen,
                         lp_chat_buf *out)
{
    lp_err err = {{0}};
    if (lp_chat_apply(t, m, n, gen, out, &err) < 0)
        fail_msg("%s: %s", lp_chat_template_name(t), err.msg);
    assert_int_equal(strlen(out->data), out->len);
    return out->data;
}

static void test_generation_prompt(void **state)
{
    (void)state;
    const lp_chat_msg m[] = {{"user", "Hi"}};
    lp_chat_buf out = {0};
    assert_string_equal(apply(LP_CHAT_LLAMA3, m, 1, false, &out),
                        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    assert_string_equal(apply(LP_CHAT_LLAMA3, m, 1, true, &out),
                        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        "<|start_header_id|>assistant<|end_header_id|>\n\n");
    assert_string_equal(apply(LP_CHAT_CHATML, m, 1, false, &out), "<|im_start|>user\nHi<|im_end|>\n");
    assert_string_equal(apply(LP_CHAT_CHATML, NULL, 0, true, &out), "<|im_start|>assistant\n");
    assert_string_equal(apply(LP_CHAT_CHATML, NULL, 0, false, &out), "");
    /* the [INST] families ignore it */
    assert_string_equal(apply(LP_CHAT_LLAMA2, m, 1, false, &out), "[INST] Hi [/INST]");
    assert_string_equal(apply(LP_CHAT_LLAMA2, m, 1, true, &out), "[INST] Hi [/INST]");
    assert_string_equal(apply(LP_CHAT_MISTRAL_V7, m, 1, true, &out), "[INST] Hi[/INST]");
    lp_chat_buf_free(&out);
    assert_null(out.data);
}

static void test_trim_is_c_locale(void **state)
{
    (void)state;
    const lp_chat_msg m[] = {{"user", " \t\n\v\f\rX  Y\r\n "}, {"assistant", "\xc2\xa0Z "}};
    lp_chat_buf out = {0};
    /* NBSP (c2 a0) is not a C-locale space: it stays */
    assert_string_equal(apply(LP_CHAT_LLAMA3, m, 2, false, &out),
                        "<|start_header_id|>user<|end_header_id|>\n\nX  Y<|eot_id|>"
                        "<|start_header_id|>assistant<|end_header_id|>\n\n\xc2\xa0Z<|eot_id|>");
    const lp_chat_msg blank[] = {{"user", "   "}};
    assert_string_equal(apply(LP_CHAT_LLAMA3, blank, 1, false, &out),
                        "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>");
    lp_chat_buf_free(&out);
}

static void test_gemma_system_waits_for_user(void **state)
{
    (void)state;
    /* derived: system texts wait (trimmed, joined) until the next user turn */
    const lp_chat_msg m[] = {
        {"system", " S1 "}, {"assistant", "A"}, {"system", "S2"}, {"user", "U"}, {"system", "  "},
        {"user", "V"}, {"system", "late"},
    };
    lp_chat_buf out = {0};
    assert_string_equal(apply(LP_CHAT_GEMMA, m, 7, false, &out),
                        "<start_of_turn>model\nA<end_of_turn>\n"
                        "<start_of_turn>user\nS1S2\n\nU<end_of_turn>\n"
                        "<start_of_turn>user\nV<end_of_turn>\n");
    lp_chat_buf_free(&out);
}

static void test_llama2_multi_turn_system_placement(void **state)
{
    (void)state;
    /* derived: a later system message lands inside the open turn */
    const lp_chat_msg m[] = {{"user", "a"}, {"assistant", "b"}, {"system", "s"}, {"user", "c"}};
    lp_chat_buf out = {0};
    assert_string_equal(apply(LP_CHAT_LLAMA2_SYS_BOS, m, 4, true, &out),
                        "[INST] a [/INST]b</s><s>[INST] <<SYS>>\ns\n<</SYS>>\n\nc [/INST]");
    assert_string_equal(apply(LP_CHAT_LLAMA2, m, 4, true, &out),
                        "[INST] a [/INST]b</s>[INST] s\nc [/INST]");
    lp_chat_buf_free(&out);
}

static void test_bad_messages(void **state)
{
    (void)state;
    lp_chat_buf out = {0};
    lp_err err = {{0}};
    const lp_chat_msg tool[] = {{"user", "x"}, {"tool", "{}"}};
    assert_int_equal(lp_chat_apply(LP_CHAT_CHATML, tool, 2, true, &out, &err), -1);
    assert_non_null(strstr(err.msg, "message 1"));
    assert_non_null(strstr(err.msg, "'tool'"));
    const lp_chat_msg upper[] = {{"User", "x"}};
    assert_int_equal(lp_chat_apply(LP_CHAT_LLAMA3, upper, 1, true, &out, &err), -1);
    const lp_chat_msg nocontent[] = {{"user", NULL}};
    assert_int_equal(lp_chat_apply(LP_CHAT_LLAMA3, nocontent, 1, true, &out, &err), -1);
    assert_non_null(strstr(err.msg, "content"));
    const lp_chat_msg norole[] = {{NULL, "x"}};
    assert_int_equal(lp_chat_apply(LP_CHAT_LLAMA3, norole, 1, true, &out, &err), -1);
    assert_non_null(strstr(err.msg, "role"));
    assert_int_equal(lp_chat_apply(LP_CHAT_LLAMA3, NULL, 2, true, &out, &err), -1);
    assert_int_equal(lp_chat_apply(LP_CHAT_UNKNOWN, conversation, N_CONV, true, &out, &err), -1);
    assert_int_equal(lp_chat_apply((lp_chat_tmpl)999, conversation, N_CONV, true, &out, &err), -1);
    assert_int_equal(lp_chat_apply(LP_CHAT_LLAMA3, conversation, N_CONV, true, NULL, &err), -1);
    lp_chat_buf_free(&out);
}

static void test_buffer_reuse_and_growth(void **state)
{
    (void)state;
    enum { BIG = 3 << 20 };
    char *big = malloc(BIG + 1);
    assert_non_null(big);
    memset(big, 'x', BIG);
    big[BIG] = '\0';
    const lp_chat_msg m[] = {{"user", big}};
    lp_chat_buf out = {0};
    apply(LP_CHAT_CHATML, m, 1, true, &out);
    assert_int_equal(out.len, BIG + strlen("<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"));
    assert_true(out.cap > out.len);
    /* reuse: the second result replaces the first, capacity is kept */
    size_t cap = out.cap;
    const lp_chat_msg small[] = {{"user", "ok"}};
    assert_string_equal(apply(LP_CHAT_CHATML, small, 1, false, &out), "<|im_start|>user\nok<|im_end|>\n");
    assert_int_equal(out.cap, cap);
    lp_chat_buf_free(&out);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_vectors),
        cmocka_unit_test(test_derived_vectors),
        cmocka_unit_test(test_recognised_but_unsupported),
        cmocka_unit_test(test_gguf_templates),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_generation_prompt),
        cmocka_unit_test(test_trim_is_c_locale),
        cmocka_unit_test(test_gemma_system_waits_for_user),
        cmocka_unit_test(test_llama2_multi_turn_system_placement),
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_buffer_reuse_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
