#!/bin/sh
# What the pool costs one session: decode tok/s of the model in one process
# (coord bench-node, -t THREADS) against the same through 2 and 3 workers of
# THREADS each (coord bench-pool: every worker in its own network namespace
# on an unlimited veth link, or on 127.0.0.1 without root), interleaved
# RUNS times so the machine's drift falls on both sides alike; medians,
# min and max, and the ratios pool / one process.
#   bench/pool-overhead.sh [MODEL] [BUILD]; env RUNS (5), N_GEN (64), THREADS (1)
set -eu
MODEL=${1:-../models/llama3-1b-q4_k_m.gguf}
BUILD=${2:-build}
RUNS=${RUNS:-5}
N_GEN=${N_GEN:-64}
THREADS=${THREADS:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
for r in $(seq 1 "$RUNS"); do
    "$BUILD/coord" bench-node -m "$MODEL" -t "$THREADS" -p 0 -n "$N_GEN" -r 1 \
        --triad-reps 1 --triad-mib 16 2>/dev/null |
        awk -v r="$r" '$1 ~ /^tg/ { for (i = 1; i < NF; i++) if ($(i + 1) == "tok/s") print r, "solo", $i }' \
        >> "$TMP/all"
    "$BUILD/coord" bench-pool -m "$MODEL" -t "$THREADS" --shards 2,3 --links unlimited \
        --sessions 1 -p 0 -n "$N_GEN" -r 1 -o "$TMP/out" > /dev/null 2> "$TMP/err" ||
        { cat "$TMP/err" >&2; exit 1; }
    awk -F, -v r="$r" 'NR > 1 { print r, "pool" $2, $8 }' "$TMP/out/bench-pool.csv" >> "$TMP/all"
    tail -n 3 "$TMP/all" | tr '\n' ' ' | sed 's/$/\n/' >&2
done
grep -q "no link emulation" "$TMP/err" && echo "(workers on 127.0.0.1: no namespaces here)"
echo "decode tok/s, one session, $RUNS interleaved runs of $N_GEN tokens, $THREADS thread(s) per process:"
for who in solo pool2 pool3; do
    awk -v w="$who" '$2 == w { print $3 }' "$TMP/all" | sort -g > "$TMP/$who"
    n=$(wc -l < "$TMP/$who")
    med=$(awk -v n="$n" 'NR == int((n + 1) / 2) { a = $1 } NR == int(n / 2) + 1 { b = $1 } END { printf "%.3f", (a + b) / 2 }' "$TMP/$who")
    printf '%-6s median %s (min %s, max %s)\n' "$who" "$med" "$(head -1 "$TMP/$who")" "$(tail -1 "$TMP/$who")"
    eval "med_$who=$med"
done
# shellcheck disable=SC2154
printf 'ratio: 2 workers / one process %.3f, 3 workers / one process %.3f\n' \
    "$(echo "$med_pool2 / $med_solo" | bc -l)" "$(echo "$med_pool3 / $med_solo" | bc -l)"
