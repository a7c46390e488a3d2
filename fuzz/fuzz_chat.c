/* fuzz_chat.c — libFuzzer harness for the chat templates: the input picks
 * a template (its first byte) and is cut at '\x1e' bytes into messages
 * whose first byte picks the role; every supported template must render
 * any such conversation (NUL-terminated, as long as its pieces allow) or
 * refuse it with a message, and the template detector must classify the
 * whole input as a Jinja text without trouble. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

enum { MAX_MSGS = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    (void)lp_chat_detect((const char *)data, size);
    const lp_chat_tmpl t = (lp_chat_tmpl)(data[0] % LP_CHAT_COUNT);
    char *text = malloc(size); /* the messages, NUL-terminated in place */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    lp_chat_msg msgs[MAX_MSGS];
    size_t n = 0;
    for (char *p = text; n < MAX_MSGS && *p;) {
        char *end = strchr(p, '\x1e');
        if (end)
            *end = 0;
        msgs[n].role = roles[(unsigned char)p[0] % 4];
        msgs[n++].content = p + 1 <= text + size - 1 && *p ? p + 1 : "";
        if (!end)
            break;
        p = end + 1;
    }
    lp_chat_buf out = {0};
    lp_err err;
    err.msg[0] = 0;
    if (lp_chat_apply(t, msgs, n, data[0] & 0x80, &out, &err) == 0) {
        if (!out.data || strlen(out.data) != out.len)
            abort(); /* the prompt is a whole C string */
    } else if (err.msg[0] == 0) {
        abort();
    }
    lp_chat_buf_free(&out);
    free(text);
    return 0;
}
