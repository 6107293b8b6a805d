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

step "core crate without tiktoken (--no-default-features)"
# tiktoken is opt-in: the core must build and pass its unit tests without it.
cargo build -p taboo --no-default-features -j2
cargo test -p taboo --no-default-features --lib -j2

step "core crate packages on its own"
# Everything the core needs (data files, include_str! paths) is inside crates/taboo.
cargo package -p taboo --allow-dirty -j2

step "fuzz targets build"
# Built, not run (scripts/fuzz.sh runs them), so that they keep up with the core's API.
cargo build --manifest-path fuzz/Cargo.toml --target-dir fuzz/target -j2

step "Python package (crates/taboo-py): build, install, pytest"
# The environment (torch, transformers, vLLM's CPU build) lives outside the repository.
python="$(scripts/python-env.sh)"
cargo build --release -p taboo-py --example forbidden -j2 # the Rust side of the parity test
"$python" -m pip install --disable-pip-version-check --no-deps --force-reinstall ./crates/taboo-py
# pytest's own exit code decides (5, "no tests ran", fails the suite too).
(cd crates/taboo-py && "$python" -m pytest -q -p no:cacheprovider tests)

step "server tests (the openai client against taboo serve)"
# The official OpenAI Python client, in its own venv, against the release binary built above.
cargo build --release -p taboo-cli -j2
python="$(scripts/server-env.sh)"
"$python" -m pytest -q -p no:cacheprovider crates/taboo-server/tests/python
