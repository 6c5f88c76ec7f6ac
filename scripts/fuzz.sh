#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Build and run the libFuzzer targets (tests/fuzz/fuzz-<target>.c): one per
# parser of untrusted bytes. Targets: model-load (the ONNX loader), scenario
# (the scenario JSON parser), npy (the .npy reader), api-body (the service's
# POST /v1/runs body: HTTP JSON check + submission parser), result-json (the
# manifest and level decoders the CLI client and the store use),
# kserve-request (the KServe v2 codec: infer request and response parsers with
# the binary tensor extension, model metadata and statistics parsers).
#
# Configures a separate CMake build with clang and CVB_FUZZ=ON, which compiles
# every cvb_core source with -fsanitize=fuzzer-no-link,address,undefined, and
# links each target with -fsanitize=fuzzer. Inputs per target:
#   tests/fuzz/corpus/<target>/  the regression corpus, committed: every input
#                                that once found a bug, and a few valid ones
#   <build>/run-<target>/seeds   seeds generated here (small valid and broken
#                                models, scenarios/*.json, .npy files from numpy)
# Two modes:
#   --mode check (ctest fuzz-<target>, make test): replays every regression
#       and seed input (exact: the same inputs every time), then fuzzes
#       RUNS[target] executions from -seed=1 in a fresh scratch corpus. No
#       clock decides anything, so the verdict does not depend on the
#       machine's speed or load. The sources of run-to-run variation we
#       found are removed (see below); libFuzzer's exploration can still
#       differ slightly between two runs (measured: the same or +-1-2 % of
#       the features, corpus sizes differing by a few %), so a finding in
#       this step is always kept in the corpus, where it replays exactly.
#   --mode long (make fuzz, ctest fuzz-<target>-long): replays as above, then
#       fuzzes FUZZ_SECONDS (default 1800) per target with a random seed,
#       keeping what it learns in <build>/corpus-<target> (outside git) for
#       the next campaign.
# Any finding (crash, sanitizer report, leak, 20 s for one input, 2 GiB RSS,
# or a single allocation over MALLOC_MB below) fails, and the script prints
# how to reproduce it and how to add it to the regression corpus.
#
#   scripts/fuzz.sh [--target NAME|all] [--mode check|long] [--build-dir DIR]
#                   [--cvbench build/cvbench] [--python .venv/bin/python]
#                   [--build-only | --no-build]
# Exit 0: no finding; 1: finding or build failure; 77: toolchain missing (skip).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CVBENCH=$ROOT/build/cvbench
PY=$ROOT/.venv/bin/python
FUZZ_BUILD=$ROOT/build/fuzz
TARGETS=(model-load scenario npy api-body result-json kserve-request)
TARGET=all
MODE=check
BUILD=1
RUN=1
SECONDS_TO_RUN=${FUZZ_SECONDS:-1800}
while (($#)); do
    case $1 in
    --cvbench) CVBENCH=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --build-dir) FUZZ_BUILD=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --build-only) RUN=0; shift ;;
    --no-build) BUILD=0; shift ;;
    *) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
mkdir -p "$FUZZ_BUILD"
FUZZ_BUILD=$(cd "$FUZZ_BUILD" && pwd) # the fuzzing step runs from inside it
CALLER_DIR=$PWD
case $MODE in check | long) ;; *) echo "fuzz.sh: --mode must be check or long" >&2; exit 2 ;; esac
if [[ $TARGET != all ]]; then
    [[ " ${TARGETS[*]} " == *" $TARGET "* ]] ||
        { echo "fuzz.sh: unknown target '$TARGET' (${TARGETS[*]})" >&2; exit 2; }
    TARGETS=("$TARGET")
fi

# Per target: executions in check mode (each about a minute or less on the
# 2-core dev machine while other tests run beside it), input size cap, and
# the largest single allocation that is not a finding. model-load: an input
# of at most 256 KiB may fold 64 MiB + 4x its size of constants and plan
# 256 MiB of activations (the target's cap); anything larger was allocated
# from a declared size that the bytes present do not back.
declare -A RUNS=([model-load]=200000 [scenario]=1000000 [npy]=4000000 [api-body]=400000
    [result-json]=200000 [kserve-request]=3000000)
declare -A MAX_LEN=([model-load]=262144 [scenario]=8192 [npy]=4096 [api-body]=65536
    [result-json]=65536 [kserve-request]=65536)
