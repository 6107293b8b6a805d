"""An independent check that text holds no banned word: Python's `re` and `unicodedata`,
sharing no code with taboo's automaton."""

import functools
import re
import unicodedata
from pathlib import Path

LISTS = Path(__file__).resolve().parents[3] / "taboo" / "data" / "lists"

# Look-alike letters a disguised spelling may use (Cyrillic and Greek for Latin).
CONFUSABLES = str.maketrans(
    {
        "а": "a", "с": "c", "е": "e", "о": "o", "р": "p", "х": "x", "у": "y",
        "к": "k", "т": "t", "м": "m", "н": "h", "в": "b", "і": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "α": "a", "ο": "o", "ε": "e", "τ": "t", "ι": "i",
        "κ": "k", "ν": "v", "ρ": "p",
    }
)


def undisguise(text):
    """Full-width forms folded, accents and invisible characters dropped, look-alikes mapped."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))
    return text.translate(CONFUSABLES)


def pattern(word, regex=False, case=False, substring=False):
    body = word if regex else re.escape(word)
    if not substring:
        body = rf"(?<!\w)(?:{body})(?!\w)"
    return re.compile(body, 0 if case else re.IGNORECASE)


def find(text, word, regex=False, case=False, substring=False, disguise=False):
    """The first banned match in `text`, or None."""
    if disguise:
        text = undisguise(text)
    m = pattern(word, regex, case, substring).search(text)
    return m.group(0) if m else None


def list_words(name):
    """The plain entries of a bundled list (options stripped)."""
    words = []
    for line in (LISTS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            opts, _, line = line[1:].partition("]")
            if "regex" in opts.split():
                continue
        elif line.startswith("\\"):
            line = line[1:]
        words.append(line.strip())
    return words


@functools.lru_cache(maxsize=None)
def listed_pattern(name):
    words = {undisguise(w) for w in list_words(name)}
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def find_listed(text, name):
    """The first word of bundled list `name` in `text` (disguises undone), or None."""
    m = listed_pattern(name).search(undisguise(text))
    return m.group(0) if m else None
