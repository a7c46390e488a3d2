#!/bin/sh
# make bench: prompt-processing and generation tokens/s of one model on
# this machine, with 1 and 2 threads. If LLAMA_BENCH names a llama-bench
# binary (llama.cpp built beside the project), it runs on the same model in
# the same run for comparison.
set -eu
BUILD=${1:-build}
MODEL=${2:-../shared/models/stories260K.gguf}
P=${BENCH_P:-128}
N=${BENCH_N:-64}
echo "== machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== layerpool: coord bench -m $MODEL -p $P -n $N -t 1,2"
"$BUILD/coord" bench -m "$MODEL" -p "$P" -n "$N" -t 1,2 -r 3
if [ -n "${LLAMA_BENCH:-}" ] && [ -x "$LLAMA_BENCH" ]; then
    echo "== llama.cpp: llama-bench -m $MODEL -p $P -n $N -t 1,2"
    "$LLAMA_BENCH" -m "$MODEL" -p "$P" -n "$N" -t 1,2 -r 3
else
    echo "== llama.cpp: not run (set LLAMA_BENCH=/path/to/llama-bench to compare)"
fi
