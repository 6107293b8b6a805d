#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script):
# format and lint gates, every test in release mode — model tests included, on the real
# SmolLM2 and Gemma models — doctests, and benchmarks compiled (not run: speed is measured by
# `taboo bench` and `taboo bench-generate`, never asserted in tests).
#
# Installs missing system packages and fetches the models first (scripts/setup.sh --gemma).
# Tests run one at a time: model tests would otherwise fight for the two cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step "setup"
scripts/setup.sh --gemma

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
# --release shares the llama.cpp build (a build-script output) with the tests below.
cargo clippy --release --workspace --all-targets -j2 -- -D warnings

step "cargo test (release)"
cargo test --workspace --release -j2 -- --test-threads=1

step "cargo bench --no-run"
cargo bench --workspace -j2 --no-run

step "server tests (the openai client against taboo serve)"
# The official OpenAI Python client, in its own venv, against the release binary built above.
cargo build --release -p taboo-cli -j2
python="$(scripts/server-env.sh)"
"$python" -m pytest -q -p no:cacheprovider crates/taboo-server/tests/python
