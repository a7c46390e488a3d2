#!/bin/sh
# The quantization table in README: what each file type costs in size and
# quality, and what a Llama 3 70B needs at each.
#
#   bench/quant_table.sh [BUILD]      (BUILD: the build dir holding coord; default build)
#
# 1. stories260K.gguf (real, trained, F32) quantized by `coord quantize` to
#    every type: file size, bits per weight, perplexity at -c 256 on
#    corpus/tinystories_val_head40k.txt, KL divergence from F32 and the share
#    of positions whose top token stays F32's, generation tok/s (1 thread).
# 2. synth-llama-f32.gguf (random weights, rows of 256, so every k-quant
#    applies) the same way, KLD only (noise weights: its perplexity means
#    nothing).
# 3. `coord synth --dry-run` sizes of Llama 3 70B/8B/1B at each type, and how
#    many 16 GB machines each needs (memory model below), nothing written.
#
# Writes bench/results/quant-table-$QT_MACHINE.csv and prints the markdown.
# Env: QT_MACHINE (name in the CSV's file name; default from the CPU),
# QT_THREADS (threads for quantize and perplexity, whose figures do not
# depend on it; default: all CPUs), QT_REPS (timed generation runs, median;
# default 5), QT_NOTE (a line for the CSV header, e.g. "quiet machine"),
# QT_TYPES (a shorter list of types, for a quick look),
# LP_SHARED (the shared data; default ../shared).
set -eu

BUILD=${1:-build}
COORD=$BUILD/coord
SHARED=${LP_SHARED:-../shared}
TEXT=$SHARED/corpus/tinystories_val_head40k.txt
CTX=256
THREADS=${QT_THREADS:-$(nproc)}
REPS=${QT_REPS:-5}
TYPES=${QT_TYPES:-F32 F16 BF16 Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 Q3_K_L Q3_K_M Q3_K_S Q2_K}
SHAPES="llama3-70b llama3-8b llama3-1b"
# The 16 GB machine: 16 GiB of RAM, 1 GiB of it left to the OS.
MACHINE_GIB=16
OS_GIB=1
KV_CTX=4096

