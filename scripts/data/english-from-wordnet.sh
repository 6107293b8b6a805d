#!/usr/bin/env bash
# Regenerates crates/taboo/data/english/ from Debian's wordnet-base (WordNet 3.0): the word
# lists by part of speech and the irregular-form lists that English word forms are built from
# (crates/taboo/src/forms/english.rs). Only one-word, lower-case ASCII entries are kept.
#
#   apt-get install -y wordnet-base && scripts/data/english-from-wordnet.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
src=/usr/share/wordnet
out="$root/crates/taboo/data/english"
[ -f "$src/index.noun" ] || { echo "english-from-wordnet.sh: $src missing (apt-get install -y wordnet-base)" >&2; exit 1; }
mkdir -p "$out"

export LC_ALL=C
for pos in noun verb adj; do
    # index files: the lemma is the first field; lines starting with a space are the licence.
    grep -v '^ ' "$src/index.$pos" | cut -d' ' -f1 | grep -E '^[a-z]+$' | sort -u > "$out/$pos.txt"
    # exception files: "inflected base [base …]".
    grep -E '^[a-z]+( [a-z]+)+$' "$src/$pos.exc" | sort -u > "$out/$pos.exc"
done
sed -n '/^License: WordNet3.0/,/^$/p' /usr/share/doc/wordnet-base/copyright | sed 's/^ //; s/^\.$//' \
    > "$out/LICENSE-WordNet.txt"
wc -l "$out"/*
