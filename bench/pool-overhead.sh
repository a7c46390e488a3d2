#!/bin/sh
# What the pool costs one session: decode tok/s of the model in one process
# (coord bench-node, -t THREADS) against the same through 2 and 3 workers of
# THREADS each (coord bench-pool: every worker in its own network namespace
# on an unlimited veth link, or on 127.0.0.1 without root), interleaved
# RUNS times so the machine's drift falls on both sides alike; medians,
# min and max, and the ratios pool / one process.
# A control, "idle": the same one process sleeping IDLE_MS after each token
# (not counted), as a pipeline stage waits while the others compute: what
# idling alone costs this machine (on a VM an idle vCPU may be handed to
# someone else and come back with cold caches), with no pool involved.
#   bench/pool-overhead.sh [MODEL] [BUILD]; env RUNS (5), N_GEN (64), THREADS (1),
#   IDLE_MS (50: about half a 1B token's time here, a 2-worker stage's wait),
#   IDLE_POLL=1 (root): for the run, idle CPUs poll instead of halting (every
#   cpuidle state but POLL disabled, restored at exit), to see the ratios
#   without the cost of waking a halted CPU
set -eu
. "$(dirname "$0")/summary.sh"
MODEL=${1:-../models/llama3-1b-q4_k_m.gguf}
BUILD=${2:-build}
RUNS=${RUNS:-5}
N_GEN=${N_GEN:-64}
THREADS=${THREADS:-1}
IDLE_MS=${IDLE_MS:-50}
TMP=$(mktemp -d)
restore() {
    [ -f "$TMP/cpuidle" ] && while read -r f v; do echo "$v" > "$f"; done < "$TMP/cpuidle"
    rm -rf "$TMP"
}
trap restore EXIT
trap 'exit 130' INT TERM
if [ "${IDLE_POLL:-0}" = 1 ]; then
    for f in /sys/devices/system/cpu/cpu*/cpuidle/state*/disable; do
        [ "$(cat "${f%/disable}/name")" = POLL ] && continue
        echo "$f $(cat "$f")" >> "$TMP/cpuidle"
        echo 1 > "$f" || { echo "IDLE_POLL=1 needs root (cpuidle states)" >&2; exit 1; }
    done
    echo "(idle CPUs poll during this run: cpuidle states but POLL disabled)"
fi
solo() { # $1: label, $2: idle ms
    "$BUILD/coord" bench-node -m "$MODEL" -t "$THREADS" -p 0 -n "$N_GEN" -r 1 --idle-ms "$2" \
        --triad-reps 1 --triad-mib 16 2>/dev/null |
        awk -v r="$r" -v w="$1" '$1 ~ /^tg/ { for (i = 1; i < NF; i++) if ($(i + 1) == "tok/s") print r, w, $i }' \
        >> "$TMP/all"
}
for r in $(seq 1 "$RUNS"); do
    solo solo 0
    solo idle "$IDLE_MS"
    "$BUILD/coord" bench-pool -m "$MODEL" -t "$THREADS" --shards 2,3 --links unlimited \
        --sessions 1 -p 0 -n "$N_GEN" -r 1 -o "$TMP/out" > /dev/null 2> "$TMP/err" ||
        { cat "$TMP/err" >&2; exit 1; }
    awk -F, -v r="$r" 'NR > 1 { print r, "pool" $2, $8 }' "$TMP/out/bench-pool.csv" >> "$TMP/all"
    tail -n 4 "$TMP/all" | tr '\n' ' ' | sed 's/$/\n/' >&2
done
grep -q "no link emulation" "$TMP/err" && echo "(workers on 127.0.0.1: no namespaces here)"
echo "decode tok/s, one session, $RUNS interleaved runs of $N_GEN tokens, $THREADS thread(s) per process:"
summarize "$TMP/all" solo idle pool2 pool3
# shellcheck disable=SC2154
printf 'ratio: 2 workers / one process %.3f, 3 workers / one process %.3f\n' \
    "$(echo "$med_pool2 / $med_solo" | bc -l)" "$(echo "$med_pool3 / $med_solo" | bc -l)"
printf 'control: one process idling %d ms a token / one process %.3f\n' "$IDLE_MS" \
    "$(echo "$med_idle / $med_solo" | bc -l)"