[ -x "$COORD" ] || { echo "quant_table: no $COORD (build first, or pass the build dir)" >&2; exit 2; }
[ -r "$TEXT" ] || { echo "quant_table: no $TEXT (set LP_SHARED)" >&2; exit 2; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
fam=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n1)
mod=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n1)
ncpu=$(nproc)
slug=$(printf '%s-%sc' "$cpu" "$ncpu" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-')
MACHINE=${QT_MACHINE:-$slug}
OUTDIR=$(dirname "$0")/results
CSV=$OUTDIR/quant-table-$MACHINE.csv

TMP=$(mktemp -d "${TMPDIR:-/tmp}/quant-table.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

commit=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$(dirname "$0")" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit (+ uncommitted changes in the tree)"
fi

# ---- helpers -------------------------------------------------------------

# quantize SRC TYPE -> $TMP/TYPE.gguf; echoes "bpw;tensor types", or
# "refused" when a row is no whole block of a legacy type (llama-quantize
# refuses those too; only the k-quants fall back)
quantize() {
    if ! "$COORD" quantize "$1" "$TMP/$2.gguf" "$2" -t "$THREADS" >"$TMP/q.log" 2>&1; then
        grep -q 'not a multiple of' "$TMP/q.log" && { echo refused; return 0; }
        cat "$TMP/q.log" >&2
        exit 1
    fi
    awk '/^  tensors/ { sub(/^  tensors +[0-9]+: /, ""); types = $0 }
         /bits per weight/ { for (i = 1; i <= NF; i++) if ($i == "bits") bpw = $(i - 1) }
         END { gsub(/, /, " + ", types); printf "%s;%s\n", bpw, types }' "$TMP/q.log"
}

# kl MODEL BASE -> "ppl;ppl_err;kld;kld_err;same;same_err;ratio"
kl() {
    "$COORD" perplexity -m "$1" -f "$TEXT" -c "$CTX" -t "$THREADS" --kl-base "$2" \
        >"$TMP/p.log" 2>&1 || { cat "$TMP/p.log" >&2; exit 1; }
    sed -n 's/^perplexity: \([0-9]*\) tokens.*/\1/p' "$TMP/p.log" >"$TMP/ntok"
    awk '/^Mean PPL\(Q\) /            { ppl = $4; ple = $6 }
         /^Mean PPL\(Q\)\/PPL\(base\)/ { ratio = $4 }
         /^Mean +KLD:/                 { kld = $3; kle = $5 }
         /^Same top p:/                { same = $4; sae = $6 }
         END { if (kld == "" || same == "") exit 1
               printf "%s;%s;%s;%s;%s;%s;%s\n", ppl, ple, kld, kle, same, sae, ratio }' "$TMP/p.log" ||
        { echo "quant_table: no KLD in coord perplexity's output:" >&2; cat "$TMP/p.log" >&2; exit 1; }
}

# gen MODEL -> "median;min;max" tok/s generating 64 tokens, 1 thread
gen() {
    "$COORD" bench-node -m "$1" -p 0 -n 64 -t 1 -r "$REPS" --triad-reps 1 >"$TMP/b.log" 2>&1 ||
        { cat "$TMP/b.log" >&2; exit 1; }
    awk '/^tg64 / { m = $3; gsub(/,/, "", $6); mn = $6; gsub(/,/, "", $8); mx = $8 }
         END { if (m == "") exit 1; printf "%s;%s;%s\n", m, mn, mx }' "$TMP/b.log" ||
        { echo "quant_table: no tg64 line in coord bench-node's output:" >&2; cat "$TMP/b.log" >&2; exit 1; }
}

# ---- 1 and 2: quantize, score, time ---------------------------------------

rows=$TMP/rows.csv
: >"$rows"
measure() { # BLOCK SRC
    for t in $TYPES; do
        q=$(quantize "$2" "$t")
        if [ "$q" = refused ]; then
            why=$(sed -n "s/.*has rows of \([0-9]*\) values, not a multiple of [^ ]*'s \([0-9]*\).*/refused: rows of \1 not a multiple of \2/p" \
                "$TMP/q.log" | head -n1)
            echo "$1;$t;;;${why:-refused};;;;;;;;;;" >>"$rows"
            echo "  $1 $t: ${why:-refused}" >&2
            continue
        fi
        k=$(kl "$TMP/$t.gguf" "$2")
        g=$(gen "$TMP/$t.gguf")
        size=$(stat -c %s "$TMP/$t.gguf")
        echo "$1;$t;$size;$q;$k;$g" >>"$rows"
        echo "  $1 $t done" >&2
        rm -f "$TMP/$t.gguf"
    done
}
echo "quant_table: stories260K, ${TYPES}" >&2
measure stories260K "$SHARED/models/stories260K.gguf"
echo "quant_table: synth-llama" >&2
measure synth-llama "$SHARED/models/synth-llama-f32.gguf"

# ---- 3: sizes of real shapes, and the 16 GB machines they need ------------

# coord plan's compute buffers + reserve per worker for the 70B (Q4_K_M, the
# shape it knows), used for every type and shape (smaller models need less).
"$COORD" plan --shape llama70b-q4_k_m --workers-mem 15G,15G,15G -c "$KV_CTX" >"$TMP/plan.log" 2>&1 ||
    { cat "$TMP/plan.log" >&2; exit 1; }
buf_mib=$(awk '$1 == "0" { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/ && ($(i + 1) == "MiB" || $(i + 1) == "GiB")) { v[++n] = $(i + 1) == "GiB" ? $i * 1024 : $i } }
               END { print v[3] }' "$TMP/plan.log")
plan_fits=$(grep '^fits:' "$TMP/plan.log" || echo "fits: (coord plan printed no fits line)")

sizes=$TMP/sizes.csv
: >"$sizes"
for s in $SHAPES; do
    for t in $TYPES; do
        "$COORD" synth --shape "$s" -t "$t" -o "$TMP/none.gguf" --dry-run >"$TMP/d.log" 2>&1 ||
            { cat "$TMP/d.log" >&2; exit 1; }
        # Per worker: its layers' weights + their f16 KV for KV_CTX positions,
        # token_embd on the first, output (or the tied token_embd) and
        # output_norm on the last, buffers; filled greedily in layer order
        # (which gives the fewest machines for a contiguous split); rope_freqs
        # counted once.
        awk -v shape="$s" -v type="$t" -v ctx="$KV_CTX" -v buf="$buf_mib" \
            -v cap_gib="$MACHINE_GIB" -v os_gib="$OS_GIB" '
            $1 == "total:" { file = $2; bpw = $(NF - 3); next }
            $NF != "bytes" { next }
            { b = $(NF - 1) }
            $1 ~ /^blk\./ { split($1, p, "."); l = p[2] + 0; layer[l] += b; if (l + 1 > nl) nl = l + 1
                            if ($1 ~ /attn_k\.weight$/) kvdim = $5 }
            $1 == "token_embd.weight" { embd = b }
            $1 == "output.weight" { out = b; have_out = 1 }
            $1 == "output_norm.weight" || $1 == "rope_freqs.weight" { out += b }
            END {
                gib = 1024 * 1024 * 1024
                if (!have_out) out += embd
                kv = 2 * ctx * kvdim * 2
                cap = (cap_gib - os_gib) * gib - buf * 1024 * 1024
                n = 1; cur = 0; total = 0
                for (l = 0; l < nl; l++) {
                    it = layer[l] + kv + (l == 0 ? embd : 0) + (l == nl - 1 ? out : 0)
                    total += it
                    if (cur > 0 && cur + it > cap) { n++; cur = 0 }
                    cur += it
                    if (cur > cap) { n = -1; break }
                }
                # A tied head is token_embd itself: held once where one
                # machine has both ends (as coord plan counts it).
                if (!have_out && total - embd <= cap) { n = 1; total -= embd }
                need = total + n * buf * 1024 * 1024
                printf "%s;%s;%s;%s;%.1f;%.1f;%d;%s\n", shape, type, file, bpw,
                       total / gib, need / gib, n, (n > 0 && n <= 3) ? "yes" : "no"
            }' "$TMP/d.log" >>"$sizes"
    done
done

# ---- the CSV --------------------------------------------------------------

mkdir -p "$OUTDIR"
{
    echo "# bench/quant_table.sh, $(date -u +%F)"
    echo "# machine: $cpu (cpu family $fam model $mod), $ncpu CPUs; layerpool $commit"
    echo "# quantize/perplexity -t $THREADS; generation: coord bench-node -p 0 -n 64 -t 1 -r $REPS (median, min, max tok/s)"
    echo "# perplexity: coord perplexity -c $CTX on corpus/tinystories_val_head40k.txt, --kl-base the F32 source"
    echo "# bpw: tensor data bits / tensor elements, all tensors (norms included), header and vocabulary excluded"
    echo "# shapes: coord synth --dry-run; machines_16g: fewest ${MACHINE_GIB} GiB machines holding a contiguous layer split"
    echo "#   (each: weights + f16 KV for $KV_CTX positions + ${buf_mib} MiB buffers (coord plan's, 70B Q4_K_M) + ${OS_GIB} GiB for the OS)"
    [ -n "${QT_NOTE:-}" ] && echo "# note: $QT_NOTE"
    echo "block,model,type,file_bytes,bpw,tensor_types,ppl,ppl_err,kld,kld_err,same_top_pct,same_top_err,ppl_ratio,tg_tok_s,tg_min,tg_max,weights_kv_gib,memory_gib,machines_16g,fits_3x16g"
    awk -F';' '{ ppl = $1 == "synth-llama" ? "" : $6; ple = $1 == "synth-llama" ? "" : $7
                 printf "measured,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,,,,\n",
                        $1, $2, $3, $4, $5, ppl, ple, $8, $9, $10, $11, $12, $13, $14, $15 }' "$rows"
    awk -F';' '{ printf "size,%s,%s,%s,%s,,,,,,,,,,,,%s,%s,%s,%s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$sizes"
} >"$TMP/out.csv"
cp "$TMP/out.csv" "$CSV"

# ---- the markdown ---------------------------------------------------------

echo "Machine: $cpu (cpu family $fam model $mod), $ncpu CPUs, $(date -u +%F); layerpool $commit."
echo
echo "**stories260K** (real, trained; F32 source), perplexity at -c $CTX on tinystories_val_head40k.txt ($(cat "$TMP/ntok") tokens), KLD and top token against F32, generation 1 thread."
echo "Its rows of 64 (ffn_down: 172) are no whole 256-blocks, so every K type falls back per tensor as llama.cpp's rules say"
echo "(Q6_K→Q8_0, Q5_K→Q5_1, Q4_K→Q5_0, Q3_K/Q2_K→IQ4_NL, which we write as Q4_0 of the same size; rows of 172 → F16),"
echo "and the legacy types, which have no fallback, are refused:"
echo
echo "| type | file | bits/weight | tensors | PPL | KLD | same top token | tg64 tok/s |"
echo "|---|---|---|---|---|---|---|---|"
awk -F';' '$1 == "stories260K" && $3 == "" { printf "| %s | – | – | %s (as llama-quantize) | | | | |\n", $2, $5 }
           $1 == "stories260K" && $3 != "" { printf "| %s | %.0f KB | %s | %s | %.4f ± %.4f | %.6f | %.2f %% | %.0f |\n",
                                 $2, $3 / 1000, $4, $5, $6, $7, nz($8), $10, $13 }
           function nz(x) { return x + 0 == 0 ? 0 : x }' "$rows"
echo
echo "**synth-llama** (random weights, n_embd 256, rows of 256: every type is what it says), KLD and top token against F32 on the same text:"
echo
echo "| type | file | bits/weight | tensors | KLD | same top token | tg64 tok/s |"
echo "|---|---|---|---|---|---|---|"
awk -F';' '$1 == "synth-llama" && $3 == "" { printf "| %s | – | – | %s | | | |\n", $2, $5 }
           $1 == "synth-llama" && $3 != "" { printf "| %s | %.2f MB | %s | %s | %.6f | %.2f %% | %.0f |\n",
                                 $2, $3 / 1e6, $4, $5, nz($8), $10, $13 }
           function nz(x) { return x + 0 == 0 ? 0 : x }' "$rows"
echo
echo "**Real shapes** (\`coord synth --dry-run\`): file size, and the ${MACHINE_GIB} GB machines a pool needs (each: its layers' weights + f16 KV for $KV_CTX positions + ${buf_mib} MiB buffers, ${OS_GIB} GiB left to the OS):"
echo
echo "| type | 70B file | bits/weight | 70B memory | 70B: 16 GB machines | 8B file | 8B: machines | 1B file | 1B: machines |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -F';' '{ k = $1 ";" $2; file[k] = $3; bpw[k] = $4; mem[k] = $6; n[k] = $7; if (!($2 in seen)) { seen[$2] = 1; order[++m] = $2 } }
     END { for (i = 1; i <= m; i++) { t = order[i]; a = "llama3-70b;" t; b = "llama3-8b;" t; c = "llama3-1b;" t
               printf "| %s | %.1f GB | %.2f | %.1f GiB | %d%s | %.2f GB | %d | %.2f GB | %d |\n", t,
                      file[a] / 1e9, bpw[a], mem[a], n[a], n[a] <= 3 ? " (fits 3)" : "",
                      file[b] / 1e9, n[b], file[c] / 1e9, n[c] } }' "$sizes"
echo
echo "coord plan --shape llama70b-q4_k_m --workers-mem 15G,15G,15G -c $KV_CTX: $plan_fits"
echo
echo "(CSV: $CSV)"
