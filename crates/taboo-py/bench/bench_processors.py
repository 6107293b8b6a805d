"""Setup time and per-step cost of word bans as transformers logits processors, and what a real
generation loses to taboo's processor.

Compares, on the same vocabulary, the same logits and the same token stream (the tokens of
crates/taboo-eval/data/replay.txt):

(a) transformers' NoBadWordsLogitsProcessor given each word as written, with a leading space,
    Capitalised and both (the token-id ban; it leaks other spellings);
(b) taboo.hf.BanLogitsProcessor (exact: every spelling, any case, whole words);
(c) llguidance with a grammar that negates "the text contains a banned word as a whole word,
    in any case" (a regex with llguidance's `~` and `&` operators), one matcher per row,
    where it compiles.

Vocabularies: SmolLM2's (49,152 tokens, from the project's model) and o200k_base (200,019 ids;
its Hugging Face tokenizer is built here from the ranks bundled in taboo, as tiktoken's own
file cannot be downloaded on an offline machine).

Words are spread evenly over /usr/share/dict/american-english. Setup is the time to make the
processor on an already loaded tokenizer/vocabulary; a step is one processor call on
(batch, vocabulary) float32 scores, after the previous step's token was appended.

With --generate, also times SmolLM2 generating in transformers (greedy, a fixed number of new
tokens) with no processor and with taboo's processor banning 1,000 words, alternating runs.
Prints Markdown tables.

    python crates/taboo-py/bench/bench_processors.py [--vocab smollm2,o200k]
        [--words 1,100,1000,10000] [--batch 1,8] [--generate 5]
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
from transformers import AutoTokenizer, PreTrainedTokenizerFast  # noqa: E402
from transformers.generation.logits_process import NoBadWordsLogitsProcessor  # noqa: E402

import taboo  # noqa: E402
from taboo.hf import BanLogitsProcessor  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "crates" / "taboo-py" / "tests"))
from model_dir import model_dir  # noqa: E402

REPLAY = ROOT / "crates" / "taboo-eval" / "data" / "replay.txt"

# o200k_base's pre-tokenizer split pattern (the `pat_str` tiktoken publishes for it).
O200K_PATTERN = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)


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


# ---------------------------------------------------------------------------------------------
# Vocabularies: (Hugging Face tokenizer, taboo vocabulary, score width)


def smollm2():
    tok = AutoTokenizer.from_pretrained(model_dir())
    vocab = taboo.vocabulary_from_tokenizer(tok)
    return tok, vocab


def o200k():
    """o200k_base as a Hugging Face fast tokenizer, from the token bytes taboo bundles.

    transformers' TikTokenConverter derives the BPE merges from the ranks; it normally reads
    them from a tiktoken file, so the ranks are handed to it directly. The result is cached
    under ~/.cache/taboo-py (about 20 s to build)."""
    cache = Path.home() / ".cache" / "taboo-py" / "o200k_base-tokenizer.json"
    vocab = taboo.Vocabulary.tiktoken("o200k_base")
    if not cache.is_file():
        from transformers.convert_slow_tokenizer import TikTokenConverter

        special = set(vocab.special_tokens)
        ranks = {vocab.token_bytes(i): i for i in range(len(vocab)) if i not in special}

        class FromRanks(TikTokenConverter):
            @staticmethod
            def load_tiktoken_bpe(_url):
                return ranks

        backend = FromRanks(vocab_file="o200k_base", pattern=O200K_PATTERN).converted()
        cache.parent.mkdir(parents=True, exist_ok=True)
        backend.save(str(cache))
    tok = PreTrainedTokenizerFast(tokenizer_file=str(cache))
    # The two must agree token for token, or the comparison means nothing.
    sample = REPLAY.read_text(encoding="utf-8")[:2000]
    ids = tok(sample, add_special_tokens=False).input_ids
    assert vocab.decode(ids) == sample.encode(), "the o200k tokenizer disagrees with taboo's vocabulary"
    return tok, vocab


VOCABS = {"smollm2": smollm2, "o200k": o200k}


# ---------------------------------------------------------------------------------------------
# (c) llguidance


class LlguidanceProcessor:
    """llguidance as a transformers logits processor: one matcher per row, each fed the row's
    new tokens (a token its grammar rejects is skipped: the replayed text was not written
    under the ban), then the rows' bitmasks computed (in parallel for a batch) and applied."""

    def __init__(self, lltok, words):
        import llguidance
        import llguidance.torch

        self.llg = llguidance
        self.lt = llguidance.torch  # looked up once, not in every timed step
        alternatives = "|".join(words)  # dictionary words: letters only, nothing to escape
        lark = (
            "start: TEXT\n"
            "TEXT: /(?s:.*)/ & ~/(?s:(?:.*\\W)?)(?i:" + alternatives + ")(?s:(?:\\W.*)?)/\n"
        )
        self.grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        self.lltok = lltok
        probe = llguidance.LLMatcher(lltok, self.grammar)
        if probe.is_error():
            raise RuntimeError(probe.get_error())
        self.executor = llguidance.LLExecutor()
        self.matchers = []
        self.seen = 0

    def __call__(self, ids, scores):
        lt = self.lt
        rows = ids.shape[0]
        if len(self.matchers) != rows or ids.shape[1] < self.seen:
            self.matchers = [self.llg.LLMatcher(self.lltok, self.grammar) for _ in range(rows)]
            self.bitmask = lt.allocate_token_bitmask(rows, scores.shape[1])
            self.seen = ids.shape[1]  # the prompt is not banned
        new = ids[:, self.seen :].tolist()
        self.seen = ids.shape[1]
        for m, toks in zip(self.matchers, new):
            for t in toks:
                m.try_consume_tokens([t])
        if rows == 1:
            lt.fill_next_token_bitmask(self.matchers[0], self.bitmask, 0)
        else:
            lt.fill_next_token_bitmask_par(self.executor, [(m, i) for i, m in enumerate(self.matchers)], self.bitmask)
        lt.apply_token_bitmask_inplace(scores, self.bitmask)
        return scores


