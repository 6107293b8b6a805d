"""Setup time and per-step cost of word bans as transformers logits processors.

Compares, on the same vocabulary (SmolLM2's 49,152 tokens), the same logits and the same token
stream (the tokens of crates/taboo-eval/data/replay.txt):

(a) transformers' NoBadWordsLogitsProcessor given each word as written, with a leading space,
    Capitalised and both (the token-id ban; it leaks other spellings);
(b) taboo.hf.BanLogitsProcessor (exact: every spelling, any case).

Words are spread evenly over /usr/share/dict/american-english. Setup is the time to make the
processor on an already loaded tokenizer/vocabulary; a step is one processor call on
(batch, 49,152) float32 scores. Prints a Markdown table.

    python crates/taboo-py/bench/bench_processors.py [--words 1,100,1000,10000] [--batch 1,8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from transformers.generation.logits_process import NoBadWordsLogitsProcessor  # noqa: E402

import taboo  # noqa: E402
from taboo.hf import BanLogitsProcessor  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "crates" / "taboo-py" / "tests"))
from model_dir import model_dir  # noqa: E402


def dictionary_words(n: int) -> list:
    words = [
        w
        for w in Path("/usr/share/dict/american-english").read_text(encoding="utf-8").split()
        if w.isalpha() and w.islower() and w.isascii() and len(w) > 2
    ]
    step = len(words) / n
    return [words[int(i * step)] for i in range(n)]


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def per_step(proc, stream, batch, vocab_width, prompt=16, steps=200):
    torch.manual_seed(0)
    scores = torch.randn(batch, vocab_width)
    ids = torch.tensor(
        [stream[(r * 37) % 100 : (r * 37) % 100 + prompt + steps] for r in range(batch)], dtype=torch.long
    )
    times = []
    start = time.perf_counter()
    for s in range(steps):
        # The token-id baseline takes seconds per step on large lists: cap its run at ~20 s.
        if s >= 12 and time.perf_counter() - start > 20:
            break
        cur = ids[:, : prompt + s + 1]
        t = time.perf_counter_ns()
        proc(cur, scores)
        times.append((time.perf_counter_ns() - t) / 1000)
    times = times[2:]  # the first steps fill the mask cache
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", default="1,100,1000,10000")
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument(
        "--baseline-up-to",
        type=int,
        default=1000,
        help="measure bad_words_ids only for lists up to this size (it takes seconds per step beyond)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(model_dir())
    vocab, t_vocab = timed(lambda: taboo.vocabulary_from_tokenizer(tok))
    print(f"vocabulary: {len(vocab)} tokens, read from the tokenizer in {t_vocab * 1000:.0f} ms (once per model)")
    stream = tok((ROOT / "crates" / "taboo-eval" / "data" / "replay.txt").read_text(encoding="utf-8"), add_special_tokens=False).input_ids
    width = len(vocab)
    rows = []
    for n in [int(x) for x in args.words.split(",")]:
        words = dictionary_words(n)

        def hf_setup():
            variants = []
            for w in words:
                for v in (w, " " + w, w.capitalize(), " " + w.capitalize()):
                    variants.append(tok(v, add_special_tokens=False).input_ids)
            return NoBadWordsLogitsProcessor(variants, eos_token_id=tok.eos_token_id)

        baseline = n <= args.baseline_up_to
        hf, t_hf = timed(hf_setup) if baseline else (None, float("nan"))
        # Best of 3: a new ban on the already loaded vocabulary (compile + mask table).
        t_ours = min(timed(lambda: BanLogitsProcessor(tok, words))[1] for _ in range(3))
        ours = BanLogitsProcessor(tok, words)
        for b in [int(x) for x in args.batch.split(",")]:
            hf_med, hf_p90 = per_step(hf, stream, b, width, steps=args.steps) if baseline else (float("nan"),) * 2
            ours_med, ours_p90 = per_step(ours, stream, b, width, steps=args.steps)
            rows.append((n, b, t_hf, t_ours, hf_med, hf_p90, ours_med, ours_p90))
            print(
                f"{n} words, batch {b}: setup {t_hf * 1000:.1f} vs {t_ours * 1000:.1f} ms; "
                f"step {hf_med:.1f}/{hf_p90:.1f} vs {ours_med:.1f}/{ours_p90:.1f} µs",
                flush=True,
            )
    print()
    print("| words | batch | setup: bad_words_ids | setup: taboo | step median (p90): bad_words_ids | step median (p90): taboo | ratio (median) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, b, t_hf, t_ours, hm, hp, om, op in rows:
        print(
            f"| {n:,} | {b} | {t_hf * 1000:,.1f} ms | {t_ours * 1000:,.1f} ms | {hm:,.1f} µs ({hp:,.1f}) "
            f"| {om:,.1f} µs ({op:,.1f}) | {hm / om:,.0f}× |"
        )


if __name__ == "__main__":
    main()
