#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ on the stable toolchain (cargo-fuzz needs nightly):
# coverage instrumentation comes from RUSTFLAGS, and `--target` keeps those flags off build
# scripts. Not part of the test suite; run it when the parsers change.
#
#   scripts/fuzz.sh            every target for 60 s
#   scripts/fuzz.sh 300 gguf   one target for 300 s
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(gguf banlist)

host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --manifest-path "$root/fuzz/Cargo.toml" --target "$host" \
    --target-dir "$root/fuzz/target"

for t in "${targets[@]}"; do
    corpus="$root/fuzz/corpus/$t"
    mkdir -p "$corpus" "$root/fuzz/artifacts/$t"
    echo "fuzz.sh: $t for ${seconds}s (corpus $corpus)"
    "$root/fuzz/target/$host/release/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -max_len=4096 -artifact_prefix="$root/fuzz/artifacts/$t/" "$corpus"
done