def llguidance_tokenizer(tok, width):
    import llguidance.hf
    import llguidance.torch  # noqa: F401 - loaded here, once per model, not in a timed setup

    return llguidance.hf.from_tokenizer(tok, n_vocab=width)


# ---------------------------------------------------------------------------------------------


def per_step(proc, stream, batch, vocab_width, prompt=16, steps=200, budget_s=20.0):
    """Median and p90 of one processor call, in µs (the first two steps are dropped: they fill
    caches). A processor slower than `budget_s` in all stops after 12 steps."""
    torch.manual_seed(0)
    scores = torch.randn(batch, vocab_width)
    ids = torch.tensor(
        [stream[(r * 37) % 100 : (r * 37) % 100 + prompt + steps] for r in range(batch)], dtype=torch.long
    )
    times = []
    start = time.perf_counter()
    for s in range(steps):
        if s >= 12 and time.perf_counter() - start > budget_s:
            break
        cur = ids[:, : prompt + s + 1]
        t = time.perf_counter_ns()
        proc(cur, scores)
        times.append((time.perf_counter_ns() - t) / 1000)
    times = times[2:]
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def fmt_us(pair):
    med, p90 = pair
    if med != med:  # NaN: not run
        return "not run"
    return f"{med:,.1f} µs ({p90:,.1f})"


def bench_vocab(name, args, out):
    (tok, vocab), t_vocab = timed(VOCABS[name])
    width = len(vocab)
    print(f"{name}: {width:,} ids; tokenizer and vocabulary ready in {t_vocab:.1f} s (once per model)", flush=True)
    stream = tok(REPLAY.read_text(encoding="utf-8"), add_special_tokens=False).input_ids
    lltok = None
    if args.llguidance_up_to > 0:
        lltok, t = timed(lambda: llguidance_tokenizer(tok, width))
        print(f"  llguidance tokenizer: {t:.1f} s (once per model)", flush=True)
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
        t_ours = min(timed(lambda: BanLogitsProcessor(vocab, words))[1] for _ in range(3))
        ours = BanLogitsProcessor(vocab, words)
        llg, t_llg, llg_note = None, float("nan"), "not run"
        if lltok is not None and n <= args.llguidance_up_to:
            try:
                llg, t_llg = timed(lambda: LlguidanceProcessor(lltok, words))
            except Exception as e:  # noqa: BLE001 - the error is the result
                llg_note = "error: " + " ".join(str(e).split())[:90]
        for b in [int(x) for x in args.batch.split(",")]:
            nan = (float("nan"),) * 2
            hf_t = per_step(hf, stream, b, width, steps=args.steps) if baseline else nan
            ours_t = per_step(ours, stream, b, width, steps=args.steps)
            llg_t = per_step(llg, stream, b, width, steps=args.steps) if llg else nan
            row = dict(vocab=name, words=n, batch=b, setup_hf=t_hf, setup_ours=t_ours, setup_llg=t_llg,
                       hf=hf_t, ours=ours_t, llg=llg_t, llg_note=llg_note)
            out.append(row)
            print(
                f"  {n} words, batch {b}: setup {t_hf * 1000:.1f} / {t_ours * 1000:.1f} / {t_llg * 1000:.1f} ms; "
                f"step {fmt_us(hf_t)} / {fmt_us(ours_t)} / {fmt_us(llg_t) if llg else llg_note}",
                flush=True,
            )


def ms(x):
    return "not run" if x != x else f"{x * 1000:,.1f} ms"


def ratio(a, b):
    return "—" if a != a or b != b else f"{a / b:,.0f}×"


