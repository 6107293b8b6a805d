"""The core API from Python: bans, guards, in-place edits on every supported array type,
batches, bitmasks — checked against a regular-expression oracle written here, independent of
the engine."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch

import taboo

WORDS = ["cat", "dog", "colour"]


def ascii_tokens(vocab):
    """Text tokens whose bytes are printable ASCII (where Python's re agrees with taboo on
    what a word character is)."""
    out = {}
    for t in range(len(vocab)):
        b = vocab.token_bytes(t)
        if b and all(32 <= c < 127 for c in b):
            out[t] = b.decode()
    return out


def oracle_forbidden(text, tokens, words):
    """Token ids whose text, appended to `text`, completes a whole-word, any-case match of a
    banned word: the word is followed by a non-word character that the token wrote."""
    pat = re.compile(r"(?<!\w)(?:%s)(?=\W)" % "|".join(map(re.escape, words)), re.I)
    tail = text[-40:]
    return {
        t
        for t, s in tokens.items()
        if any(m.end() >= len(tail) for m in pat.finditer(tail + s))
    }


def complete_matches(text, words):
    """Matches followed by a non-word character (a word still at the very end is pending:
    it may yet become a longer word)."""
    pat = re.compile(r"(?<!\w)(?:%s)(?=\W)" % "|".join(map(re.escape, words)), re.I)
    return [m.group(0) for m in pat.finditer(text)]


def test_random_walks_agree_with_the_regex_oracle(vocab):
    """Random walks through allowed tokens, steered towards the banned words: at every step
    the tokens the guard forbids (among ASCII tokens) are exactly those the oracle says
    complete a banned word, and the text written never contains one."""
    ban = taboo.Ban(WORDS)
    tokens = ascii_tokens(vocab)
    pieces = {"".join(w[i:j]) for w in WORDS for i in range(len(w)) for j in range(i + 1, len(w) + 1)}
    steer = [
        t
        for t, s in tokens.items()
        if s.strip().lower() in pieces or s in {" ", ".", ",", "s", "!", "-", "'"}
    ]
    assert len(steer) > 50
    rng = random.Random(7)
    nonempty_steps = 0
    for walk in range(4):
        guard = ban.guard(vocab)
        text = "Write about pets:"
        guard.prime(text)
        for step in range(30):
            forbidden = set(guard.forbidden_tokens()) & tokens.keys()
            want = oracle_forbidden(text, tokens, WORDS)
            assert forbidden == want, (
                f"walk {walk} step {step} after {text!r}: taboo-only "
                f"{sorted(tokens[t] for t in forbidden - want)[:10]}, oracle-only "
                f"{sorted(tokens[t] for t in want - forbidden)[:10]}"
            )
            nonempty_steps += bool(forbidden)
            pool = steer if rng.random() < 0.8 else list(tokens)
            choice = rng.choice([t for t in pool if t not in forbidden] or [13])
            assert guard.advance(choice)
            text += tokens[choice]
        assert complete_matches(text[len("Write about pets:"):], WORDS) == [], text
    # The walks went where the ban acts (a check that cannot pass on empty masks).
    assert nonempty_steps >= 8, nonempty_steps


def cat_id(vocab, text=" cat"):
    return next(t for t in range(len(vocab)) if vocab.token_bytes(t) == text.encode())


def reference_row(vocab, ban, history, width, last=False):
    g = ban.guard(vocab)
    for t in history:
        g.advance(t)
    row = np.zeros(width, np.float32)
    g.apply(row, last=last)
    return np.isneginf(row)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: np.zeros((1, n), np.float32),
        lambda n: np.zeros(n, np.float16),
        lambda n: np.zeros(n, np.float64),
        lambda n: torch.zeros(n),
        lambda n: torch.zeros(1, n, dtype=torch.float16),
        lambda n: torch.zeros(1, n, dtype=torch.bfloat16),
        lambda n: torch.zeros(n, 3)[:, 1],  # strided column view
        lambda n: np.zeros((n, 2), np.float32).T[1],  # strided NumPy view
        lambda n: torch.zeros(3, n, dtype=torch.float16)[2],  # a row at an offset in its storage
        # A subclass of torch.Tensor: read through its attributes, not its DLPack record.
        lambda n: torch.nn.Parameter(torch.zeros(1, n), requires_grad=False),
    ],
    ids=[
        "np-f32-2d", "np-f16", "np-f64", "torch-f32", "torch-f16", "torch-bf16", "torch-strided",
        "np-strided", "torch-offset", "torch-subclass",
    ],
)
def test_apply_in_place_on_every_dtype_and_layout(vocab, make):
    ban = taboo.Ban(["cat"])
    history = [cat_id(vocab)]
    want = reference_row(vocab, ban, history, len(vocab))
    assert want.sum() > 1000
    logits = make(len(vocab))
    g = ban.guard(vocab)
    g.advance(history[0])
    applied = g.apply(logits)
    got = logits.detach().float().numpy() if isinstance(logits, torch.Tensor) else logits
    got = np.isneginf(np.asarray(got, dtype=np.float32).reshape(-1))
    assert (got == want).all()
    assert applied.forbidden == want.sum()


def test_float32_is_edited_without_a_copy(vocab):
    base = torch.zeros(2, len(vocab))
    view = base[1]
    g = taboo.Ban(["cat"]).guard(vocab)
    g.advance(cat_id(vocab))
    g.apply(view)
    assert torch.isneginf(base[1]).sum() > 1000 and not torch.isinf(base[0]).any()


def test_removed_mass_matches_a_softmax(vocab):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=len(vocab)).astype(np.float32) * 3
    p = np.exp(logits - logits.max())
    p /= p.sum()
    g = taboo.Ban(["cat"]).guard(vocab)
    g.advance(cat_id(vocab))
    edited = logits.copy()
    applied = g.apply(edited)
    want = p[np.isneginf(edited)].sum()
    assert want > 0.1
    assert abs(applied.removed_mass - want) < 1e-4


def test_soft_mode_subtracts_the_penalty(vocab):
    ban = taboo.Ban(["cat"])
    hard = ban.guard(vocab)
    soft = ban.guard(vocab, mode="soft", penalty=5.0)
    c = cat_id(vocab)
    for g in (hard, soft):
        g.advance(c)
    h = np.zeros(len(vocab), np.float32)
    s = np.full(len(vocab), 1.0, np.float32)
    hard.apply(h)
    applied = soft.apply(s)
    assert applied.penalized >= np.isneginf(h).sum() and applied.forbidden == 0
    assert set(np.flatnonzero(s == -4.0)) >= set(np.flatnonzero(np.isneginf(h)))
    assert set(np.unique(s)) == {1.0, -4.0}


def test_ids_past_the_vocabulary_are_banned_in_hard_mode_only(vocab):
    ban = taboo.Ban(["cat"])
    wide = torch.zeros(1, len(vocab) + 64)
    applied = ban.guard(vocab).apply(wide)
    assert torch.isneginf(wide[0, len(vocab):]).all()
    assert not torch.isinf(wide[0, : len(vocab)]).any()
    assert applied.forbidden == 64
    wide = torch.zeros(1, len(vocab) + 64)
    ban.guard(vocab, mode="soft").apply(wide)
    assert not torch.isinf(wide).any()


def test_apply_batch_equals_one_row_at_a_time(vocab):
    ban = taboo.Ban(["cat", "dog", "[regex] colou?r"])
    c, d = cat_id(vocab), cat_id(vocab, " dog")
    histories = [[c], [], [d], [c, c], [d]]
    guards = []
    for h in histories:
        g = ban.guard(vocab)
        g.sync_to(h)
        guards.append(g)
    batch = torch.zeros(len(guards) + 1, len(vocab), dtype=torch.bfloat16)
    out = taboo.apply_batch(guards + [None], batch)
    assert out[-1] is None and not torch.isinf(batch[-1]).any()
    for i, h in enumerate(histories):
        want = reference_row(vocab, ban, h, len(vocab))
        assert (torch.isneginf(batch[i].float()).numpy() == want).all()
        assert out[i].forbidden == want.sum()


def test_fill_bitmask_agrees_with_apply(vocab):
    ban = taboo.Ban(["cat"])
    g = ban.guard(vocab)
    g.advance(cat_id(vocab))
    words = (len(vocab) + 31) // 32
    for mask, last in [(np.zeros(words, np.int32), False), (torch.zeros(words + 3, dtype=torch.int32), True)]:
        n = g.fill_bitmask(mask, last=last)
        m = np.asarray(mask).view(np.uint32)[:words]
        bits = np.unpackbits(m.view(np.uint8), bitorder="little")[: len(vocab)].astype(bool)
        want = reference_row(vocab, ban, [cat_id(vocab)], len(vocab), last=last)
        assert (~bits == want).all()
        assert n == want.sum() > 1000
    with pytest.raises(ValueError, match="needs"):
        g.fill_bitmask(np.zeros(words - 1, np.int32))


def test_sync_to_follows_reordered_histories(vocab):
    ban = taboo.Ban(["cat"])
    c = cat_id(vocab)
    dot = cat_id(vocab, ".")
    g = ban.guard(vocab)
    assert g.sync_to([c]) == 0
    assert g.is_pending
    assert g.sync_to(np.array([dot, c], np.int64)) == 0  # another beam
    assert g.tokens == [dot, c]
    assert g.sync_to(torch.tensor([dot, c, dot])) == 1  # " cat." completes the ban
    g.rollback(1)
    assert g.tokens == [dot, c]
    with pytest.raises(ValueError, match="roll back"):
        g.rollback(10)
    assert g.advance(dot) is False


def test_priming_sets_the_boundary_state(vocab):
    ban = taboo.Ban(["cat"])
    at = cat_id(vocab, "at")
    dot = cat_id(vocab, ".")
    g = ban.guard(vocab)
    g.prime("I love my c")  # the prompt ends inside the word
    g.advance(at)
    assert dot in g.forbidden_tokens()
    g2 = ban.guard(vocab)
    g2.prime_tokens([cat_id(vocab, " c")])
    g2.advance(at)
    assert dot in g2.forbidden_tokens()
    g3 = ban.guard(vocab)
    g3.prime("concat")  # "cat" inside a word: not a match
    assert dot not in g3.forbidden_tokens()


def test_ban_options_and_entries():
    assert taboo.Ban("cat").entries == ["cat"]
    b = taboo.Ban(["cat"], forms=True)
    assert "cats" in b.entries
    b = taboo.Ban(entries=["[forms] mouse", "[regex] colou?r", "[case substring] Apple"])
    assert "mice" in b.entries and "[regex] colou?r" in b.entries and "[case substring] Apple" in b.entries
    b = taboo.Ban(["cat"], disguise=True, case_sensitive=True, substring=True)
    assert b.entries == ["[case substring disguise] cat"]
    assert len(taboo.Ban(lists="en-profanity")) > 400
    b = taboo.Ban(text="# pets\ncat\n\n[regex] dogs?\n")
    assert b.entries == ["cat", "[regex] dogs?"]
    assert "en-profanity" in taboo.bundled_lists()


def test_ban_file(tmp_path):
    f = tmp_path / "bans.txt"
    f.write_text("cat\n[forms] dog\n", encoding="utf-8")
    b = taboo.Ban(file=f)
    assert "dogs" in b.entries and "cat" in b.entries
    b2 = taboo.Ban(file=[str(f)], entries=["bird"])
    assert "bird" in b2.entries


def test_tiktoken_vocabulary():
    v = taboo.Vocabulary.tiktoken("r50k_base")
    assert len(v) == 50257
    assert v.token_bytes(50256) is None and 50256 in v.end_of_generation


def test_guard_copy_is_independent(vocab):
    g = taboo.Ban(["cat"]).guard(vocab)
    g.advance(cat_id(vocab))
    h = g.copy()
    g.rollback(1)
    assert h.tokens == [cat_id(vocab)] and g.tokens == []