declare -A MALLOC_MB=([model-load]=320 [scenario]=64 [npy]=64 [api-body]=64 [result-json]=64
    [kserve-request]=64)

if ! command -v clang >/dev/null; then
    echo "SKIP: clang not installed (scripts/install-deps.sh --test)"; exit 77
fi
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    echo "SKIP: libFuzzer runtime missing (libclang-rt-14-dev)"; exit 77
fi
if [[ ! -x $PY ]]; then
    echo "SKIP: $PY missing (scripts/test-venv.sh)"; exit 77
fi

if ((BUILD)); then
    echo "== building ${TARGETS[*]/#/fuzz-} in $FUZZ_BUILD (clang, ASan+UBSan+libFuzzer)"
    t0=$SECONDS
    mkdir -p "$FUZZ_BUILD"
    CC=clang cmake -S "$ROOT" -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCVB_FUZZ=ON \
        >"$FUZZ_BUILD/configure.log" 2>&1 || { cat "$FUZZ_BUILD/configure.log"; exit 1; }
    cmake --build "$FUZZ_BUILD" -j"$(nproc 2>/dev/null || echo 2)" \
        --target "${TARGETS[@]/#/fuzz-}" >"$FUZZ_BUILD/build.log" 2>&1 ||
        { tail -n 60 "$FUZZ_BUILD/build.log"; exit 1; }
    echo "== built in $((SECONDS - t0)) s"
fi
((RUN)) || exit 0

# ---- seeds generated per target ---------------------------------------------------
seeds_model_load() {
    local out=$1 synth_arg=()
    [[ -x $CVBENCH ]] && synth_arg=(--cvbench "$CVBENCH")
    "$PY" "$ROOT/tests/integration/bad_models.py" --write-corpus "$out" "${synth_arg[@]}"
    ROOT=$ROOT "$PY" -c '
import os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "data"))
import gen_models as g
out = sys.argv[1]
for name, m in [("tiny-conv", g.tiny_conv()), ("mini-yolo-32", g.mini_yolo(32)),
                ("mini-yolo-64", g.mini_yolo(64)), ("tiny-conv-opset13", g.tiny_conv(opset=13))]:
    open(os.path.join(out, name + ".onnx"), "wb").write(m.SerializeToString())
' "$out"
    if [[ -x $CVBENCH ]]; then
        for arch in yolov8n yolo11n; do
            "$CVBENCH" model synth --arch $arch --imgsz 64 --seed 1 -o "$out/synth-$arch-64.onnx" ||
                echo "warning: could not synthesize $arch seed"
        done
    fi
    local d
    for d in /usr/share/libonnx-testdata/data/node/test_{conv,sigmoid,mul,add,sub,div,pow,sqrt,concat,split,slice,maxpool,resize,reshape,transpose,softmax,matmul,constant,shape,gather,unsqueeze,squeeze,cast,expand,identity,flatten,relu}*; do
        [[ -f $d/model.onnx ]] && cp "$d/model.onnx" "$out/node-$(basename "$d").onnx"
    done
    return 0
}

