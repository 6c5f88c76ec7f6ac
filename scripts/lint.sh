#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis of src/ with cppcheck, driven by the compile database of a
# configured build dir (so it sees the same defines and include paths as the
# compiler). Generated code (protoc-c output) is not checked.
#   scripts/lint.sh [BUILD_DIR]       (default: build)
# Exit 0 when clean, 1 when cppcheck reports anything.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
DB=$BUILD/compile_commands.json
if [[ ! -f $DB ]]; then
    echo "lint: $DB not found; configure first (make configure)" >&2
    exit 2
fi
command -v cppcheck >/dev/null || {
    echo "lint: cppcheck not installed (scripts/install-deps.sh --lint)" >&2
    exit 2
}
mkdir -p "$BUILD/cppcheck"
# cppcheck 2.10 names the files relative to the working directory only
# when the project is given by a relative path, and its '*' in
# --file-filter stops at '/': from the root, a relative path, one filter
# per depth
DB=$(realpath --relative-to="$ROOT" "$DB")
GEN=$(realpath --relative-to="$ROOT" "$BUILD/gen")
cd "$ROOT"
exec cppcheck --project="$DB" --file-filter="src/*" --file-filter="src/*/*" \
    --file-filter="src/*/*/*" --file-filter="src/*/*/*/*" \
    --cppcheck-build-dir="$BUILD/cppcheck" -j"$(nproc 2>/dev/null || echo 2)" \
    --enable=warning,performance,portability --inline-suppr \
    --suppress=missingIncludeSystem --suppress="preprocessorErrorDirective:$GEN/*" \
    --error-exitcode=1 -q \
    --template='{file}:{line}: {severity}: {message} [{id}]'
