#!/bin/sh
# make demo: the built-in default job: a local pool of two workers serving
# the small real model in ../shared (configs/local-2.ini), next to the same
# model run in one process, which the pool must reproduce token for token.
set -eu
BUILD=${1:-build}
CONFIG=${CONFIG:-configs/local-2.ini}
MODEL=${MODEL:-../shared/models/stories260K.gguf}
PROMPT=${PROMPT:-Once upon a time}
if [ ! -f "$MODEL" ]; then
    echo "demo: $MODEL not found (the shared test data sits beside the project)" >&2
    exit 1
fi
echo "== coord inspect $MODEL"
"$BUILD/coord" inspect "$MODEL"
echo
echo "== coord plan --config $CONFIG"
"$BUILD/coord" plan --config "$CONFIG" -m "$MODEL"
echo
echo "== coord run --config $CONFIG: two worker processes on 127.0.0.1, greedy"
"$BUILD/coord" run --config "$CONFIG" -m "$MODEL" -p "$PROMPT" -n 100
echo
echo "== the same prompt in one process (must print the same text)"
"$BUILD/coord" run -m "$MODEL" -p "$PROMPT" -n 100 -t 2
echo
echo "== sampled instead of greedy: --temp 0.8 --seed 7"
"$BUILD/coord" run -m "$MODEL" -p "$PROMPT" -n 100 -t 2 --temp 0.8 --seed 7
