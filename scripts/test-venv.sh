#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Create the test-only Python virtual environment (.venv at the repo root) and
# install the pinned test tools into it: numpy, onnx (to build malformed
# models) and onnxruntime (the reference the differential test compares
# against), schemathesis (property-based conformance testing of the service
# API against docs/openapi.yaml: tests/integration/api_schema.py) and
# openapi-spec-validator (checks docs/openapi.yaml itself), and the official
# Triton client, tritonclient[http] (interoperability of `cvbench serve-model`:
# tests/integration/serve_model_triton.py), and KServe's own Python model
# server, kserve (a KServe v2 server nobody here wrote, serving an ONNX model
# through onnxruntime, for `cvbench run --backend kserve`:
# tests/integration/kserve_peer.py; it pulls ~40 packages (fastapi,
# uvicorn, grpcio, pandas, kubernetes, ...): +25-40 s of install, +320 MB,
# and holds protobuf below 7, which onnx and tritonclient accept). The
# product itself never uses Python; only tests do.
#
# Pins are stamped (scripts/lib-venv.sh); prints the venv's python path last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CVB_VENV:-$ROOT/.venv}
# Pinned versions (checked on Debian 12, Python 3.11).
PINS=(numpy==2.2.6 onnx==1.18.0 onnxruntime==1.22.1 schemathesis==4.32.5
      openapi-spec-validator==0.9.0 "tritonclient[http]==2.73.0" kserve==0.21.0)
source "$ROOT/scripts/lib-venv.sh"
cvb_venv test "$VENV" "numpy, onnx, onnxruntime, schemathesis, openapi_spec_validator, tritonclient.http, kserve" \
    "${PINS[@]}"
