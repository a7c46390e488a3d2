#!/bin/sh
# make demo: the built-in default job on the small real model in ../shared.
# (Until the worker pool lands this runs the model in one process: the
# single-shard path that every distributed run must reproduce.)
set -eu
BUILD=${1:-build}
MODEL=${MODEL:-../shared/models/stories260K.gguf}
PROMPT=${PROMPT:-Once upon a time}
if [ ! -f "$MODEL" ]; then
    echo "demo: $MODEL not found (the shared test data sits beside the project)" >&2
    exit 1
fi
echo "== coord inspect $MODEL"
"$BUILD/coord" inspect "$MODEL"
echo
echo "== coord run -p '$PROMPT' -n 120 -t 2 (greedy)"
"$BUILD/coord" run -m "$MODEL" -p "$PROMPT" -n 120 -t 2
echo
echo "== the same prompt, sampled: --temp 0.8 --seed 7"
"$BUILD/coord" run -m "$MODEL" -p "$PROMPT" -n 120 -t 2 --temp 0.8 --seed 7
