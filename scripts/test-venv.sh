#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Create the test-only Python virtual environment (.venv at the repo root) and
# install the pinned test tools into it: numpy, onnx (to build malformed
# models) and onnxruntime (the reference the differential test compares
# against). The product itself never uses Python; only tests do.
#
# A stamp file records the pinned set; the install is redone only when the
# pins change or the venv is missing. Prints the venv's python path last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CVB_VENV:-$ROOT/.venv}
# Pinned versions (checked on Debian 12, Python 3.11).
PINS=(numpy==2.2.6 onnx==1.18.0 onnxruntime==1.22.1)
STAMP=$VENV/.cvb-test-tools

# Debian's python3 when present (python3-venv is installed for it by
# `make deps`); otherwise whatever python3 is on PATH.
if [[ -n ${CVB_PYTHON:-} ]]; then
    PY=$CVB_PYTHON
elif [[ -x /usr/bin/python3 ]]; then
    PY=/usr/bin/python3
else
    PY=$(command -v python3)
fi

if [[ ! -x $VENV/bin/python ]]; then
    echo "test-venv: creating $VENV with $PY" >&2
    "$PY" -m venv "$VENV"
fi
want="${PINS[*]}"
if [[ ! -f $STAMP || "$(cat "$STAMP")" != "$want" ]]; then
    echo "test-venv: installing ${want}" >&2
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${PINS[@]}" >&2
    "$VENV/bin/python" -c 'import numpy, onnx, onnxruntime' >&2
    printf '%s' "$want" >"$STAMP"
fi
echo "$VENV/bin/python"
