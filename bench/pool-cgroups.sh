#!/bin/sh
# A model bigger than any one worker's memory, for real: three workers, each
# in a network namespace of its own on a veth link capped at RATE (tc tbf),
# each confined by a memory cgroup to LIMIT (smaller than the model), run it
# through the pool; its greedy ids must equal the single-process run's. Then
# the same file in one process under the same LIMIT, to show what happens
# without the pool. Prints each worker's peak memory (the cgroup's own
# high-water mark, page cache of the mapped weights included) and tok/s.
#
#   bench/pool-cgroups.sh [MODEL] [BUILD]     (root: namespaces, cgroups, tc)
#   env LIMIT (2560M), RATE (1gbit), N_GEN (16), SOLO_TIMEOUT (600 s)
#
# Make the model with:
#   coord synth --shape llama3-8b -t Q4_K_M \
#       --vocab ../shared/vocab/ggml-vocab-llama-bpe.gguf -o llama3-8b-q4_k_m.gguf
# cgroup v2 (memory.max, memory.peak) where the memory controller is there,
# else v1 (memory.limit_in_bytes, memory.max_usage_in_bytes). Everything it
# makes (namespaces lpcg-*, bridge lpcg-br, cgroups lpcg-*) goes at exit.
set -eu
MODEL=$(realpath "${1:-../models/llama3-8b-q4_k_m.gguf}")
BUILD=$(realpath "${2:-build}")
LIMIT=${LIMIT:-2560M}
RATE=${RATE:-1gbit}
N_GEN=${N_GEN:-16}
SOLO_TIMEOUT=${SOLO_TIMEOUT:-600}
PROMPT="The history of the city begins"
N=3
[ "$(id -u)" -eq 0 ] || { echo "pool-cgroups: needs root (namespaces, cgroups, tc)" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "pool-cgroups: no model at $MODEL (see the header)" >&2; exit 2; }
TMP=$(mktemp -d)

bytes() { # 2560M -> bytes
    numfmt --from=iec "$1"
}
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    CG=/sys/fs/cgroup V=2
elif [ -d /sys/fs/cgroup/memory ]; then
    CG=/sys/fs/cgroup/memory V=1
else
    echo "pool-cgroups: no memory cgroup controller" >&2; exit 2
