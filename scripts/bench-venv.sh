#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Create (or reuse) the benchmark-only Python virtual environment and install
# the pinned peer engines the engine benchmark (bench/engine) compares cvbench
# against: ONNX Runtime and OpenVINO from PyPI, plus numpy/onnx/pillow to build
# the input tensor and the convolution-peak model. The product never uses
# Python; only the benchmark does.
#
# Location: $CVB_BENCH_VENV, default <repo>/.venv-bench (kept apart from the
# test venv, whose onnxruntime pin serves the differential tests).
# Pins are stamped (scripts/lib-venv.sh); prints the venv's python path last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CVB_BENCH_VENV:-$ROOT/.venv-bench}
# Pinned versions (checked installable on Debian 12, Python 3.11, x86-64).
PINS=(numpy==2.2.6 onnx==1.18.0 onnxruntime==1.32.0 openvino==2026.4.1 pillow==11.3.0 ml_dtypes==0.5.4)
source "$ROOT/scripts/lib-venv.sh"
cvb_venv bench "$VENV" "numpy, onnx, onnxruntime, openvino, PIL, ml_dtypes" "${PINS[@]}"
