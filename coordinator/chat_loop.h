/* chat_loop.h — `coord run --chat`: read one user turn per line, format the
 * whole conversation with the model's chat template, feed only what the
 * KV cache does not already hold, stream the reply. Ends at end of input. */
#ifndef LP_COORD_CHAT_LOOP_H
#define LP_COORD_CHAT_LOOP_H

#include <stdio.h>

#include "session.h"

int chat_loop(session *s, const run_opts *o, FILE *in, lp_err *err);

#endif
