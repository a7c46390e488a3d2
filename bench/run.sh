#!/bin/sh
# make bench: coord bench-node on one model: prompt processing (pp) and
# generation (tg) tokens/s, median of BENCH_R runs with min and max, the
# weight bytes a token reads, the bandwidth that implies against a
# STREAM-like triad measured in the same run and, when LLAMA_BENCH names a
# llama-bench binary (llama.cpp built beside the project), llama.cpp's
# figures on the same file with the ratio.
#   bench/run.sh [BUILD] [MODEL]; env BENCH_P (512), BENCH_N (128),
#   BENCH_R (5), BENCH_T (thread counts, e.g. 1,2; default: physical cores)
set -eu
BUILD=${1:-build}
MODEL=${2:-../shared/models/stories260K.gguf}
P=${BENCH_P:-512}
N=${BENCH_N:-128}
R=${BENCH_R:-5}
set -- -m "$MODEL" -p "$P" -n "$N" -r "$R"
if [ -n "${BENCH_T:-}" ]; then
    set -- "$@" -t "$BENCH_T"
fi
echo "== coord bench-node $*"
exec "$BUILD/coord" bench-node "$@"
