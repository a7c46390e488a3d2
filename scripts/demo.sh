#!/bin/sh
# make demo: the built-in default job on the small real model in ../shared.
set -eu
BUILD=${1:-build}
MODEL=${MODEL:-../shared/models/stories260K.gguf}
if [ ! -f "$MODEL" ]; then
    echo "demo: $MODEL not found (the shared test data sits beside the project)" >&2
    exit 1
fi
echo "== coord inspect $MODEL"
"$BUILD/coord" inspect "$MODEL"
echo
echo "== coord run: 'Once upon a time' (token ids 1,403,407,261,378), 64 tokens, greedy"
"$BUILD/coord" run -m "$MODEL" --tokens 1,403,407,261,378 -n 64 -t 2 --ids
