#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Build and run the model-loader fuzzer (tests/fuzz/fuzz-model-load.c).
#
# Configures a separate CMake build with clang and CVB_FUZZ=ON, which compiles
# every cvb_core source with -fsanitize=fuzzer-no-link,address,undefined, and
# links the target with -fsanitize=fuzzer. The seed corpus is small valid
# models (tests/data/gen_models.py, synthesized YOLO models at imgsz 64), the
# bad-model corpus, and the ONNX node-test models from libonnx-testdata.
# Runs for FUZZ_SECONDS (default 60); any finding (crash, sanitizer report,
# leak, timeout, RSS or single allocation over the limits) fails.
#
#   scripts/fuzz.sh --cvbench build/cvbench --python .venv/bin/python [--build-dir DIR]
# Exit 0: no finding; 1: finding or build failure; 77: toolchain missing (skip).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CVBENCH=$ROOT/build/cvbench
PY=$ROOT/.venv/bin/python
FUZZ_BUILD=$ROOT/build/fuzz
SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
while (($#)); do
    case $1 in
    --cvbench) CVBENCH=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --build-dir) FUZZ_BUILD=$2; shift 2 ;;
    *) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done

if ! command -v clang >/dev/null; then
    echo "SKIP: clang not installed (scripts/install-deps.sh --test)"; exit 77
fi
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    echo "SKIP: libFuzzer runtime missing (libclang-rt-14-dev)"; exit 77
fi
if [[ ! -x $PY ]]; then
    echo "SKIP: $PY missing (scripts/test-venv.sh)"; exit 77
fi

echo "== building fuzz-model-load in $FUZZ_BUILD (clang, ASan+UBSan+libFuzzer)"
t0=$SECONDS
mkdir -p "$FUZZ_BUILD"
CC=clang cmake -S "$ROOT" -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCVB_FUZZ=ON \
    >"$FUZZ_BUILD/configure.log" 2>&1 || { cat "$FUZZ_BUILD/configure.log"; exit 1; }
cmake --build "$FUZZ_BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target fuzz-model-load
echo "== built in $((SECONDS - t0)) s"

WORK=$FUZZ_BUILD/run
rm -rf "$WORK"
mkdir -p "$WORK/seeds" "$WORK/corpus" "$WORK/artifacts"
# Seeds: bad-model corpus (+ a truncated synthesized model), small valid models,
# synthesized YOLO models at imgsz 64 and the ONNX node tests' models.
synth_arg=()
[[ -x $CVBENCH ]] && synth_arg=(--cvbench "$CVBENCH")
"$PY" "$ROOT/tests/integration/bad_models.py" --write-corpus "$WORK/seeds" "${synth_arg[@]}"
ROOT=$ROOT "$PY" -c '
import os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "data"))
import gen_models as g
out = sys.argv[1]
for name, m in [("tiny-conv", g.tiny_conv()), ("mini-yolo-32", g.mini_yolo(32)),
                ("mini-yolo-64", g.mini_yolo(64)), ("tiny-conv-opset13", g.tiny_conv(opset=13))]:
    open(os.path.join(out, name + ".onnx"), "wb").write(m.SerializeToString())
' "$WORK/seeds"
if [[ -x $CVBENCH ]]; then
    for arch in yolov8n yolo11n; do
        "$CVBENCH" model synth --arch $arch --imgsz 64 --seed 1 -o "$WORK/seeds/synth-$arch-64.onnx" ||
            echo "warning: could not synthesize $arch seed"
    done
fi
n_node=0
for d in /usr/share/libonnx-testdata/data/node/test_{conv,sigmoid,mul,add,sub,div,pow,sqrt,concat,split,slice,maxpool,resize,reshape,transpose,softmax,matmul,constant,shape,gather,unsqueeze,squeeze,cast,expand,identity,flatten,relu}*; do
    [[ -f $d/model.onnx ]] || continue
    cp "$d/model.onnx" "$WORK/seeds/node-$(basename "$d").onnx"
    n_node=$((n_node + 1))
done
echo "== seeds: $(ls "$WORK/seeds" | wc -l) files ($n_node ONNX node-test models)"

# -max_len: synthesized models (~12 MB of weights) are cut to their first
# 256 KiB, which keeps their graph section; the small models fit whole.
# -malloc_limit_mb: a single allocation this large is reported as a finding
# (the loader must refuse absurd declared sizes before allocating them).
echo "== fuzzing for $SECONDS_TO_RUN s"
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$FUZZ_BUILD/fuzz-model-load" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -max_len=262144 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" "$WORK/seeds" >"$WORK/fuzz.log" 2>&1
rc=$?
set -e
grep -E '^(INFO: seed corpus|#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done )' \
    "$WORK/fuzz.log" || true
if ((rc != 0)) || ls "$WORK/artifacts" | grep -q .; then
    echo "FAIL: fuzzer finding (exit $rc); log tail:"
    tail -n 60 "$WORK/fuzz.log"
    echo "artifacts (reproduce: $FUZZ_BUILD/fuzz-model-load FILE):"
    ls -l "$WORK/artifacts"
    exit 1
fi
echo "no findings in $SECONDS_TO_RUN s"
