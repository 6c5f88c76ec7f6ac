#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Create the virtual environment of the `make test-long` synthesis-fidelity
# check (.venv-long at the repo root): Ultralytics' own exporter, to compare
# `cvbench model synth` with real exports. torch and torchvision come from
# Debian (python3-torch 1.13.1, python3-torchvision 0.14.1:
# scripts/install-deps.sh --long), seen through --system-site-packages; the
# rest is pinned from PyPI: ultralytics itself with --no-deps (its declared
# requirements would pull a second torch, polars, ultralytics-platform, ...)
# plus the few packages its import and ONNX export really need. Ultralytics
# 8.4.190 declares torch>=1.8 and its ONNX path runs on Debian's 1.13 (it
# passes dynamo=False only from torch 2.4 on, where the dynamo exporter would
# otherwise need onnxscript; 1.13 has only the classic exporter): its exports
# of every detector issue 12 needs have the same op histograms as with PyPI's
# torch 2.15 (/work/u84). numpy stays below 2 for Debian's torch 1.13; sympy
# 1.14 (onnxslim >= 0.1.82 wants >= 1.13.1) shadows Debian's 1.11, which
# torch's classic exporter does not mind. PyYAML, Pillow, requests and psutil
# come from Debian too (python3-yaml, python3-pil, ...).
#
# A stamp file records the pinned set; the install is redone only when the
# pins change or the venv is missing. Prints the venv's python path last;
# with arguments, instead runs them with the venv's python (offline settings
# for Ultralytics in the environment): test-long-venv.sh SCRIPT [ARGS...].
# Exit 77 (skip, with the reason on stderr) when Debian's torch is missing or
# the install fails (e.g. no network on a fresh machine): callers skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CVB_LONG_VENV:-$ROOT/.venv-long}
# Pinned versions (checked on Debian 12, Python 3.11, torch 1.13.1).
PINS=(
    numpy==1.26.4 onnx==1.23.2 onnxslim==0.1.98 onnxruntime==1.32.0
    ml_dtypes==0.5.4 protobuf==7.36.2 typing_extensions==4.16.0 sympy==1.14.0 mpmath==1.3.0
    colorama==0.4.6 flatbuffers==25.12.19 packaging==26.4
    opencv-python-headless==4.10.0.84 matplotlib==3.11.2 contourpy==1.3.3 cycler==0.12.1
    fonttools==4.69.1 kiwisolver==1.5.1 tqdm==4.70.1
)
ULTRALYTICS=ultralytics==8.4.190
STAMP=$VENV/.cvb-long-tools
PY=${CVB_PYTHON:-/usr/bin/python3} # Debian's: its torch is in its dist-packages

skip() {
    echo "test-long-venv: SKIP: $*" >&2
    exit 77
}

[[ -x $PY ]] || skip "$PY not found (Debian's python3 carries python3-torch)"
for mod in torch torchvision yaml PIL requests psutil; do
    "$PY" -c "import $mod" 2>/dev/null ||
        skip "Debian's python3 cannot import $mod; run scripts/install-deps.sh --long"
done

want="${PINS[*]} $ULTRALYTICS"
if [[ ! -f $STAMP || "$(cat "$STAMP")" != "$want" ]]; then
    if [[ ! -x $VENV/bin/python ]]; then
        echo "test-long-venv: creating $VENV with $PY (--system-site-packages)" >&2
        "$PY" -m venv --system-site-packages "$VENV" || skip "cannot create $VENV"
    fi
    echo "test-long-venv: installing $want" >&2
    pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
    "${pip[@]}" "${PINS[@]}" >&2 || skip "pip install ${PINS[*]} failed"
    "${pip[@]}" --no-deps "$ULTRALYTICS" >&2 || skip "pip install $ULTRALYTICS failed"
    printf '%s' "$want" >"$STAMP"
fi
YOLO_OFFLINE=True YOLO_CONFIG_DIR=$VENV/yolo-config "$VENV/bin/python" -c \
    'import numpy, onnx, onnxslim, onnxruntime, torch, ultralytics' >&2 ||
    skip "the packages in $VENV do not import"
if (($# > 0)); then
    export YOLO_OFFLINE=True YOLO_CONFIG_DIR=$VENV/yolo-config
    exec "$VENV/bin/python" "$@"
fi
echo "$VENV/bin/python"
