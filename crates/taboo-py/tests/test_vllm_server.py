"""vLLM's OpenAI-compatible server on CPU with taboo's logits processor loaded by name
(``--logits-processors taboo.vllm:BanLogitsProcessor``), offline, over HTTP: bans travel per
request in ``vllm_xargs``; a banned request writes no banned word, an unbanned one is left
alone, and an invalid ban is an HTTP 400 naming the entry."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

CAT = re.compile(r"(?<!\w)(?:cat|kittens?)(?!\w)", re.I)
STARTUP_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture(scope="module")
def server(smol_dir, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="2")
    env.setdefault("VLLM_USE_V2_MODEL_RUNNER", "0")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "vllm.entrypoints.openai.api_server",
                "--model", str(smol_dir), "--served-model-name", "smollm2",
                "--host", "127.0.0.1", "--port", str(port),
                "--dtype", "bfloat16", "--max-model-len", "1024", "--max-num-seqs", "8",
                "--enforce-eager",
                "--logits-processors", "taboo.vllm:BanLogitsProcessor",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its workers are killed with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM's server exited with {proc.returncode}:\n{log.read_text()[-6000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM's server not up after {STARTUP_S} s:\n{log.read_text()[-6000:]}")
            time.sleep(2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def chat(base: str, prompt: str, xargs: dict | None = None) -> tuple[int, dict]:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0.0,
        "max_tokens": 24,
    }
    if xargs is not None:
        body["vllm_xargs"] = xargs
    return post(base + "/v1/chat/completions", body)


def test_bans_travel_in_vllm_xargs(server):
    prompts = ['What animal says "meow"? Answer in one sentence.', "Write the word CAT in capitals."]
    free = []
    for p in prompts:
        status, r = chat(server, p)
        assert status == 200, r
        free.append(r["choices"][0]["message"]["content"])
    # The prompts elicit the word, so the ban has something to do.
    assert any(CAT.search(t) for t in free), free
    for p in prompts:
        status, r = chat(server, p, {"banned_words": ["cat", "[forms] kitten"], "ban_mode": "hard"})
        assert status == 200, r
        text = r["choices"][0]["message"]["content"]
        print(repr(p), "->", repr(text))
        assert text and not CAT.search(text), text
    # A request without bans after banned ones is exactly what it was.
    status, r = chat(server, prompts[1])
    assert status == 200 and r["choices"][0]["message"]["content"] == free[1], r


def test_completions_endpoint_takes_bans_too(server):
    body = {
        "model": "smollm2",
        "prompt": "Repeat after me: cat, cat, cat, cat, cat,",
        "temperature": 0.0,
        "max_tokens": 24,
        "vllm_xargs": {"banned_words": ["cat"]},
    }
    status, free = post(server + "/v1/completions", {k: v for k, v in body.items() if k != "vllm_xargs"})
    assert status == 200, free
    status, r = post(server + "/v1/completions", body)
    assert status == 200, r
    text = r["choices"][0]["text"]
    print(repr(free["choices"][0]["text"]), "->", repr(text))
    assert CAT.search(free["choices"][0]["text"]), free  # the ban has something to do
    assert text and not CAT.search(text), text


def test_an_invalid_ban_is_a_400_naming_the_entry(server):
    status, r = chat(server, "Hello", {"banned_words": ["[regex] ("]})
    assert status == 400, r
    assert 'entry "(": invalid regular expression' in r["error"]["message"], r
    status, r = chat(server, "Hello", {"banned_words": ["cat"], "ban_mode": "sideways"})
    assert status == 400, r
    assert "ban_mode must be 'hard' or 'soft'" in r["error"]["message"], r