fi
cg_make() { # name
    mkdir -p "$CG/$1"
    if [ $V = 2 ]; then
        echo "$(bytes "$LIMIT")" > "$CG/$1/memory.max"
        echo 0 > "$CG/$1/memory.swap.max" 2>/dev/null || true
    else
        echo "$(bytes "$LIMIT")" > "$CG/$1/memory.limit_in_bytes"
    fi
}
cg_peak() { # name -> bytes
    if [ $V = 2 ]; then cat "$CG/$1/memory.peak" 2>/dev/null || echo 0
    else cat "$CG/$1/memory.max_usage_in_bytes"; fi
}
cleanup() {
    for p in $(cat "$TMP"/pids 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    sleep 0.5
    for i in 0 1 2; do
        ip netns del lpcg-w$i 2>/dev/null || true
        rmdir "$CG/lpcg-w$i" 2>/dev/null || true
    done
    rmdir "$CG/lpcg-solo" 2>/dev/null || true
    ip link del lpcg-br 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

ip link add lpcg-br type bridge
ip addr add 10.78.0.1/24 dev lpcg-br
ip link set lpcg-br up
burst=$(( $(numfmt --from=si "$(echo "$RATE" | sed 's/bit$//; s/g$/G/; s/m$/M/')") / 8000 ))
[ "$burst" -lt 16384 ] && burst=16384
for i in 0 1 2; do
    ns=lpcg-w$i
    ip netns add $ns
    ip link add lpcg-v$i type veth peer name eth0 netns $ns
    ip link set lpcg-v$i master lpcg-br up
    ip -n $ns addr add 10.78.0.1$i/24 dev eth0
    ip -n $ns link set lo up
    ip -n $ns link set eth0 up
    tc qdisc add dev lpcg-v$i root tbf rate "$RATE" burst $burst latency 50ms
    ip netns exec $ns tc qdisc add dev eth0 root tbf rate "$RATE" burst $burst latency 50ms
    cg_make $ns
done
# Pages of the file already in the page cache stay charged to whoever read
# them first: drop them, so each worker's own layers count against its limit.
sync && echo 1 > /proc/sys/vm/drop_caches
for i in 0 1 2; do
    ns=lpcg-w$i
    # into its cgroup before exec (`ip netns exec` gives the child a /sys
    # of its own, without the cgroup mounts), so its every page is counted
    sh -c "echo \$\$ > $CG/$ns/cgroup.procs && exec ip netns exec $ns '$BUILD/worker' \
        --listen tcp://10.78.0.1$i:5555 -t 1 --name cg-$i" > "$TMP/w$i.log" 2>&1 &
    echo $! >> "$TMP/pids"
done
cat > "$TMP/pool.ini" <<EOF
[model]
path = $MODEL
ctx = 256
sessions = 1
threads = 1
EOF
for i in 0 1 2; do
    printf '[worker.cg-%d]\nendpoint = tcp://10.78.0.1%d:5555\nmem = %s\nmodel_path = %s\n' \
        "$i" "$i" "$LIMIT" "$MODEL" >> "$TMP/pool.ini"
done
sleep 1

echo "== model: $MODEL ($(du -h "$MODEL" | cut -f1)); each worker: cgroup v$V limit $LIMIT, link $RATE"
echo "== through 3 workers"
"$BUILD/coord" run --config "$TMP/pool.ini" -p "$PROMPT" -n "$N_GEN" --ids \
    > "$TMP/pool.ids" 2> "$TMP/pool.err" || { cat "$TMP/pool.err" >&2; exit 1; }
grep -E "^loading|first token|^worker|per token" "$TMP/pool.err"
i=0
for p in $(cat "$TMP/pids"); do
    printf 'worker cg-%d: peak memory %s (its cgroup, page cache included; limit %s), peak RSS %s\n' \
        "$i" "$(numfmt --to=iec "$(cg_peak lpcg-w$i)")" "$LIMIT" \
        "$(awk '/VmHWM/ { print $2 " " $3 }' /proc/"$p"/status 2>/dev/null)"
    i=$((i + 1))
done
POOL_IDS=$(tail -1 "$TMP/pool.ids")
for p in $(cat "$TMP/pids"); do kill "$p" 2>/dev/null || true; done

echo "== one process, no limit"
"$BUILD/coord" run -m "$MODEL" -p "$PROMPT" -n "$N_GEN" --ids -t 1 -c 256 \
    > "$TMP/solo.ids" 2> "$TMP/solo.err" || { cat "$TMP/solo.err" >&2; exit 1; }
grep -E "tok/s|first token" "$TMP/solo.err" | head -3
SOLO_IDS=$(tail -1 "$TMP/solo.ids")
echo "pool ids: $POOL_IDS"
echo "solo ids: $SOLO_IDS"
if [ "$POOL_IDS" != "$SOLO_IDS" ]; then
    echo "pool-cgroups: FAIL: the pool's ids differ from the single process's" >&2
    exit 1
fi
echo "ids equal: yes"

echo "== one process under the same $LIMIT limit (at most $SOLO_TIMEOUT s)"
cg_make lpcg-solo
sync && echo 1 > /proc/sys/vm/drop_caches
start=$(date +%s.%N)
set +e
sh -c "echo \$\$ > $CG/lpcg-solo/cgroup.procs; exec timeout $SOLO_TIMEOUT '$BUILD/coord' run \
    -m '$MODEL' -p '$PROMPT' -n $N_GEN --ids -t 1 -c 256" > "$TMP/lim.ids" 2> "$TMP/lim.err"
rc=$?
set -e
end=$(date +%s.%N)
grep -E "tok/s|first token|error|Killed" "$TMP/lim.err" | head -3
printf 'one process under %s: exit %d after %.1f s, peak memory %s%s\n' "$LIMIT" "$rc" \
    "$(echo "$end - $start" | bc)" "$(numfmt --to=iec "$(cg_peak lpcg-solo)")" \
    "$([ $rc -eq 124 ] && echo ' (timed out)'; [ $rc -eq 137 ] && echo ' (killed: out of memory)')"