def bench_generate(repeats, new_tokens):
    """Tokens/s of SmolLM2 generating in transformers, no processor vs taboo's with 1,000 words."""
    from transformers import AutoModelForCausalLM

    path = model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    words = dictionary_words(1000)
    proc = BanLogitsProcessor(tok, words)
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Tell me a long story about a cat who travels the world."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )

    def run(processors):
        t = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                **prompt,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,  # equal lengths: tokens/s compares like with like
                do_sample=False,
                logits_processor=processors,
                pad_token_id=tok.eos_token_id,
            )
        dt = time.perf_counter() - t
        return (out.shape[1] - prompt["input_ids"].shape[1]) / dt

    spent = []

    def timed_proc(ids, scores):
        t = time.perf_counter_ns()
        out = proc(ids, scores)
        spent.append(time.perf_counter_ns() - t)
        return out

    def noop(ids, scores):
        return scores

    run([])  # warm-up
    run([timed_proc])
    spent.clear()
    # Rounds of three runs — none, a processor that does nothing, taboo — in an order that
    # alternates, so that a drift of the machine's speed favours none of them. The no-op run
    # shows how far two identical runs differ on this machine.
    times = {"none": [], "noop": [], "taboo": []}
    for i in range(repeats):
        order = [("none", []), ("noop", [noop]), ("taboo", [timed_proc])]
        for name, procs in order if i % 2 == 0 else reversed(order):
            times[name].append(run(procs))
    # The processor's own time, measured inside the generations: unlike the tokens/s of whole
    # runs, it does not move with the machine's load.
    per_token_us = statistics.median(spent) / 1000
    med = {k: statistics.median(v) for k, v in times.items()}
    return med, times, new_tokens, per_token_us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", default="smollm2,o200k", help="vocabularies: smollm2, o200k")
    ap.add_argument("--words", default="1,100,1000,10000")
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument(
        "--baseline-up-to",
        type=int,
        default=1000,
        help="measure bad_words_ids only for lists up to this size (it takes seconds per step beyond)",
    )
    ap.add_argument("--llguidance-up-to", type=int, default=10000, help="measure llguidance up to this list size (0: never)")
    ap.add_argument("--generate", type=int, default=0, metavar="REPEATS", help="also time real generations, REPEATS each")
    ap.add_argument("--new-tokens", type=int, default=64, help="tokens per timed generation")
    ap.add_argument("--only-generate", action="store_true", help="skip the per-step table (with --generate)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the step benchmark")
    args = ap.parse_args()
    if args.only_generate and not args.generate:
        ap.error("--only-generate needs --generate REPEATS")
    torch.set_num_threads(args.threads)
    rows = []
    for name in [] if args.only_generate else args.vocab.split(","):
        if name not in VOCABS:
            ap.error(f"unknown vocabulary {name!r}; choose from {', '.join(VOCABS)}")
        bench_vocab(name, args, rows)
    if rows:
        print_table(rows)
    if args.generate:
        torch.set_num_threads(os.cpu_count() or 1)
        med, times, n, per_token_us = bench_generate(args.generate, args.new_tokens)
        none = med["none"]
        share = per_token_us / (1e6 / none) * 100
        print()
        print(f"SmolLM2 in transformers, greedy, {n} new tokens, median of {args.generate} rounds:")
        print("| processor | tokens/s, median (range) | vs none | processor time per token (median) | share of a token's time |")
        print("|---|---:|---:|---:|---:|")
        for name, label in (("none", "none"), ("noop", "a no-op processor"), ("taboo", "taboo, 1,000 words")):
            extra = f"{per_token_us:.1f} µs | {share:.3f}%" if name == "taboo" else "— | —"
            print(
                f"| {label} | {med[name]:.1f} ({min(times[name]):.1f}–{max(times[name]):.1f}) "
                f"| {med[name] / none * 100:.1f}% | {extra} |"
            )


def print_table(rows) -> None:
    print()
    print(
        "| vocabulary | words | batch | setup: bad_words_ids | setup: taboo | setup: llguidance "
        "| step, median (p90): bad_words_ids | taboo | llguidance | bad_words_ids ÷ taboo | llguidance ÷ taboo |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        llg = fmt_us(r["llg"]) if r["llg"][0] == r["llg"][0] else r["llg_note"]
        print(
            f"| {r['vocab']} | {r['words']:,} | {r['batch']} | {ms(r['setup_hf'])} | {ms(r['setup_ours'])} "
            f"| {ms(r['setup_llg'])} | {fmt_us(r['hf'])} | {fmt_us(r['ours'])} | {llg} "
            f"| {ratio(r['hf'][0], r['ours'][0])} | {ratio(r['llg'][0], r['ours'][0])} |"
        )


if __name__ == "__main__":
    main()
