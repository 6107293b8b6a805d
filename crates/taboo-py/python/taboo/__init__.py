"""taboo: make a language model unable to write the words you ban.

Bans are enforced on the logits, before sampling: every token that would spell a banned word
— in any tokenization, any letter case — gets ``-inf`` (hard mode) or a penalty (soft mode).
The engine is the Rust crate ``taboo``; this package wraps it:

- :class:`Vocabulary` — a model's tokens as bytes (from a Hugging Face tokenizer via
  :func:`vocabulary_from_tokenizer`, a ``tokenizer.json``, a GGUF file or a tiktoken name);
- :class:`Ban` — a compiled ban (words, ban-file entries, files, bundled lists, options);
- :class:`Guard` — one per sequence: ``apply(logits)`` in place, ``advance(token)``,
  ``rollback(n)``, ``sync_to(tokens)``, ``fill_bitmask(mask)``;
- :func:`apply_batch` — a batch of rows, one guard each, in parallel;
- :mod:`taboo.hf` — a transformers ``LogitsProcessor``; :mod:`taboo.vllm` — a vLLM one.
"""

from __future__ import annotations

from typing import Iterable, Optional, Union

from ._taboo import (
    Applied,
    Ban,
    BanError,
    Guard,
    Rows,
    Vocabulary,
    VocabularyError,
    apply_batch,
    bundled_lists,
)
from ._tokenizer import vocabulary_from_tokenizer

__all__ = [
    "Applied",
    "Ban",
    "BanError",
    "Guard",
    "Rows",
    "Vocabulary",
    "VocabularyError",
    "apply_batch",
    "as_ban",
    "bundled_lists",
    "vocabulary_from_tokenizer",
]

try:  # pragma: no cover - metadata is missing only in a source checkout
    from importlib.metadata import version as _version

    __version__ = _version("taboo-logits")
except Exception:  # noqa: BLE001
    __version__ = "0+unknown"


def as_ban(
    bans: Union[Ban, str, Iterable[str]],
    *,
    forms: bool = False,
    disguise: bool = False,
    lists: Optional[Iterable[str]] = None,
) -> Ban:
    """A :class:`Ban` from ``bans``: a compiled ban (returned as is; then no option may be
    given), one entry or a list of entries in ban-file syntax (``"cat"``,
    ``"[forms] кошка"``, ``"[regex] colou?r"``). ``forms`` / ``disguise`` widen every plain
    entry; ``lists`` adds bundled lists by name. Raises :class:`BanError`."""
    if isinstance(bans, Ban):
        if forms or disguise or lists:
            raise ValueError(
                "forms, disguise and lists apply when the ban is built; pass them to Ban(...) "
                "instead of a compiled ban"
            )
        return bans
    if isinstance(bans, bytes):
        raise TypeError("bans must be str entries, not bytes")
    entries = [bans] if isinstance(bans, str) else list(bans)
    for e in entries:
        if not isinstance(e, str):
            raise TypeError(f"every ban entry must be a str, not {type(e).__name__}: {e!r}")
    return Ban(entries=entries, forms=forms, disguise=disguise, lists=list(lists or []))