seeds_scenario() {
    local out=$1 f
    for f in "$ROOT"/scenarios/*.json; do cp "$f" "$out/"; done
    # every field once, with a valid value (names from the field table)
    cat >"$out/all-fields.json" <<'EOF'
{"model": "m.onnx", "video": ["a.mp4", "/abs/b.mp4"], "backend": "cpu", "isa": "avx2",
 "precision": "int8", "kernels": "onednn", "threads": 2, "streams": "1,2,4", "frames": 30,
 "warmup": 0, "mode": "inference-only", "ring_frames": 4, "execution": "direct",
 "inference_streams": 1, "pacing": "camera", "target_fps": 25.5, "memory_budget": "512M",
 "min_duration": 1, "max_duration": 10, "window": 0.5, "density": true, "p99_ms": 80,
 "imgsz": 320, "json": "r.json", "csv": "r.csv", "report": "r.html", "db": "r.db",
 "save_frames": false}
EOF
    printf '{"streams": [1, 8, 64], "memory_budget": 17179869184}' >"$out/levels.json"
    printf '{"video": "clip.mp4"}' >"$out/one-video.json"
}

seeds_npy() {
    "$PY" - "$1" <<'EOF'
import io, os, sys
import numpy as np
out = sys.argv[1]
arrays = {
    "f32-nchw": np.linspace(-1, 1, 1 * 3 * 4 * 4, dtype=np.float32).reshape(1, 3, 4, 4),
    "u8-hwc": np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3),
    "i64-vec": np.array([1, -2, 3], np.int64),
    "i32-2d": np.arange(6, dtype=np.int32).reshape(2, 3),
    "i8": np.array([-128, 0, 127], np.int8),
    "bool": np.array([True, False]),
    "scalar": np.float32(2.5),
    "empty": np.zeros((0, 3), np.float32),
    "f32-8d": np.ones((1,) * 8, np.float32),
    "big-endian": np.arange(3, dtype=">f4"),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
    "f64": np.arange(3, dtype=np.float64),
}
for name, a in arrays.items():
    np.save(os.path.join(out, name + ".npy"), a)
for ver in [(2, 0), (3, 0)]:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(4, dtype=np.float32), version=ver)
    open(os.path.join(out, f"v{ver[0]}.npy"), "wb").write(buf.getvalue())
EOF
}

# POST /v1/runs bodies: the three shapes, paths relative to the target's
# data root (it holds model.onnx, a.mp4, m.calib and out.mp4, a symlink
# leading outside it), scenarios the parser accepts and ones it refuses.
seeds_api_body() {
    local out=$1
    printf '{"model": "model.onnx", "video": "a.mp4"}' >"$out/one.json"
    printf '[{"model": "model.onnx", "video": ["a.mp4", "a.mp4"], "streams": "1,2"},
 {"model": "model.onnx", "video": "a.mp4", "precision": "int8", "calib": "m.calib"}]' \
        >"$out/list.json"
    printf '{"scenarios": [{"model": "model.onnx", "video": "a.mp4", "frames": 30}]}' \
        >"$out/scenarios.json"
    printf '{"model": "model.onnx", "video": "out.mp4"}' >"$out/symlink-outside.json"
    printf '{"model": "../model.onnx", "video": "a.mp4"}' >"$out/dotdot.json"
    printf '{"model": "model.onnx", "video": "a.mp4", "json": "r.json"}' >"$out/output.json"
    printf '{"scenarios": {}, "x": 1}' >"$out/scenarios-bad.json"
    # the scenario target's every-field seed, its outputs dropped, paths in the root
    local tmp
    tmp=$(mktemp -d)
    seeds_scenario "$tmp"
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("json", "csv", "report", "db"):
    d.pop(k)
d.update(model="model.onnx", video=["a.mp4", "a.mp4"], calib="m.calib")
print(json.dumps(d))' "$tmp/all-fields.json" >"$out/all-fields.json"
    rm -rf "$tmp"
}
dict_api_body() {
    dict_scenario
    printf '"scenarios"\n"model.onnx"\n"a.mp4"\n"m.calib"\n"out.mp4"\n"../"\n'
}

# Results in the shape the encoder writes (what a server reply carries).
seeds_result_json() {
    local out=$1
    cat >"$out/manifest.json" <<'EOF'
{"run_id":"20261206-021300-ab12cd","started_at":"2026-12-06T02:13:00Z","cvbench_version":"0.9",
"git_commit":"abc","hostname":"h","cpu_model":"Xeon","cpu_flags":"avx2 avx512f","n_cpus":16,
"mem_total_bytes":68719476736,"isa":"avx512","threads":8,"libraries":"onednn 3.1",
"model_path":"/data/yolov8n.onnx","model_sha256":"00ff","synthetic_weights":true,
"model_input":"1x3x640x640","model_gflops":8.7,"video_path":"/data/a.mp4",
"video_desc":"h264 1280x720 30.00 fps 300 frames","backend":"cpu","precision":"fp32",
"mode":"pipeline","execution":"async","pacing":"max","target_fps":null,"density_streams":4,
"density_decided":"p99 over 80 ms at 8 streams","scenario":{"model":"/data/yolov8n.onnx",
"streams":[1,2,4]},"scenario_json":"{\"model\":\"/data/yolov8n.onnx\"}"}
EOF
    cat >"$out/level.json" <<'EOF'
{"level":1,"streams":4,"frames":840,"warmup_frames":200,"duration_s":12.5,"fps":67.2,
"fps_per_stream":16.8,"fps_per_stream_min":16.1,"latency_ms":{"p50":40.1,"p90":51.2,
"p95":55.0,"p99":61.7,"max":80.3,"mean":42.0},"stages":{"decode":{"mean_ms":2.1,"p99_ms":4.0,
"share":0.05},"preprocess":{"mean_ms":1.0,"p99_ms":2.0,"share":0.02},"inference":{"mean_ms":35.5,
"p99_ms":50.1,"share":0.9},"postprocess":{"mean_ms":0.5,"p99_ms":1.0,"share":0.01}},
"cpu":{"process_pct":780.5,"system_pct":97.5},"engine_busy_pct":97.1,"engine_instances":2,
"threads_per_instance":4,"rss_start_bytes":100000000,"rss_peak_bytes":150000000,
"rss_end_bytes":140000000,"mem_estimate_bytes":160000000,"dropped_frames":0,"late_frames":3,
"lateness_p99_ms":null,"stable":true,"windows":{"window_s":1.0,"window_frames":30,"min":65.0,
"max":69.9,"cv_pct":1.2,"drift_pct":0.4,"fps":[65.0,67.1,69.9,null]},
"bottleneck":"inference-bound: engine busy 97 %","status":"ok","error":"",
"accuracy":{"frames":10,"f1":0.98,"mean_iou":0.91,"matched":40,"ref_boxes":41,"test_boxes":42},
"rss_timeline":{"t_s":[0.0,0.5,1.0],"bytes":[100000000,120000000,150000000]}}
EOF
    printf '{"level":0,"status":"refused","error":"memory","accuracy":null}' >"$out/refused.json"
    printf '{"run_id":"x","scenario":"{\\"model\\":\\"m\\"}","density_streams":null}' \
        >"$out/manifest-scenario-string.json"
}
# The keys the encoder writes (from json.c, so the list never lags), the
# stage names and a few numbers at the edges of the conversions.
dict_result_json() {
    sed -n '/^static json_t \*manifest_obj/,/^int cvb__level_to_json/p' "$ROOT/src/report/json.c" |
        grep -o '"[a-z_0-9]*"' | sort -u
    printf '"decode"\n"preprocess"\n"inference"\n"postprocess"\n"null"\n"1e309"\n"-9223372036854775809"\n'
}

# KServe v2 bodies as tests/fuzz/fuzz-kserve-request.c reads them:
# "[R|M|S]<Inference-Header-Content-Length>\n<body>"; the header value is the
# JSON's length, so the binary tensors after it are reachable from the start.
kserve_seed() { # file kind json [printf-escaped binary tail]
    local hl=${#3}
    [[ -z ${4-} ]] && hl=
    { printf '%s%s\n%s' "$2" "$hl" "$3"; [[ -n ${4-} ]] && printf "$4"; } >"$1"
}
seeds_kserve_request() {
    local out=$1
    kserve_seed "$out/json-u8.txt" "" '{"id":"1","inputs":[{"name":"images","datatype":"UINT8","shape":[1,2,2,3],"data":[[[[0,1,2],[3,4,5]],[[6,7,8],[9,10,255]]]]}],"outputs":[{"name":"output0"}]}'
    kserve_seed "$out/json-all.txt" "" '{"inputs":[{"name":"a","datatype":"BOOL","shape":[2],"data":[true,false]},{"name":"b","datatype":"INT8","shape":[2],"data":[-128,127]},{"name":"c","datatype":"UINT16","shape":[1],"data":[65535]},{"name":"d","datatype":"INT32","shape":[1],"data":[-2147483648]},{"name":"e","datatype":"UINT32","shape":[1],"data":[4294967295]},{"name":"f","datatype":"INT64","shape":[1],"data":[-9223372036854775808]},{"name":"g","datatype":"UINT64","shape":[1],"data":[9223372036854775807]},{"name":"h","datatype":"FP16","shape":[2],"data":[65504,-0.0]},{"name":"i","datatype":"FP32","shape":[1],"data":[3.4e38]},{"name":"j","datatype":"FP64","shape":[],"data":[1e-300]},{"name":"k","datatype":"INT16","shape":[0,5],"data":[]}],"parameters":{"binary_data_output":true}}'
    kserve_seed "$out/bin-fp32.txt" "" '{"inputs":[{"name":"images","datatype":"FP32","shape":[1,3,1,1],"parameters":{"binary_data_size":12}}],"outputs":[{"name":"output0","parameters":{"binary_data":true}}]}' '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40'
    kserve_seed "$out/bin-two.txt" "" '{"inputs":[{"name":"a","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}},{"name":"b","datatype":"INT16","shape":[1],"data":[7]},{"name":"c","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":10}}]}' 'xyz\x02\x00\x00\x00hi\x00\x00\x00\x00'
    kserve_seed "$out/resp-bin.txt" R '{"model_name":"yolov8n","model_version":"1","id":"9","outputs":[{"name":"output0","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]}' '\x00\x00\x80\x3f\x00\x00\x80\xbf'
    printf 'R\n{"model_name":"m","outputs":[{"name":"o","datatype":"FP16","shape":[2],"data":[0.5,1]}]}' >"$out/resp-json.txt"
    printf 'R\n{"error":"unknown model"}' >"$out/resp-error.txt"
    printf 'M\n{"name":"yolov8n","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"images","datatype":"UINT8","shape":[-1,320,320,3]}],"outputs":[{"name":"output0","datatype":"FP32","shape":[-1,84,2100]}]}' >"$out/meta.txt"
    printf 'S\n{"model_stats":[{"name":"m","version":"1","last_inference":1,"inference_count":2,"execution_count":1,"inference_stats":{"success":{"count":2,"ns":10},"queue":{"count":2,"ns":3}},"batch_stats":[{"batch_size":2,"compute_infer":{"count":1,"ns":5}}]}]}' >"$out/stats.txt"
}
# The spec's field names (from the codec's sources, so they never lag) and
# the datatype names from the table in kserve.h.
dict_kserve_request() {
    cat "$ROOT"/src/kserve/*.c | grep -o '\\"[a-z_]*\\"' | tr -d '\\' | sort -u
    grep -o '^ *X([A-Z0-9]*, "[A-Z0-9]*", "[A-Z_0-9]*"' "$ROOT/src/kserve/kserve.h" |
        grep -o '"[A-Z_0-9]*"'
    printf '"%s"\n' inputs input outputs output success fail queue compute_input compute_infer \
        compute_output cache_hit cache_miss true false R M S -1 65504 4294967296 1e39 -0.0
    printf '"\\x0a"\n'
}

# A libFuzzer dictionary of the scenario field names and choice words, taken
# from the field table so that it never lags behind it.
dict_scenario() {
    sed -n 's/^ *{"\([a-z_0-9]*\)", F_.*/"\1"/p' "$ROOT/src/pipeline/scenario.c"
    grep -o '"[a-z0-9_|-]*|[a-z0-9_|-]*"' "$ROOT/src/pipeline/scenario.c" | tr -d '"' |
        tr '|' '\n' | sed 's/.*/"&"/'
}

