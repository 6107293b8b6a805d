"""A :class:`taboo.Vocabulary` from whatever the caller has: a Hugging Face tokenizer (fast
ones through their ``tokenizer.json``, slow ones through their token pieces), a path to a
``tokenizer.json`` or a GGUF file, or a vocabulary already built.

Vocabularies built from a tokenizer object are cached per object, so processors made for the
same tokenizer share one vocabulary and therefore one compiled mask table per ban.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from ._taboo import Vocabulary, VocabularyError

_cache: "weakref.WeakKeyDictionary[Any, Vocabulary]" = weakref.WeakKeyDictionary()


def vocabulary_from_tokenizer(tokenizer: Any) -> Vocabulary:
    """The vocabulary of ``tokenizer``.

    Accepts a Hugging Face tokenizer (``PreTrainedTokenizerFast``: read through
    ``tokenizer.backend_tokenizer.to_str()``; a slow ``PreTrainedTokenizer``: through its
    token pieces and their byte spelling), a ``tokenizers.Tokenizer``, a path to a
    ``tokenizer.json`` (or a directory holding one) or to a ``.gguf`` model, or a
    :class:`taboo.Vocabulary` (returned as is). Raises :class:`taboo.VocabularyError` for a
    tokenizer without a usable vocabulary and ``TypeError`` for anything else.
    """
    if isinstance(tokenizer, Vocabulary):
        return tokenizer
    if isinstance(tokenizer, (str, os.PathLike)):
        path = os.fspath(tokenizer)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        if path.endswith(".gguf"):
            return Vocabulary.from_gguf(path)
        return Vocabulary.from_tokenizer_file(path)
    try:
        cached = _cache.get(tokenizer)
    except TypeError:  # not weak-referenceable or not hashable
        cached = None
    if cached is not None:
        return cached
    vocab = _build(tokenizer)
    if len(vocab) == 0:
        raise VocabularyError(f"{type(tokenizer).__name__} has an empty vocabulary")
    try:
        _cache[tokenizer] = vocab
    except TypeError:
        pass
    return vocab


def _build(tokenizer: Any) -> Vocabulary:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None and hasattr(tokenizer, "to_str") and hasattr(tokenizer, "get_vocab"):
        backend = tokenizer  # a tokenizers.Tokenizer
    if backend is not None:
        return Vocabulary.from_tokenizer_json(backend.to_str())
    if hasattr(tokenizer, "convert_ids_to_tokens") and hasattr(tokenizer, "__len__"):
        return _from_slow(tokenizer)
    raise TypeError(
        f"cannot read a vocabulary from {type(tokenizer).__name__}: pass a Hugging Face "
        "tokenizer, a tokenizer.json or .gguf path, or a taboo.Vocabulary"
    )


# Texts of special tokens that end generation in common chat models (the Rust loaders apply
# the same rule to tokenizer.json and GGUF files).
_END_TEXTS = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>",
    "<|eom_id|>", "<|end_of_text|>", "<eos>",
}


def _from_slow(tokenizer: Any) -> Vocabulary:
    n = len(tokenizer)
    if n == 0:
        raise VocabularyError(f"{type(tokenizer).__name__} has an empty vocabulary")
    pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
    missing = [i for i, p in enumerate(pieces) if not isinstance(p, str)]
    if missing:
        raise VocabularyError(
            f"{type(tokenizer).__name__} has no token for id {missing[0]} "
            f"({len(missing)} of {n} ids have none)"
        )
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    for tid, added in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items():
        if getattr(added, "special", False):
            special.add(int(tid))
    if hasattr(tokenizer, "byte_decoder"):
        spelling = "byte_level"
    elif any(p.startswith("\u2581") for p in pieces):
        spelling = "metaspace"
    else:
        spelling = "raw"
    eog = {i for i in special if pieces[i] in _END_TEXTS}
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int) and 0 <= eos < n:
        eog.add(eos)
    return Vocabulary.from_pieces(
        pieces, spelling=spelling, special=sorted(special), end_of_generation=sorted(eog)
    )
