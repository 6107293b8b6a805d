"""transformers end to end on CPU: SmolLM2-135M-Instruct (from the project's GGUF) generates
with taboo's processor — greedy, sampled, a left-padded batch, beam search — and an
independent regular expression finds no banned word in any output. transformers' own
``bad_words_ids`` is run on the same prompts as the baseline."""

from __future__ import annotations

import re

import pytest
import torch

import taboo
from taboo.hf import BanLogitsProcessor

BANNED = ["cat", "Paris", "France"]
MATCH = re.compile(r"(?<!\w)(?:cat|paris|france)(?!\w)", re.I)
PROMPTS = [
    'What animal says "meow"? Answer in one sentence.',
    "Write the word CAT in capitals.",
    "Repeat exactly: FRANCE IS PARIS",
    "What is the capital of France? Answer in one word.",
    "Name a pet that purrs and chases mice.",
]
MAX_NEW = 20


def chat(tokenizer, prompts):
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)


def generate(model, tokenizer, prompts, processors=(), **kw):
    enc = chat(tokenizer, prompts)
    kw.setdefault("max_new_tokens", MAX_NEW)
    kw.setdefault("do_sample", False)
    with torch.no_grad():
        out = model.generate(
            **enc,
            logits_processor=list(processors),
            pad_token_id=tokenizer.pad_token_id,
            **kw,
        )
    width = enc["input_ids"].shape[1]
    return [tokenizer.decode(row[width:], skip_special_tokens=True) for row in out]


def leaks(texts):
    return [t for t in texts if MATCH.search(t)]


@pytest.fixture(scope="module")
def unconstrained(model, tokenizer):
    return generate(model, tokenizer, PROMPTS)


@pytest.fixture(scope="module")
def greedy(model, tokenizer):
    """Each prompt alone, greedy, with taboo's processor: (output, processor)."""
    out = []
    for p in PROMPTS:
        proc = BanLogitsProcessor(tokenizer, BANNED)
        out.append((generate(model, tokenizer, [p], [proc])[0], proc))
    return out


def test_the_prompts_elicit_the_banned_words(unconstrained):
    # Without a ban the model writes the words: the tests below are not won by default.
    assert len(leaks(unconstrained)) >= 3, unconstrained


def test_greedy(greedy):
    for p, (out, proc) in zip(PROMPTS, greedy):
        assert not MATCH.search(out), (p, out)
        assert proc.violations == [0]
        assert len(proc.generated_tokens[0]) >= 1


def test_sampled_with_seeds(model, tokenizer):
    outs = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        proc = BanLogitsProcessor(tokenizer, BANNED)
        outs += generate(model, tokenizer, PROMPTS[:3], [proc], do_sample=True, temperature=1.0, top_k=0, max_new_tokens=12)
        assert proc.violations == [0, 0, 0]
    assert leaks(outs) == [], outs
    assert len(set(outs)) > 3  # sampling really varied


def test_left_padded_batch_of_four(model, tokenizer):
    prompts = PROMPTS[:4]
    enc = chat(tokenizer, prompts)
    assert (enc["input_ids"][:, 0] == tokenizer.pad_token_id).sum() >= 2  # really padded
    proc = BanLogitsProcessor(tokenizer, BANNED)
    outs = generate(model, tokenizer, prompts, [proc])
    assert leaks(outs) == [], outs
    assert proc.violations == [0] * 4
    assert all(outs), outs


def test_beam_search_three_beams(model, tokenizer):
    proc = BanLogitsProcessor(tokenizer, BANNED)
    outs = generate(
        model, tokenizer, PROMPTS[:2], [proc], num_beams=3, num_return_sequences=3, max_new_tokens=12
    )
    assert len(outs) == 6
    assert leaks(outs) == [], outs
    assert proc.violations == [0] * 6


def test_soft_mode_runs_and_penalises(model, tokenizer):
    proc = BanLogitsProcessor(tokenizer, ["cat"], mode="soft", penalty=100.0, measure_mass=True)
    out = generate(model, tokenizer, [PROMPTS[0]], [proc])[0]
    assert not re.search(r"(?<!\w)cat(?!\w)", out, re.I), out


def test_a_compiled_ban_and_options(model, tokenizer):
    ban = taboo.Ban(["cat"], forms=True)
    proc = BanLogitsProcessor(tokenizer, ban)
    out = generate(model, tokenizer, [PROMPTS[0]], [proc])[0]
    assert not re.search(r"(?<!\w)cats?(?!\w)", out, re.I), out
    with pytest.raises(ValueError, match="compiled"):
        BanLogitsProcessor(tokenizer, ban, forms=True)


def test_token_id_baseline_leaks_where_taboo_does_not(model, tokenizer, greedy, capsys):
    """transformers' bad_words_ids with the word as written, with a leading space,
    Capitalised and both: the all-capitals prompts get through it; taboo's ban does not."""
    variants = []
    for w in BANNED:
        for v in {w.lower(), " " + w.lower(), w.capitalize(), " " + w.capitalize()}:
            variants.append(tokenizer(v, add_special_tokens=False).input_ids)
    base = generate(model, tokenizer, PROMPTS, bad_words_ids=variants)
    ours = [out for out, _ in greedy]
    with capsys.disabled():
        print(f"\nbad_words_ids baseline: {len(leaks(base))} of {len(PROMPTS)} outputs leak: {leaks(base)}")
        print(f"taboo: {len(leaks(ours))} of {len(PROMPTS)} outputs leak")
    assert leaks(ours) == []
    assert len(leaks(base)) >= 1, base
