# shellcheck shell=sh
# Sourced by the bench/ scripts that interleave runs. summarize ALL LABEL..:
# ALL holds lines "RUN LABEL VALUE"; for each label, print its median, min
# and max of VALUE, and set med_LABEL to the median.
summarize() {
    all=$1
    shift
    for who in "$@"; do
        awk -v w="$who" '$2 == w { print $3 }' "$all" | sort -g > "$all.$who"
        n=$(wc -l < "$all.$who")
        med=$(awk -v n="$n" 'NR == int((n + 1) / 2) { a = $1 } NR == int(n / 2) + 1 { b = $1 } END { printf "%.3f", (a + b) / 2 }' "$all.$who")
        printf '%-6s median %s (min %s, max %s)\n' "$who" "$med" "$(head -1 "$all.$who")" "$(tail -1 "$all.$who")"
        eval "med_$who=$med"
    done
}
