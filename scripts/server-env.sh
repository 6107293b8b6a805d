#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment the server tests run in: the official
# `openai` client and `pytest`, from PyPI, in $TABOO_SERVER_VENV (default
# /root/.venvs/taboo-server). Prints the venv's python on stdout, so callers can write
#   python="$(scripts/server-env.sh)"
set -euo pipefail

venv="${TABOO_SERVER_VENV:-/root/.venvs/taboo-server}"
python="$venv/bin/python"

if [ ! -x "$python" ]; then
    # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
    if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        echo "server-env.sh: installing python3-venv" >&2
        sudo_cmd=()
        [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >&2
    fi
    python3 -m venv "$venv" >&2
fi
if ! "$python" -c 'import openai, pytest' >/dev/null 2>&1; then
    echo "server-env.sh: installing openai and pytest into $venv" >&2
    "$python" -m pip install --quiet --upgrade pip >&2
    "$python" -m pip install --quiet 'openai>=1.40,<3' 'pytest>=8' >&2
fi
echo "$python"
