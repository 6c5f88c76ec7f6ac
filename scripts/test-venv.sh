#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Create the test-only Python virtual environment (.venv at the repo root) and
# install the pinned test tools into it: numpy, onnx (to build malformed
# models) and onnxruntime (the reference the differential test compares
# against), schemathesis (property-based conformance testing of the service
# API against docs/openapi.yaml: tests/integration/api_schema.py) and
# openapi-spec-validator (checks docs/openapi.yaml itself), and the official
# Triton client, tritonclient[http] (interoperability of `cvbench serve-model`:
# tests/integration/serve_model_triton.py). The product itself
# never uses Python; only tests do.
#
# Pins are stamped (scripts/lib-venv.sh); prints the venv's python path last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CVB_VENV:-$ROOT/.venv}
# Pinned versions (checked on Debian 12, Python 3.11).
PINS=(numpy==2.2.6 onnx==1.18.0 onnxruntime==1.22.1 schemathesis==4.32.5
      openapi-spec-validator==0.9.0 "tritonclient[http]==2.73.0")
source "$ROOT/scripts/lib-venv.sh"
cvb_venv test "$VENV" "numpy, onnx, onnxruntime, schemathesis, openapi_spec_validator, tritonclient.http" \
    "${PINS[@]}"
