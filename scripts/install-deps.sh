#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages cvbench needs, and only those that are missing
# (checked with dpkg-query first, so a machine that has everything is left
# alone and needs no network or root). Uses sudo when not run as root.
#
#   scripts/install-deps.sh            product packages (build + run)
#   scripts/install-deps.sh --test     plus test-only packages
#   scripts/install-deps.sh --lint     plus the linter
#   scripts/install-deps.sh --long     plus the `make test-long` extras (Debian's
#                                      torch for Ultralytics' exporter, used by
#                                      scripts/test-long-venv.sh)
# Options may be combined. The product depends on Debian packages only; test
# tools from PyPI are installed separately into .venv by scripts/test-venv.sh.
set -euo pipefail

PRODUCT=(
    build-essential cmake pkg-config
    libdnnl-dev                                   # oneDNN 2.6 C API
    libonnx-dev protobuf-c-compiler libprotobuf-c-dev  # onnx.proto + protoc-c
    libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
    darknet                                       # sample photos in /usr/share/darknet/data
    libsqlite3-dev libjansson-dev
    libmicrohttpd-dev                             # HTTP server (API, dashboard, /metrics)
    libcurl4-openssl-dev                          # HTTP client (cvbench submit/runs/cancel)
    libhiredis-dev libpq-dev                      # Redis Streams queue, PostgreSQL store
)
TEST=(
    libonnx-testdata                              # ONNX backend node tests
    clang libclang-rt-14-dev                      # libFuzzer + sanitizers
    python3-venv python3-pip                      # test venv (numpy, onnx, onnxruntime)
    chromium                                      # renders the HTML report headless
    redis-server postgresql prometheus            # real services the service tests start
)
LINT=(cppcheck)
LONG=(
    python3-torch python3-torchvision             # Ultralytics' exporter (torch 1.13)
    python3-yaml python3-pil python3-requests python3-psutil  # what ultralytics imports
)

want=("${PRODUCT[@]}")
for arg in "$@"; do
    case $arg in
    --test) want+=("${TEST[@]}") ;;
    --lint) want+=("${LINT[@]}") ;;
    --long) want+=("${LONG[@]}") ;;
    -h | --help)
        sed -n '3,14p' "$0"
        exit 0
        ;;
    *)
        echo "install-deps: unknown option '$arg'" >&2
        exit 2
        ;;
    esac
done

missing=()
for pkg in "${want[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#want[@]} packages already installed"
    exit 0
fi

SUDO=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: missing packages (${missing[*]}) and not root, and sudo is not installed" >&2
        exit 1
    fi
    SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
