# SPDX-License-Identifier: Apache-2.0
# Shared by the venv scripts (sourced, not run): create or reuse a Python
# virtual environment with a pinned package set. A stamp file records the
# pins; the install is redone only when they change or the venv is missing.
#
#   cvb_venv TAG VENV "import-check modules" PIN...
# prints the venv's python path last.
cvb_venv() {
    local tag=$1 venv=$2 imports=$3
    shift 3
    local stamp=$venv/.cvb-$tag-pins py
    # Debian's python3 when present (python3-venv is installed for it by
    # `make deps`); otherwise whatever python3 is on PATH.
    if [[ -n ${CVB_PYTHON:-} ]]; then
        py=$CVB_PYTHON
    elif [[ -x /usr/bin/python3 ]]; then
        py=/usr/bin/python3
    else
        py=$(command -v python3)
    fi
    if [[ ! -x $venv/bin/python ]]; then
        echo "$tag-venv: creating $venv with $py" >&2
        "$py" -m venv "$venv"
    fi
    local want="$*"
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
        echo "$tag-venv: installing $want" >&2
        "$venv/bin/python" -m pip install --disable-pip-version-check -q "$@" >&2
        "$venv/bin/python" -c "import $imports" >&2
        printf '%s' "$want" >"$stamp"
    fi
    echo "$venv/bin/python"
}
