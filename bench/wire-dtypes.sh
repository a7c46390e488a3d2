#!/bin/sh
# What each wire dtype costs in quality: coord perplexity through a pool of
# 2 local workers whose hidden states travel as f32, f16, bf16 or q8_0,
# against the same model in one process (--kl-base): mean KL divergence,
# how often the top token is the same, and the perplexity ratio; beside
# the bytes a token takes per hop for the model's width (a row of the
# dtype plus the Forward's own 23 bytes).
#   bench/wire-dtypes.sh [MODEL] [TEXT] [BUILD]; env CTX (256)
set -eu
MODEL=$(realpath "${1:-../shared/models/stories260K.gguf}")
TEXT=$(realpath "${2:-../shared/corpus/tinystories_val_head40k.txt}")
BUILD=${3:-build}
CTX=${CTX:-256}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
n_embd=$("$BUILD/coord" inspect "$MODEL" 2>/dev/null | awk '/^embedding:/ { print $2; exit }')
echo "model $MODEL (n_embd ${n_embd:-?}), text $TEXT, -c $CTX, 2 local workers"
echo "| wire dtype | bytes/token/hop | mean KLD vs one process | same top token | PPL ratio |"
echo "|---|---|---|---|---|"
for dt in f32 f16 bf16 q8_0; do
    printf '[model]\npath = %s\nctx = %s\nsessions = 2\nthreads = 1\nwire_dtype = %s\n[local]\nworkers = 2\nmem = 2G\n' \
        "$MODEL" "$CTX" "$dt" > "$TMP/$dt.ini"
    "$BUILD/coord" perplexity --config "$TMP/$dt.ini" -f "$TEXT" -c "$CTX" --kl-base "$MODEL" \
        > "$TMP/$dt.out" 2>&1 || { tail -5 "$TMP/$dt.out" >&2; exit 1; }
    kld=$(awk '/Mean +KLD:/ { print $3, $4, $5 }' "$TMP/$dt.out")
    top=$(awk '/Same top p:/ { print $4, $5, $6, $7 }' "$TMP/$dt.out")
    ratio=$(awk '/Mean PPL\(Q\)\/PPL\(base\)/ { print $4, $5, $6 }' "$TMP/$dt.out")
    case $dt in f32) row=$((n_embd * 4)) ;; f16 | bf16) row=$((n_embd * 2)) ;; q8_0) row=$((n_embd / 32 * 34)) ;; esac
    echo "| $dt | $((row + 23)) | $kld | $top | $ratio |"
done
