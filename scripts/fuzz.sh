#!/bin/sh
# Run each libFuzzer harness of fuzz/ for SECONDS (ASan+UBSan build by
# `make fuzz`), from the hand-made seeds in fuzz/corpus/NAME plus seeds taken
# from ../shared at run time (model and vocabulary heads, llama.cpp's
# tokenizer test texts: not ours to commit). A crash stops the run: its input
# is left as BUILD/crash-NAME-* (replay: BUILD/fuzz_NAME FILE) and becomes a
# regression test. Prints each harness's executions and coverage.
#   scripts/fuzz.sh BUILD SECONDS NAME...
set -eu
BUILD=$1
SECONDS_EACH=$2
shift 2
SHARED=${LP_SHARED:-../shared}
export LP_SHARED="$SHARED"
for name in "$@"; do
    work="$BUILD/corpus/$name"
    mkdir -p "$work"
    [ -d "fuzz/corpus/$name" ] && cp -n fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
    case $name in
    gguf)
        head -c 20000 "$SHARED/models/stories260K.gguf" > "$work/seed-stories260K-head"
        head -c 60000 "$SHARED/vocab/ggml-vocab-llama-spm.gguf" > "$work/seed-vocab-head" ;;
    tokenizer)
        for v in "$SHARED"/vocab/*.inp; do
            awk -v d="$work" -v b="$(basename "$v")" 'BEGIN { RS = "\n__ggml_vocab_test__\n" }
                NR <= 40 { f = d "/seed-" b "-" NR; printf "%s", $0 > f; close(f) }' "$v"
        done ;;
    esac
    log="$BUILD/fuzz-$name.log"
    if ! "$BUILD/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/crash-$name-" \
        "$work" > "$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: fuzz_$name found a crash: $(ls "$BUILD"/crash-"$name"-* 2>/dev/null | head -1)" >&2
        exit 1
    fi
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz_$name: ${runs:-?} runs in ${SECONDS_EACH} s, $cov, corpus $(ls "$work" | wc -l) inputs, no crash"
done
