"""A vLLM logits processor (the V1 class-based interface) that bans words per request.

Offline::

    from vllm import LLM, SamplingParams
    from taboo.vllm import BanLogitsProcessor

    llm = LLM(model=..., logits_processors=[BanLogitsProcessor])
    params = SamplingParams(extra_args={"banned_words": ["cat", "[forms] кошка"]})

Server::

    python -m vllm.entrypoints.openai.api_server --model ... \\
        --logits-processors taboo.vllm:BanLogitsProcessor
    # request body: {"vllm_xargs": {"banned_words": ["cat"], "ban_mode": "hard"}, ...}

Per-request arguments (``SamplingParams.extra_args`` offline, ``vllm_xargs`` over HTTP):

- ``banned_words``: a list of entries in ban-file syntax (``"cat"``, ``"[forms] кошка"``,
  ``"[regex] colou?r"``), or one such string;
- ``ban_mode``: ``"hard"`` (default) or ``"soft"``; ``ban_penalty``: soft mode's penalty (10).

An invalid ban is rejected in ``validate_params`` with ``ValueError`` (HTTP 400 from the
server), naming the entry. Requests without ``banned_words`` are left alone. Compiled bans
are cached by their entries, so requests with the same ban share one mask table.

Hard and soft modes only: backtracking needs to rewind the KV cache, which vLLM does not let
a logits processor do.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality

from . import Ban, Guard, Vocabulary, apply_batch, vocabulary_from_tokenizer

__all__ = ["BanLogitsProcessor"]

#: How many prompt tokens' text sets the word-boundary state (as in the taboo CLI).
PRIME_TOKENS = 32
#: How many compiled bans are kept per process.
CACHE_SIZE = 256

_Spec = Tuple[Tuple[str, ...], str, float]
_cache: "OrderedDict[Tuple[str, ...], Ban]" = OrderedDict()
_cache_lock = threading.Lock()


def _spec(params: SamplingParams) -> Optional[_Spec]:
    """The request's ban as a hashable key, or None; ValueError if malformed."""
    extra = params.extra_args or {}
    words = extra.get("banned_words")
    if words is None:
        if "ban_mode" in extra or "ban_penalty" in extra:
            raise ValueError("ban_mode / ban_penalty given without banned_words")
        return None
    if isinstance(words, str):
        words = [words]
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise ValueError("banned_words must be a list of strings (ban-file entries)")
    mode = extra.get("ban_mode", "hard")
    if mode not in ("hard", "soft"):
        raise ValueError(
            f"ban_mode must be 'hard' or 'soft', not {mode!r} (backtracking needs the KV cache)"
        )
    penalty = extra.get("ban_penalty", 10.0)
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not penalty >= 0:
        raise ValueError(f"ban_penalty must be a number >= 0, not {penalty!r}")
    return tuple(words), mode, float(penalty)


def compiled_ban(entries: Tuple[str, ...]) -> Ban:
    """The compiled ban for these entries, shared by every request that asks for it."""
    with _cache_lock:
        ban = _cache.get(entries)
        if ban is not None:
            _cache.move_to_end(entries)
            return ban
    ban = Ban(entries=list(entries))  # raises taboo.BanError, a ValueError
    with _cache_lock:
        ban = _cache.setdefault(entries, ban)
        _cache.move_to_end(entries)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return ban


class _Request:
    __slots__ = ("guard", "out", "seen", "max_tokens")

    def __init__(self, guard: Guard, out: List[int], max_tokens: Optional[int]) -> None:
        self.guard = guard
        self.out = out  # vLLM's live list of the request's output tokens
        self.seen = 0
        self.max_tokens = max_tokens


def _vocabulary(vllm_config: Any) -> Vocabulary:
    model_config = vllm_config.model_config
    path = model_config.tokenizer or model_config.model
    if os.path.isfile(os.path.join(str(path), "tokenizer.json")):
        return vocabulary_from_tokenizer(path)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(
        path,
        revision=getattr(model_config, "tokenizer_revision", None),
        trust_remote_code=getattr(model_config, "trust_remote_code", False),
    )
    return vocabulary_from_tokenizer(tok)


class BanLogitsProcessor(LogitsProcessor):
    """Bans ``extra_args["banned_words"]`` from each request's output; see the module docs."""

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        spec = _spec(sampling_params)
        if spec is not None:
            compiled_ban(spec[0])

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        self.vocab = _vocabulary(vllm_config)
        self.requests: Dict[int, _Request] = {}

    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: Optional[BatchUpdate]) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self.requests.pop(index, None)
        for index, params, prompt_ids, output_ids in batch_update.added:
            # A new request, a refilled slot or a preempted request coming back with its
            # tokens so far: in every case a fresh guard replays what is there.
            spec = _spec(params)
            if spec is None:
                self.requests.pop(index, None)
                continue
            entries, mode, penalty = spec
            guard = compiled_ban(entries).guard(
                self.vocab, mode=mode, penalty=penalty, measure_mass=False
            )
            if prompt_ids:
                guard.prime_tokens(list(prompt_ids[-PRIME_TOKENS:]))
            self.requests[index] = _Request(guard, output_ids, params.max_tokens)
        for a, b, direction in batch_update.moved:
            ra, rb = self.requests.pop(a, None), self.requests.pop(b, None)
            if ra is not None:
                self.requests[b] = ra
            if direction == MoveDirectionality.SWAP and rb is not None:
                self.requests[a] = rb

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.requests:
            return logits
        rows = logits.shape[0]
        guards: List[Optional[Guard]] = [None] * rows
        final: List[int] = []
        for index, req in self.requests.items():
            if index >= rows:
                continue
            out = req.out
            # The list grows by one token per decode step and by none on (chunked) prefill
            # steps: replay whatever is new.
            if len(out) > req.seen:
                for t in out[req.seen :]:
                    req.guard.advance(t)
                req.seen = len(out)
            if req.max_tokens is not None and len(out) + 1 == req.max_tokens:
                final.append(index)  # the last token the limit allows: the text ends after it
            else:
                guards[index] = req.guard
        on_cpu = logits.device.type == "cpu" and logits.dtype == torch.float32
        target = logits if on_cpu else logits.detach().to("cpu", torch.float32)
        if any(g is not None for g in guards):
            apply_batch(guards, target)
        for index in final:
            self.requests[index].guard.apply(target[index], last=True)
        if not on_cpu:
            logits.copy_(target.to(logits.device, logits.dtype))
        return logits
