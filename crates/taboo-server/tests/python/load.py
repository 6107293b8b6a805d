"""A bounded load on an OpenAI-compatible server: N concurrent clients × M requests each,
mixed endpoints, lengths, streaming and (for taboo) bans; every response is checked.

Used by test_load.py, and on its own for the comparison in docs/SERVER.md:

    python load.py --url http://127.0.0.1:8080/v1 --clients 16 --requests 8 [--no-bans]

Prints one JSON object: aggregate tokens/s, time to first token and latency percentiles,
and the failures found (5xx, other errors, lost or truncated responses, banned words).
"""

import argparse
import json
import random
import statistics
import threading
import time

import openai

import checker

PROMPTS = [
    "What animal says meow? Answer in one sentence.",
    "Name three fruits.",
    "Why is the sky blue? Answer briefly.",
    "Write a short poem about the sea.",
    "What animal barks? Answer in one sentence.",
    "Give me a tip for learning to cook.",
]
COMPLETION_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "My favourite pet is a",
]
# (request entries, checker entries): what each request bans and how to check it.
BAN_SETS = [
    ([], []),
    (["cat"], [dict(word="cat")]),
    (["cat", "dog", "mouse"], [dict(word="cat"), dict(word="dog"), dict(word="mouse")]),
    ([{"word": "the", "case": True}], [dict(word="the", case=True)]),
    ([{"word": "ca[a-z]*", "regex": True}], [dict(word="ca[a-z]*", regex=True)]),
    ([{"word": "sea", "forms": True}], [dict(word="seas?", regex=True)]),
]
MAX_TOKENS = [8, 16, 24, 32]


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def plan(client_index, request_index, bans):
    """The request a client sends, fixed by its indices."""
    rng = random.Random(client_index * 1000 + request_index)
    chat = rng.random() < 0.7
    ban_request, ban_check = rng.choice(BAN_SETS) if bans else ([], [])
    return {
        "chat": chat,
        "prompt": rng.choice(PROMPTS if chat else COMPLETION_PROMPTS),
        "stream": rng.random() < 0.5,
        "max_tokens": rng.choice(MAX_TOKENS),
        "seed": rng.randrange(1 << 31),
        "bans": ban_request,
        "check": ban_check,
        "server_check": [],
    }


def one_request(client, model, p):
    """Runs one planned request; returns its record."""
    extra = {"banned_words": p["bans"]} if p["bans"] else None
    common = dict(model=model, max_tokens=p["max_tokens"], temperature=0.8, seed=p["seed"],
                  extra_body=extra)
    rec = {"stream": p["stream"], "max_tokens": p["max_tokens"], "error": None, "status": None}
    start = time.perf_counter()
    first = None
    try:
        if p["chat"]:
            messages = [{"role": "user", "content": p["prompt"]}]
            if p["stream"]:
                pieces, finish, usage = [], None, None
                for c in client.chat.completions.create(
                    messages=messages, stream=True, stream_options={"include_usage": True},
                    **common,
                ):
                    if c.choices and c.choices[0].delta.content:
                        first = first or time.perf_counter()
                        pieces.append(c.choices[0].delta.content)
                    if c.choices and c.choices[0].finish_reason:
                        finish = c.choices[0].finish_reason
                    if c.usage:
                        usage = c.usage
                text = "".join(pieces)
            else:
                r = client.chat.completions.create(messages=messages, **common)
                text, finish, usage = r.choices[0].message.content, r.choices[0].finish_reason, r.usage
        else:
            if p["stream"]:
                pieces, finish, usage = [], None, None
                for c in client.completions.create(
                    prompt=p["prompt"], stream=True, stream_options={"include_usage": True},
                    **common,
                ):
                    if c.choices and c.choices[0].text:
                        first = first or time.perf_counter()
                        pieces.append(c.choices[0].text)
                    if c.choices and c.choices[0].finish_reason:
                        finish = c.choices[0].finish_reason
                    if c.usage:
                        usage = c.usage
                text = "".join(pieces)
            else:
                r = client.completions.create(prompt=p["prompt"], **common)
                text, finish, usage = r.choices[0].text, r.choices[0].finish_reason, r.usage
        end = time.perf_counter()
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        rec.update(
            text=text or "",
            pieces=pieces if p["stream"] else [text or ""],
            finish=finish,
            tokens=usage.completion_tokens if usage else None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            cached_tokens=getattr(details, "cached_tokens", None) or 0,
            latency=end - start,
            ttft=(first - start) if first else None,
        )
    except openai.APIStatusError as e:
        rec.update(error=str(e), status=e.status_code)
    except Exception as e:  # a connection dropped, a malformed stream …
        rec.update(error=f"{type(e).__name__}: {e}")
    return rec


