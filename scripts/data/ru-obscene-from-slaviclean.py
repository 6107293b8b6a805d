#!/usr/bin/env python3
"""Regenerates crates/taboo/data/lists/ru-obscene.txt, the bundled Russian obscene-vocabulary
list (`--ban-list ru-obscene`), from the profanity table of the PyPI package slaviclean (MIT).

The rows typed "obscene" (not euphemisms, not the merely vulgar or insulting ones) give the
lemmas. A lemma the dictionary knows is written as a `[forms disguise]` entry, so taboo
expands it with its own dictionary; the others as `[disguise]` entries. Inflected forms in
the table that the dictionary does not produce (of words it does not know, colloquial
spellings) are written out as `[disguise]` entries. pymorphy3 with
pymorphy3-dicts-ru (the same OpenCorpora dictionary taboo reads) decides what is covered.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install slaviclean==0.1.1 pymorphy3 \\
        pymorphy3-dicts-ru==2.4.417150.4580142
    /tmp/v/bin/python scripts/data/ru-obscene-from-slaviclean.py
"""
import csv
import importlib.util
import pathlib

import pymorphy3
from pymorphy3.units.by_lookup import DictionaryAnalyzer

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "crates/taboo/data/lists/ru-obscene.txt"
# Found without importing the package (its import pulls in spaCy).
package = pathlib.Path(importlib.util.find_spec("slaviclean").submodule_search_locations[0])
table = package / "resources/profanity/ru.csv"

morph = pymorphy3.MorphAnalyzer()


def dictionary_parses(word):
    # Only parses the dictionary itself backs (a guess may start with a dictionary step).
    return [p for p in morph.parse(word)
            if len(p.methods_stack) == 1 and isinstance(p.methods_stack[0][0], DictionaryAnalyzer)]


def dictionary_forms(word):
    forms = {word}
    for p in dictionary_parses(word):
        forms.update(f.word for f in p.lexeme)
    return forms | {f.replace("ё", "е") for f in forms}


rows = [r for r in csv.DictReader(table.open(encoding="utf-8"))
        if "obscene" in r["profanityTypes"].split() and "euphemism" not in r["profanityTypes"]]
lemmas = sorted({r["lemma"] for r in rows})
covered = set()
for lemma in lemmas:
    covered |= dictionary_forms(lemma)
extra = sorted({r["flexion"] for r in rows} - covered)

with out.open("w", encoding="utf-8") as f:
    f.write("# Russian obscene vocabulary (мат): taboo's bundled list `ru-obscene`.\n")
    f.write("# Source: slaviclean 0.1.1 (PyPI, MIT licence), rows typed \"obscene\"; see NOTICE.md.\n")
    f.write("# Regenerate with scripts/data/ru-obscene-from-slaviclean.py.\n")
    known = [lemma for lemma in lemmas if dictionary_parses(lemma)]
    f.write(f"# {len(lemmas)} lemmas; the {len(known)} the dictionary knows with all its forms:\n")
    for lemma in lemmas:
        options = "forms disguise" if lemma in known else "disguise"
        f.write(f"[{options}] {lemma}\n")
    f.write(f"# {len(extra)} forms of the source table the dictionary does not produce:\n")
    for form in extra:
        f.write(f"[disguise] {form}\n")
print(f"{out}: {len(lemmas)} lemmas ({len(known)} known), {len(extra)} extra forms, {len(rows)} source rows")
