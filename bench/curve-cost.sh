#!/bin/sh
# What CURVE costs a decoding session: the same model through 2 workers on
# this machine (loopback), once with keys (every link authenticated and
# encrypted) and once plain, interleaved RUNS times; `coord run`'s decode
# tok/s, medians with min and max, and the ratio keyed / plain.
#   bench/curve-cost.sh [MODEL] [BUILD]; env RUNS (5), N_GEN (64), THREADS (1)
set -eu
. "$(dirname "$0")/summary.sh"
MODEL=$(realpath "${1:-../shared/models/stories260K.gguf}")
BUILD=$(realpath "${2:-build}")
RUNS=${RUNS:-5}
N_GEN=${N_GEN:-64}
THREADS=${THREADS:-1}
TMP=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$BUILD/coord" keygen -o "$TMP/coord" > /dev/null
start() { # $1: name, $2: extra args; prints the control endpoint
    "$BUILD/worker" --listen tcp://127.0.0.1:0 -t "$THREADS" --name "$1" \
        --models-dir "$(dirname "$MODEL")" $2 > "$TMP/$1.out" 2> "$TMP/$1.err" &
    PIDS="$PIDS $!"
    for _ in $(seq 1 100); do
        grep -q listening "$TMP/$1.out" 2>/dev/null && break
        sleep 0.1
    done
    sed -n 's/.*control=\([^ ]*\).*/\1/p' "$TMP/$1.out"
}
config() { # $1: file, $2: keyed (1/0), then endpoint/key pairs
    f=$1 keyed=$2
    shift 2
    printf '[model]\npath = %s\nctx = %d\n' "$MODEL" $((N_GEN + 64)) > "$f"
    if [ "$keyed" = 1 ]; then
        printf '[server]\nkey = %s/coord.key\n' "$TMP" >> "$f"
    else
        printf '[server]\ninsecure = true\n' >> "$f"
    fi
    i=0
    while [ $# -gt 0 ]; do
        printf '[worker.w%d]\nendpoint = %s\nmem = 8G\nmodel_path = %s\n' $i "$1" "$MODEL" >> "$f"
        [ "$keyed" = 1 ] && printf 'public_key = %s\n' "$2" >> "$f"
        i=$((i + 1))
        shift 2
    done
}
keyed_eps=""
for i in 0 1; do
    "$BUILD/worker" keygen -o "$TMP/k$i" > /dev/null
    ep=$(start "k$i" "--key $TMP/k$i.key --coordinator-key $TMP/coord.pub")
    keyed_eps="$keyed_eps $ep $(sed -n 's/^public = //p' "$TMP/k$i.pub")"
done
plain_eps=""
for i in 0 1; do plain_eps="$plain_eps $(start "p$i" "") -"; done
# shellcheck disable=SC2086
config "$TMP/keyed.ini" 1 $keyed_eps
# shellcheck disable=SC2086
config "$TMP/plain.ini" 0 $plain_eps
run() { # $1: config; prints decode tok/s
    "$BUILD/coord" run --config "$1" -p "Once upon a time" -n "$N_GEN" --ignore-eos \
        --temp 0 2>&1 >/dev/null | sed -n 's/.*generation: .*(\([0-9.]*\) tok\/s).*/\1/p' | tail -1
}
for r in $(seq 1 "$RUNS"); do
    echo "$r keyed $(run "$TMP/keyed.ini")" >> "$TMP/all"
    echo "$r plain $(run "$TMP/plain.ini")" >> "$TMP/all"
    tail -n 2 "$TMP/all" | tr '\n' ' ' | sed 's/$/\n/' >&2
done
echo "decode tok/s through 2 workers on loopback, $RUNS interleaved runs of $N_GEN tokens:"
summarize "$TMP/all" plain keyed
# shellcheck disable=SC2154
printf 'ratio keyed / plain: %.3f\n' "$(echo "$med_keyed / $med_plain" | bc -l)"
