#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `cvbench run` end to end on a tiny synthetic model and clip: outputs
# (--json, --csv, --report, --db) exist and hold the levels; bad input exits
# 2 naming it; --density reports its answer; Ctrl-C marks the run
# interrupted and still writes what finished (exit 130).
# usage: run_cli.sh CVBENCH
set -u
CVB=${1:?usage: run_cli.sh CVBENCH}
T=$(mktemp -d /tmp/cvb-run-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$CVB" model synth --arch yolov8n --imgsz 64 -o "$T/m.onnx" >/dev/null || fail "model synth"
if "$CVB" video synth -o "$T/v.mp4" --size 160x120 --fps 30 --seconds 1 >/dev/null 2>&1; then :
elif command -v ffmpeg >/dev/null 2>&1; then
  ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=160x120:rate=30 -t 1 -pix_fmt yuv420p \
    "$T/v.mp4" || fail "ffmpeg clip"
else
  echo "SKIP: no way to make a clip"; exit 77
fi

# 1. a 2-level run with every output
"$CVB" run --model "$T/m.onnx" --video "$T/v.mp4" --streams 1,2 --frames 15 --warmup 2 \
  --max-duration 0 --threads 1 --json "$T/r.json" --csv "$T/r.csv" --report "$T/r.html" --db "$T/r.db" \
  >"$T/out.txt" 2>"$T/err.txt" || { cat "$T/err.txt"; fail "run exited $?"; }
for f in r.json r.csv r.html r.db; do [ -s "$T/$f" ] || fail "$f missing or empty"; done
python3 - "$T/r.json" <<'PY' || fail "JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
assert "manifest" in d and "levels" in d, d.keys()
lv = d["levels"]
assert [l["streams"] for l in lv] == [1, 2], lv
for l in lv:
    for k in ("frames", "fps", "fps_per_stream", "latency_ms", "stages", "rss_peak_bytes",
              "stable", "bottleneck"):
        assert k in l, k
    for p in ("p50", "p90", "p95", "p99", "max"):
        assert p in l["latency_ms"], p
    assert l["frames"] == 15 * l["streams"], l["frames"]
    assert l["fps"] > 0
m = d["manifest"]
assert len(m.get("model_sha256", "")) == 64, m
PY
[ "$(wc -l <"$T/r.csv")" -ge 3 ] || fail "csv rows"
grep -q "<svg" "$T/r.html" || fail "html has no svg"
grep -q "streams" "$T/out.txt" || fail "no summary table on stdout"

# 2. bad input exits 2 and names it
printf 'not a video' >"$T/bad.mp4"
"$CVB" run --model "$T/m.onnx" --video "$T/bad.mp4" --streams 1 --frames 5 --db "$T/r.db" \
  >/dev/null 2>"$T/err2.txt"
rc=$?
[ $rc -eq 2 ] || fail "bad video: exit $rc, expected 2"
grep -q "bad.mp4" "$T/err2.txt" || fail "bad video not named: $(cat "$T/err2.txt")"
"$CVB" run --model "$T/m.onnx" --video "$T/v.mp4" --no-such-flag 1 --db "$T/r.db" \
  >/dev/null 2>"$T/err3.txt"
rc=$?
[ $rc -eq 2 ] || fail "unknown flag: exit $rc, expected 2"

# 3. density on a tiny model: the answer and the deciding levels
"$CVB" run --model "$T/m.onnx" --video "$T/v.mp4" --density --target-fps 10 --p99-ms 500 \
  --streams 1,2 --frames 10 --warmup 2 --max-duration 0 --threads 1 --db "$T/r.db" --json "$T/d.json" \
  >"$T/dout.txt" 2>"$T/derr.txt" || { cat "$T/derr.txt"; fail "density run"; }
grep -q "^density: " "$T/dout.txt" || fail "no density line"

# 4. Ctrl-C: interrupted, outputs still written
"$CVB" run --model "$T/m.onnx" --video "$T/v.mp4" --streams 1 --frames 100000 --warmup 2 \
  --threads 1 --db "$T/r.db" --json "$T/i.json" >/dev/null 2>"$T/ierr.txt" &
pid=$!
sleep 4
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || fail "interrupted run exited $rc, expected 130"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['levels'][0]['status']=='interrupted', d['levels'][0]['status']" "$T/i.json" \
  || fail "interrupted level not recorded"
echo "ok: run_cli"
