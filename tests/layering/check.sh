#!/bin/sh
# The folders of src/ are layers (CMakeLists.txt's LP_LAYERS, lowest
# first); a file may include headers of its own folder and the folders
# below. Checked twice:
#  1. by the compiler: right_way.c builds against lp_model, wrong_way.c
#     (base including model.h) must not build against lp_base;
#  2. by reading every #include "..." under src/: the header must live in
#     the including file's folder or a lower one (this also covers headers
#     no build happens to compile).
# usage: check.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2/src
layers="base quant kernels gguf model text shard quantize plan synth net cluster"
fail=0

cmake --build "$build" --target lp_layering_right_way >/dev/null 2>&1 ||
    { echo "layering: right_way.c does not build against lp_model"; fail=1; }
if out=$(cmake --build "$build" --target lp_layering_wrong_way 2>&1); then
    echo "layering: base including model.h compiled: the build does not enforce the layers"
    fail=1
elif ! printf '%s' "$out" | grep -q "model.h: No such file"; then
    printf 'layering: wrong_way.c failed for another reason:\n%s\n' "$out"
    fail=1
fi

rank() { # the position of folder $1 in $layers (1-based), 0 if none
    i=0
    for l in $layers; do i=$((i + 1)); [ "$l" = "$1" ] && { echo $i; return; }; done
    echo 0
}
where() { # the folder of src/ holding header $1, "" if none (system, generated)
    for l in $layers; do [ -f "$src/$l/$1" ] && { echo "$l"; return; }; done
}
n=0
for l in $layers; do
    r=$(rank "$l")
    for f in "$src/$l"/*.c "$src/$l"/*.h; do
        [ -f "$f" ] || continue
        for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
            n=$((n + 1))
            at=$(where "$h")
            [ -z "$at" ] && continue
            if [ "$(rank "$at")" -gt "$r" ]; then
                echo "layering: ${f#"$src"/} includes $h from $at/, a higher layer"
                fail=1
            fi
        done
    done
done
[ $fail -eq 0 ] && echo "layering: $n includes under src/ point down or sideways; wrong_way.c refused"
exit $fail
