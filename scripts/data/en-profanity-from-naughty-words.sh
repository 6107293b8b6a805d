#!/usr/bin/env bash
# Regenerates crates/taboo/data/lists/en-profanity.txt, the bundled English profanity list
# (`--ban-list en-profanity`), from the npm package naughty-words 1.2.0 (CC BY 4.0), and
# copies its licence beside it. Every entry gets `[forms disguise]`; an entry without a word
# character (an emoji) is banned anywhere instead, as a whole-word ban could never match it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/crates/taboo/data/lists"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent naughty-words@1.2.0 >/dev/null && tar xzf naughty-words-1.2.0.tgz)
cp "$work/package/LICENSE" "$out/LICENSE-naughty-words.txt"
python3 - "$work/package/en.json" "$out/en-profanity.txt" <<'PY'
import json, sys
words = json.load(open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("# English profanity: taboo's bundled list `en-profanity`.\n")
    f.write("# Source: naughty-words 1.2.0 (npm, CC BY 4.0), en.json; see NOTICE.md.\n")
    f.write("# Regenerate with scripts/data/en-profanity-from-naughty-words.sh.\n")
    for w in words:
        w = w.strip()
        options = "forms disguise" if any(c.isalnum() for c in w) else "substring disguise"
        f.write(f"[{options}] {w}\n")
print(f"{sys.argv[2]}: {len(words)} entries")
PY
