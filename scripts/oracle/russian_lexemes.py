#!/usr/bin/env python3
"""Writes crates/taboo/tests/data/russian_lexemes.json: the lexemes pymorphy3 gives for ~300
Russian words, the oracle crates/taboo/tests/russian_forms.rs compares taboo's own reader of
the same dictionary against.

Run once, by hand; the output is committed. To regenerate (needs network for pip):

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install pymorphy3==2.0.6 \
        pymorphy3-dicts-ru==2.4.417150.4580142
    /tmp/oracle/bin/python scripts/oracle/russian_lexemes.py

The sample is deterministic: a fixed list of words the tests name, then evenly spaced words of
the dictionary itself, taken per part of speech of their first entry (nouns, verbs, adjectives,
the rest), then the е-spelling of every sampled word written with ё. Only dictionary analyses
count (pymorphy3 also guesses at unknown words; taboo does not): those whose methods_stack is
the DictionaryAnalyzer alone.
"""
import json
import os

import pymorphy3
from pymorphy3.units.by_lookup import DictionaryAnalyzer

REQUIRED = [
    "кошка", "бежать", "человек", "хороший", "стали", "ёж", "еж", "кошмар", "катер",
    "люди", "все", "елка", "лучше", "идет", "Москва", "КОШКИ", "кто-то", "нет", "быть",
    "абвгдейка", "zzz",
]
# Words sampled per part of speech of the lemma of their first dictionary entry.
QUOTAS = {"NOUN": 90, "INFN": 80, "ADJF": 60, "other": 30}

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "taboo", "tests", "data",
                   "russian_lexemes.json")


def lexemes(morph, word):
    """Dictionary-backed lexemes of `word`, each once (same paradigm and stem), forms deduplicated
    in paradigm order."""
    out, seen = [], set()
    for parse in morph.parse(word):
        # A dictionary analysis is the dictionary analyzer alone; guesses for unknown words
        # put it first too (e.g. the rest of the word after an unknown prefix), then add more.
        if len(parse.methods_stack) != 1 or not isinstance(parse.methods_stack[0][0],
                                                           DictionaryAnalyzer):
            continue
        _, fixed_word, para_id, idx = parse.methods_stack[0]
        stem = morph.dictionary.build_stem(morph.dictionary.paradigms[para_id], idx, fixed_word)
        if (para_id, stem) in seen:
            continue
        seen.add((para_id, stem))
        lexeme = parse.lexeme
        forms = list(dict.fromkeys(p.word for p in lexeme))
        out.append({"lemma": parse.normal_form, "pos": lexeme[0].tag.POS or "", "forms": forms})
    return out


def sample(morph):
    dictionary = morph.dictionary
    buckets = {name: [] for name in QUOTAS}
    last = None
    for word, (para_id, _idx) in dictionary.words.iteritems():
        if word == last:
            continue
        last = word
        pos = dictionary.build_tag_info(para_id, 0).POS
        buckets[pos if pos in buckets else "other"].append(word)
    picked = []
    for name, quota in QUOTAS.items():
        words = buckets[name]
        step = len(words) / quota
        picked += [words[int(i * step + step / 2)] for i in range(quota)]
    return picked


def main():
    morph = pymorphy3.MorphAnalyzer()
    words = list(REQUIRED)
    sampled = sample(morph)
    words += sampled
    words += [w.replace("ё", "е") for w in sampled if "ё" in w]
    words = list(dict.fromkeys(words))
    entries = [{"word": w, "lexemes": lexemes(morph, w)} for w in words]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("{\n")
        f.write(f'"generator": "scripts/oracle/russian_lexemes.py, pymorphy3 {pymorphy3.__version__}, '
                f'dictionary {morph.dictionary.meta["source_revision"]}",\n')
        f.write('"words": [\n')
        f.write(",\n".join(json.dumps(e, ensure_ascii=False) for e in entries))
        f.write("\n]\n}\n")
    print(f"{len(entries)} words, {sum(len(e['lexemes']) for e in entries)} lexemes -> {OUT}")


if __name__ == "__main__":
    main()
