#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run a Python test script with the test venv's interpreter:
#   py-test.sh PYTHON SCRIPT [ARGS...]
# When that interpreter does not exist the test is skipped (exit 77, which
# ctest reports as skipped) with the reason, never passed.
set -euo pipefail
PY=$1
shift
if [[ ! -x $PY ]]; then
    echo "SKIP: test venv python $PY not found; run scripts/test-venv.sh (make test does)"
    exit 77
fi
exec "$PY" "$@"