def problems(p, rec):
    """What is wrong with one response: lost, truncated, or a banned word."""
    if rec["error"]:
        return [f"error {rec['status']}: {rec['error']}"]
    out = []
    if rec["finish"] not in ("stop", "length"):
        out.append(f"no finish reason (truncated stream?): {rec['finish']!r}")
    if rec["tokens"] is None:
        out.append("no usage")
    elif rec["finish"] == "length" and rec["tokens"] != p["max_tokens"]:
        out.append(f"finish_reason length after {rec['tokens']} of {p['max_tokens']} tokens")
    elif rec["tokens"] > p["max_tokens"]:
        out.append(f"{rec['tokens']} tokens, over max_tokens {p['max_tokens']}")
    for check in p["check"] + p["server_check"]:
        for piece in rec["pieces"] + [rec["text"]]:
            hit = checker.find(piece, **check)
            if hit:
                out.append(f"banned word {hit!r} in {piece!r}")
                break
    return out


def run(base_url, api_key="none", clients=16, requests=8, bans=True, model="m",
        server_check=()):
    """Runs the load; returns the report (a dict)."""
    plans = [[plan(c, r, bans) for r in range(requests)] for c in range(clients)]
    for row in plans:
        for p in row:
            p["server_check"] = list(server_check)
    records = [[None] * requests for _ in range(clients)]

    def worker(c):
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=600)
        for r in range(requests):
            records[c][r] = one_request(client, model, plans[c][r])

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    flat = [(p, rec) for prow, rrow in zip(plans, records) for p, rec in zip(prow, rrow)]
    failures = [(p, rec, problems(p, rec)) for p, rec in flat]
    failures = [(p, rec, why) for p, rec, why in failures if why]
    tokens = sum(rec.get("tokens") or 0 for _, rec in flat)
    ttft = [rec["ttft"] for _, rec in flat if rec.get("ttft") is not None]
    latency = [rec["latency"] for _, rec in flat if rec.get("latency") is not None]
    return {
        "clients": clients,
        "requests": clients * requests,
        "wall_seconds": round(wall, 3),
        "completion_tokens": tokens,
        "prompt_tokens": sum(rec.get("prompt_tokens") or 0 for _, rec in flat),
        # Prompt tokens the server reports it did not prefill (usage.prompt_tokens_details).
        "cached_prompt_tokens": sum(rec.get("cached_tokens") or 0 for _, rec in flat),
        "tokens_per_second": round(tokens / wall, 2) if wall > 0 else 0,
        "ttft_p50": percentile(ttft, 50),
        "ttft_p99": percentile(ttft, 99),
        "latency_p50": percentile(latency, 50),
        "latency_p99": percentile(latency, 99),
        "latency_mean": statistics.mean(latency) if latency else None,
        "server_errors": sum(1 for _, rec in flat if (rec["status"] or 0) >= 500),
        "other_errors": sum(
            1 for _, rec in flat if rec["error"] and not (rec["status"] or 0) >= 500
        ),
        "failures": [
            {"plan": {k: p[k] for k in ("chat", "prompt", "stream", "max_tokens", "bans")},
             "problems": why}
            for p, _, why in failures
        ],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080/v1")
    ap.add_argument("--api-key", default="none")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--no-bans", action="store_true", help="send no banned_words (any server)")
    ap.add_argument("--model", default="m")
    args = ap.parse_args()
    single = run(args.url, args.api_key, 1, args.requests, not args.no_bans, args.model)
    load = run(args.url, args.api_key, args.clients, args.requests, not args.no_bans, args.model)
    print(json.dumps({"single": single, "load": load}, indent=1))


if __name__ == "__main__":
    main()
