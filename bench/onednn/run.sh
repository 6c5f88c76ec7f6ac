#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Build bench/onednn/convbench.c against Debian's oneDNN (libdnnl-dev) and
# against oneDNN 3.2 from PyPI (Intel's onednn-cpu-gomp / onednn-devel-cpu-gomp
# 2023.2.0 wheels: self-contained, GNU OpenMP), run both on the same shapes,
# fp32 then bf16 (bf16 only where the CPU has avx512_bf16 or AMX), twice,
# alternating. The wheels are downloaded once into $CVB_ONEDNN_CACHE (default
# data/bench/onednn); nothing is installed. Threads: $THREADS (default: all
# cores this process may use).
#   bench/onednn/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${CVB_ONEDNN_CACHE:-$ROOT/data/bench/onednn}
PY=$(bash "$ROOT/scripts/bench-venv.sh" | tail -1)
mkdir -p "$CACHE"
W3=(onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0)
if [ ! -d "$CACHE/x" ]; then
    "$PY" -m pip download --no-deps -q -d "$CACHE" "${W3[@]}"
    for w in "$CACHE"/*.whl; do "$PY" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$w" "$CACHE/x"; done
fi
INC3=$(dirname "$(dirname "$(find "$CACHE/x" -path '*/include/oneapi' -type d | head -1)")")/include
LIB3=$(dirname "$(find "$CACHE/x" -name 'libdnnl.so.3' | head -1)")
cc -O2 -o "$CACHE/convbench-2" "$ROOT/bench/onednn/convbench.c" -ldnnl
cc -O2 -I"$INC3" -o "$CACHE/convbench-3" "$ROOT/bench/onednn/convbench.c" -L"$LIB3" -ldnnl -Wl,-rpath,"$LIB3"
export OMP_NUM_THREADS=${THREADS:-$(nproc)}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), threads $OMP_NUM_THREADS"
precs=(fp32)
grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo && precs+=(bf16)
for p in "${precs[@]}"; do
    for round in 1 2; do
        for v in 2 3; do
            echo "== round $round, $p, oneDNN $v.x"
            "$CACHE/convbench-$v" "$p"
        done
    done
done