# The same for the model loader: op names from the op list and the
# attribute names the kernels read. Both tables drive it, so a new op or
# attribute is in the dictionary the day it is added.
dict_model_load() {
    sed -n '/#define CVB_OP_LIST/,/^$/p' "$ROOT/src/engine/ir.h" | grep -o '"[A-Za-z]*"'
    grep -ho 'cvb__attr_[a-z]*(n, "[a-z_]*"' "$ROOT"/src/engine/*.c \
        "$ROOT"/src/engine/kernels/ref/*.c | grep -o '"[a-z_]*"' | sort -u
}

# ---- run ----------------------------------------------------------------------------
fail=0
for t in "${TARGETS[@]}"; do
    bin=$FUZZ_BUILD/fuzz-$t
    [[ -x $bin ]] || { echo "FAIL: $bin missing (run without --no-build)"; exit 1; }
    WORK=$FUZZ_BUILD/run-$t
    REG=$ROOT/tests/fuzz/corpus/$t
    rm -rf "$WORK"
    mkdir -p "$WORK/seeds" "$WORK/scratch" "$WORK/replay-out" "$WORK/artifacts" "$REG"
    "seeds_${t//-/_}" "$WORK/seeds" >"$WORK/seeds.log" 2>&1 ||
        { cat "$WORK/seeds.log"; echo "FAIL: could not generate $t seeds"; exit 1; }
    opts=(-rss_limit_mb=2048 -malloc_limit_mb="${MALLOC_MB[$t]}" -max_len="${MAX_LEN[$t]}"
        -timeout=20 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/")
    if declare -F "dict_${t//-/_}" >/dev/null; then
        "dict_${t//-/_}" >"$WORK/$t.dict"
        opts+=(-dict="$WORK/$t.dict")
    fi
    n_reg=$(find "$REG" -type f | wc -l)
    n_seed=$(find "$WORK/seeds" -type f | wc -l)
    echo "== $t: replaying $n_reg regression inputs ($REG) and $n_seed seeds"
    t0=$SECONDS
    if [[ $MODE == check ]]; then
        # The scratch corpus starts empty each time: only the seed and the
        # committed inputs decide what is explored.
        # -reload=0: no time-based rereading of the corpus dirs. Without
        # address-space randomisation (setarch -R) the comparison operands
        # libFuzzer records (pointers among them) repeat from run to run;
        # stack addresses also depend on the environment and the arguments
        # at the top of the stack, so the step runs with a fixed, minimal
        # environment and relative paths from $WORK (reg -> the corpus).
        # -detect_leaks=0: libFuzzer's per-input leak check (it reruns an
        # input when mallocs and frees differ, which other threads can
        # cause) makes runs diverge; LeakSanitizer still checks at exit and
        # fails the run, and the replay above checks each input.
        # -rss_limit_mb=0: no RSS-watching thread, whose time-driven work
        # shifts heap addresses; -malloc_limit_mb still bounds every single
        # allocation and -runs bounds the rest.
        run_opts=(-seed=1 -runs="${RUNS[$t]}" -reload=0 -detect_leaks=0 -rss_limit_mb=0)
        what="${RUNS[$t]} executions from -seed=1"
        norand=(env -i PATH=/usr/bin:/bin
            ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
            UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}")
        if setarch "$(uname -m)" -R true 2>/dev/null; then
            norand+=(setarch "$(uname -m)" -R)
        else
            echo "note: setarch -R unavailable; the fuzzing step may vary slightly between runs"
        fi
        ln -s "$REG" "$WORK/reg"
        dirs=(scratch reg seeds)
    else
        keep=$FUZZ_BUILD/corpus-$t
        mkdir -p "$keep"
        dirs=("$keep" "$REG" "$WORK/seeds")
        run_opts=(-max_total_time="$SECONDS_TO_RUN")
        what="$SECONDS_TO_RUN s, random seed, corpus kept in $keep"
        norand=()
    fi
    # Replay first: every committed and generated input runs once, alone, so
    # that a regression is reported as that input, not as a fuzzing find.
    set +e
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "${opts[@]}" -runs=0 "$WORK/replay-out" "$REG" "$WORK/seeds" >"$WORK/replay.log" 2>&1
    rc=$?
    if ((rc == 0)); then
        echo "== $t: replayed in $((SECONDS - t0)) s; fuzzing $what"
        t1=$SECONDS
        runner=("${norand[@]}" "../fuzz-$t")
        cd "$WORK"
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
            "${runner[@]}" "${opts[@]//"$WORK/"/}" "${run_opts[@]}" "${dirs[@]}" \
            >"$WORK/fuzz.log" 2>&1
        rc=$?
        cd "$CALLER_DIR"
        log=$WORK/fuzz.log
        echo "== $t: fuzzed in $((SECONDS - t1)) s"
    else
        log=$WORK/replay.log
        echo "== $t: replay FAILED"
    fi
    set -e
    grep -E '^(INFO: seed corpus|#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done )' \
        "$log" || true
    if ((rc != 0)) || ls "$WORK/artifacts" | grep -q .; then
        fail=1
        echo "FAIL: $t: fuzzer finding (exit $rc); log tail:"
        tail -n 60 "$log"
        echo "artifacts:"
        ls -l "$WORK/artifacts"
        if ! ls "$WORK/artifacts" | grep -q . && [[ $MODE == check ]]; then
            echo "no input saved (a leak found at exit?); to get it, rerun the same step"
            echo "with per-input leak checks, from an empty scratch corpus:"
            echo "    cd $WORK && mkdir scratch2 && ${norand[*]} ../fuzz-$t ${opts[*]//"$WORK/"/}" \
                "${run_opts[*]/-detect_leaks=0/-detect_leaks=1} scratch2 reg seeds"
        fi
        for a in "$WORK"/artifacts/*; do
            [[ -f $a ]] || continue
            echo "reproduce:  $bin $a"
            echo "after the fix, keep it as a regression:"
            echo "    cp $a $ROOT/tests/fuzz/corpus/$t/$(basename "$a")-<what-it-found>"
        done
    else
        echo "== $t: no findings"
    fi
done
exit $fail
