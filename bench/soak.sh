#!/bin/sh
# A pool under steady load and faults: coord serve over 3 local workers,
# CLIENTS clients (bench/soak-clients.mjs: short and long, streamed and
# whole, some cancelled) for SECONDS, and every FAULT_EVERY seconds a fault
# on a worker chosen in turn: kill -9 (coord starts it again and replays
# its sessions), SIGSTOP for STOP_S seconds then SIGCONT (lost past the
# heartbeat timeout, then reloaded). Every SAMPLE seconds a line of
# tok/s, replays and each process's RSS and open files. At the end, the
# requests ok / cancelled / refused (503) / failed / wrong (a greedy text
# not the undisturbed one) and the first and last sample; fails on any
# wrong text or a coordinator that died.
#   bench/soak.sh [BUILD] [MODEL]; env SECONDS_TOTAL (120), FAULT_EVERY (30),
#   STOP_S (5), CLIENTS (6), SAMPLE (10), OUT (a file for the samples)
set -eu
BUILD=${1:-build}
MODEL=${2:-../shared/models/stories260K.gguf}
SECONDS_TOTAL=${SECONDS_TOTAL:-120}
FAULT_EVERY=${FAULT_EVERY:-30}
STOP_S=${STOP_S:-5}
CLIENTS=${CLIENTS:-6}
SAMPLE=${SAMPLE:-10}
TMP=$(mktemp -d)
OUT=${OUT:-$TMP/samples.txt}
COORD=
cleanup() {
    [ -n "$COORD" ] && kill "$COORD" 2>/dev/null && wait "$COORD" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
cat > "$TMP/pool.ini" <<EOF
[model]
path = $(realpath "$MODEL")
ctx = 1024
sessions = 4
[server]
recover_timeout = 60
step_timeout = 10
[local]
workers = 3
mem = 1G
EOF
"$BUILD/coord" serve --config "$TMP/pool.ini" --listen 127.0.0.1:0 --queue 8 > "$TMP/serve.out" 2> "$TMP/serve.log" &
COORD=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*(port \([0-9]*\)) ready.*/\1/p' "$TMP/serve.log")
    [ -n "$port" ] && break
    sleep 0.2
done
[ -n "$port" ] || { cat "$TMP/serve.log"; echo "soak: coord serve did not come up" >&2; exit 1; }

workers() { cat "/proc/$COORD/task/$COORD/children" 2>/dev/null; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
sample() { # seconds tok/s replays, then pid:rss_kb:fds for coord and each worker
    line="$1 $(metric layerpool_tokens_per_second) $(metric layerpool_sessions_replayed_total)"
    for p in $COORD $(workers); do
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
        line="$line $p:${rss}kB:${fds}fd"
    done
    echo "$line" >> "$OUT"
}

node "$(dirname "$0")/soak-clients.mjs" "$port" "$SECONDS_TOTAL" "$CLIENTS" > "$TMP/clients.json" &
CLIENTS_PID=$!
start=$(date +%s)
next_fault=$((start + FAULT_EVERY))
next_sample=$start
k=0
while kill -0 "$CLIENTS_PID" 2>/dev/null; do
    now=$(date +%s)
    if [ "$now" -ge "$next_sample" ]; then
        sample $((now - start))
        next_sample=$((now + SAMPLE))
    fi
    if [ "$now" -ge "$next_fault" ] && [ "$((now - start + STOP_S + 5))" -lt "$SECONDS_TOTAL" ]; then
        set -- $(workers)
        [ $# -gt 0 ] && shift $((k % $#))
        victim=${1:-}
        if [ -n "$victim" ] && [ $((k % 2)) -eq 0 ]; then
            echo "soak: $((now - start)) s: kill -9 worker $victim" >&2
            kill -9 "$victim" 2>/dev/null || true
        elif [ -n "$victim" ]; then
            echo "soak: $((now - start)) s: SIGSTOP worker $victim for $STOP_S s" >&2
            kill -STOP "$victim" 2>/dev/null || true
            sleep "$STOP_S"
            kill -CONT "$victim" 2>/dev/null || true
        fi
        k=$((k + 1))
        next_fault=$((now + FAULT_EVERY))
    fi
    sleep 1
done
rc=0
wait "$CLIENTS_PID" || rc=$?
sample $(($(date +%s) - start))
kill -0 "$COORD" 2>/dev/null || { echo "soak: coord serve died" >&2; rc=1; }
echo "soak: $SECONDS_TOTAL s, $CLIENTS clients, $k faults; requests:"
cat "$TMP/clients.json"
echo "soak: samples (s tok/s replays pid:rss:fds ...), first and last:"
head -n 1 "$OUT"
tail -n 1 "$OUT"
grep -E "^pool: " "$TMP/serve.log" | sort | uniq -c | sort -rn | head -n 12
exit "$rc"
