"""Python and Rust forbid the same tokens: a text is replayed token by token through the
Rust guard (the ``forbidden`` example of this crate, built by scripts/test.sh) and through
the Python bindings — ``Guard.apply`` on torch and NumPy rows of several dtypes, and
``Rows.step`` as the transformers processor drives it, with the history handed over whole
and beams reordered — and the forbidden ids of every step must be equal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import taboo

from conftest import ROOT

ORACLE = ROOT / "target" / "release" / "examples" / "forbidden"
ENTRIES = ["the", "cat", "[forms] lighthouse", "[regex] colou?r", "[substring] ing", "[forms] кошка", "[case] Monday"]
PRIME = "A story:\n"


def rust_steps(tmp_path: Path, gguf: Path, tokens, mode="hard"):
    if not ORACLE.is_file():
        pytest.fail(f"{ORACLE} is missing: cargo build --release -p taboo-py --example forbidden")
    bans = tmp_path / "bans.txt"
    bans.write_text("\n".join(ENTRIES) + "\n", encoding="utf-8")
    out = subprocess.run(
        [str(ORACLE), "--gguf", str(gguf), "--ban-file", str(bans), "--prime", PRIME, "--mode", mode],
        input=" ".join(map(str, tokens)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [set(map(int, line.split(","))) if line else set() for line in out.splitlines()]


@pytest.fixture(scope="module")
def replay(tokenizer):
    text = (ROOT / "crates" / "taboo-eval" / "data" / "replay.txt").read_text(encoding="utf-8")
    text += " The cat and the кошку, coloured lighthouses; Monday or MONDAY. The end"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return ids[:150] + ids[-40:]


def test_guard_apply_matches_rust(tmp_path, gguf_path, vocab, replay):
    want = rust_steps(tmp_path, gguf_path, replay)
    assert len(want) == len(replay) + 1
    ban = taboo.Ban(entries=ENTRIES)
    makers = [
        lambda n: torch.zeros(n),
        lambda n: torch.zeros(1, n, dtype=torch.bfloat16),
        lambda n: np.zeros((n, 2), np.float16).T[0],
    ]
    guards = []
    for _ in makers:
        g = ban.guard(vocab)
        g.prime(PRIME)
        guards.append(g)
    for step, expected in enumerate(want):
        last = step == len(replay)
        for make, g in zip(makers, guards):
            row = make(len(vocab))
            g.apply(row, last=last)
            arr = row.float().numpy() if isinstance(row, torch.Tensor) else np.asarray(row, np.float32)
            got = set(np.flatnonzero(np.isneginf(arr.reshape(-1))).tolist())
            assert got == expected, f"step {step}: python-only {sorted(got - expected)[:8]}, rust-only {sorted(expected - got)[:8]}"
        if not last:
            for g in guards:
                g.advance(replay[step])
    # The replay reached states where the ban acts, and they differ from step to step.
    distinct = {frozenset(s) for s in want}
    assert sum(1 for s in want if s) > len(want) // 4 and len(distinct) >= 3, len(distinct)


def test_soft_mode_matches_rust(tmp_path, gguf_path, vocab, replay):
    want = rust_steps(tmp_path, gguf_path, replay[:80], mode="soft")
    g = taboo.Ban(entries=ENTRIES).guard(vocab, mode="soft", penalty=10.0)
    g.prime(PRIME)
    for step, expected in enumerate(want):
        row = np.zeros(len(vocab), np.float32)
        g.apply(row, last=step == 80)
        assert set(np.flatnonzero(row != 0).tolist()) == expected, step
        if step < 80:
            g.advance(replay[step])
    assert sum(1 for s in want if s) > 10


def test_rows_step_matches_rust_with_reordered_beams(tmp_path, gguf_path, vocab, replay):
    """Rows holds two copies of the replay in a batch; between steps the rows swap (as
    beam search reorders them) and a third row follows a different text. Every step, the
    rows that carry the replay must forbid what Rust forbids."""
    prompt_ids = vocab_ids(vocab, PRIME)
    want = rust_steps(tmp_path, gguf_path, replay[:80])
    rows = taboo.Rows(taboo.Ban(entries=ENTRIES), vocab, pad_token_id=2)
    other = replay[80:160]
    pad = 2
    for step in range(81):
        gen_a = replay[:step]
        gen_b = other[:step]
        order = [gen_a, gen_b, gen_a] if step % 2 == 0 else [gen_b, gen_a, gen_a]
        ids = torch.tensor([[pad] + prompt_ids + g for g in order])
        scores = torch.zeros(3, len(vocab) + 16)
        rows.step(ids, scores, last=step == 80)  # Rust ends with apply_final
        for r, g in enumerate(order):
            if g is gen_a:
                got = set(torch.nonzero(torch.isneginf(scores[r, : len(vocab)])).flatten().tolist())
                assert got == want[step], (step, r)
                assert torch.isneginf(scores[r, len(vocab) :]).all()
    assert rows.generations == 1
    # The replay is real text and writes banned words: the steady row counts each token that
    # completed one, exactly as a guard advanced by hand does.
    g = taboo.Ban(entries=ENTRIES).guard(vocab)
    g.prime(PRIME)
    expected = sum(not g.advance(t) for t in replay[:80])
    assert expected > 3 and rows.violations[2] == expected


def vocab_ids(vocab, text):
    """A greedy tokenization of `text` in `vocab` (any tokenization primes the same text)."""
    by_bytes = {vocab.token_bytes(t): t for t in range(len(vocab)) if vocab.token_bytes(t)}
    data, out, i = text.encode(), [], 0
    while i < len(data):
        for j in range(len(data), i, -1):
            if data[i:j] in by_bytes:
                out.append(by_bytes[data[i:j]])
                i = j
                break
        else:
            raise AssertionError(f"no token for {data[i:]!r}")
    return out
