"""A transformers ``LogitsProcessor`` that bans words exactly: ``model.generate(...,
logits_processor=[BanLogitsProcessor(tokenizer, ["cat", "[forms] кошка"])])``.

Works with greedy and sampled decoding, batches with left padding and beam search: every step
each row's guard is synced to the row's generated tokens (``Guard.sync_to``), so rows that
beam search reorders are followed exactly. The prompt is not banned, but its last 32 tokens'
text sets the word-boundary state, as the ``taboo`` CLI does. One call into Rust per step;
rows run in parallel with the GIL released.

Hard and soft modes only: backtracking rewinds the model's KV cache, which a logits
processor cannot do.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

import torch
from transformers import LogitsProcessor

from . import Ban, Rows, as_ban, vocabulary_from_tokenizer

__all__ = ["BanLogitsProcessor"]


class BanLogitsProcessor(LogitsProcessor):
    """Bans words from everything ``generate`` writes after the prompt.

    Args:
        tokenizer: the model's Hugging Face tokenizer (or a ``tokenizer.json`` / ``.gguf``
            path, or a :class:`taboo.Vocabulary`).
        bans: a compiled :class:`taboo.Ban`, or entries in ban-file syntax: ``"cat"``,
            ``"[forms] кошка"``, ``"[regex] colou?r"``, ``"[case substring] Apple"``.
        mode: ``"hard"`` (banned text has probability 0) or ``"soft"`` (tokens completing a
            banned word lose ``penalty`` from their score).
        penalty: soft mode's penalty; ``partial_penalty`` is subtracted from tokens that open
            or extend a banned match (0: off).
        forms, disguise, lists: widen plain entries to every inflected form / disguised
            spelling, add bundled lists by name (only when ``bans`` is not compiled).
        measure_mass: record the probability mass each step removes
            (:attr:`removed_mass`); costs one softmax pass per row.
        max_new_tokens: the same limit given to ``generate``: the step that writes the last
            allowed token then also forbids leaving a banned word complete at the end.
        pad_token_id: the padding id to skip at the start of left-padded prompts (default:
            the tokenizer's).
        prime_tokens: how many prompt tokens' text sets the boundary state (32).

    Scores wider than the vocabulary (output layers padded to a multiple of 64 or 128) are
    handled: in hard mode ids past the vocabulary are not text and get ``-inf``; in soft
    mode they are left alone. Scores on another device are edited through a CPU copy.
    """

    def __init__(
        self,
        tokenizer: Any,
        bans: Union[Ban, str, Iterable[str]],
        *,
        mode: str = "hard",
        penalty: float = 10.0,
        partial_penalty: float = 0.0,
        forms: bool = False,
        disguise: bool = False,
        lists: Optional[Iterable[str]] = None,
        measure_mass: bool = False,
        max_new_tokens: Optional[int] = None,
        pad_token_id: Optional[int] = None,
        prime_tokens: int = 32,
    ) -> None:
        self.vocabulary = vocabulary_from_tokenizer(tokenizer)
        self.ban = as_ban(bans, forms=forms, disguise=disguise, lists=lists)
        if pad_token_id is None:
            pad_token_id = getattr(tokenizer, "pad_token_id", None)
        self.mode = mode
        self._rows = Rows(
            self.ban,
            self.vocabulary,
            mode=mode,
            penalty=penalty,
            partial_penalty=partial_penalty,
            measure_mass=measure_mass,
            pad_token_id=pad_token_id,
            prime_tokens=prime_tokens,
            max_new_tokens=max_new_tokens,
        )

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        try:
            self._rows.step(input_ids, scores)
            return scores
        except ValueError:
            if scores.device.type == "cpu" and input_ids.device.type == "cpu":
                raise
        # Another device: edit a CPU copy and copy it back.
        cpu = scores.detach().to("cpu", torch.float32)
        self._rows.step(input_ids.detach().cpu(), cpu)
        scores.copy_(cpu.to(scores.device, scores.dtype))
        return scores

    def reset(self) -> None:
        """Forgets the current generation (a new prompt is also detected by itself)."""
        self._rows.reset()

    @property
    def violations(self) -> list:
        """Per row, generated tokens that completed a banned match (0 in hard mode unless
        something after this processor overrode the mask)."""
        return self._rows.violations

    @property
    def removed_mass(self) -> list:
        """Per row, the probability mass the last step removed (with ``measure_mass``)."""
        return self._rows.removed_mass

    @property
    def generated_tokens(self) -> list:
        """Per row, the tokens the guard has seen generated."""
        return self._rows.tokens
