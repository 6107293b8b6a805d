"""`taboo serve` through the official OpenAI Python client, on SmolLM2.

One server (`main`) serves most tests: it requires an API key and bans "dog" for every
request. Tests that need other limits (one slot, no queue) start their own.
"""

import http.client
import json
import subprocess
import threading
import time
import urllib.parse

import openai
import pytest

import checker
from serverproc import MODEL, THREADS, Server, taboo_bin

KEY = "test-key-9f2c"
MEOW = "What animal says meow? Answer in one sentence."
BARK = "Name a pet that barks."


@pytest.fixture(scope="module")
def main():
    server = Server(
        "--api-key", KEY, "--ban", "dog", "--parallel", "4",
        "--max-ban-entries", "50", "--max-body-bytes", "200000", "--ctx-size", "1024",
    )
    yield server
    assert server.stop() == 0, "".join(server.log)


@pytest.fixture(scope="module")
def client(main):
    return openai.OpenAI(base_url=main.base_url, api_key=KEY, max_retries=0, timeout=600)


def chat(client, prompt, **kw):
    kw.setdefault("temperature", 0)
    kw.setdefault("max_tokens", 40)
    extra = kw.pop("extra", None)
    return client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": prompt}], extra_body=extra, **kw
    )


def chat_stream(client, prompt, **kw):
    """Streams a chat completion; returns (content pieces, the final chunk, all chunks)."""
    kw.setdefault("temperature", 0)
    kw.setdefault("max_tokens", 40)
    extra = kw.pop("extra", None)
    stream = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": prompt}],
        extra_body=extra, stream=True, **kw,
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(final) == 1, chunks
    return pieces, final[0], chunks


def raw(server, method, path, body=None, headers=None):
    """One HTTP request without the client: (status, headers, parsed JSON body)."""
    u = urllib.parse.urlparse(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    h = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), json.loads(data) if data else None


def generate_cli(prompt, *args):
    """`taboo generate --json` with the same model: (text, tokens)."""
    out = subprocess.run(
        [str(taboo_bin()), "generate", "--model", str(MODEL), "--ctx-size", "1024",
         "--threads", THREADS, "--json",
         *args, prompt],
        check=True, capture_output=True, text=True,
    )
    j = json.loads(out.stdout)
    return j["text"], j["tokens"]


# --- the API surface ---------------------------------------------------------------------


def test_models_and_health(main, client):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["SmolLM2-135M-Instruct-Q4_1"]
    h = main.health()
    assert h["status"] == "ok" and h["slots"] == 4 and h["server_bans"] == 1


def test_chat_completion(client):
    r = chat(client, MEOW)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.choices[0].message.role == "assistant"
    assert "cat" in r.choices[0].message.content.lower()
    assert r.choices[0].finish_reason == "stop"
    taboo = r.model_extra["taboo"]
    assert taboo["finish_reason"] == "eos"
    assert r.usage.completion_tokens == len(taboo["tokens"])
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_chat_stream_is_the_same_text(client):
    whole = chat(client, MEOW).choices[0].message.content
    pieces, final, chunks = chat_stream(client, MEOW, stream_options={"include_usage": True})
    assert "".join(pieces) == whole
    assert chunks[0].choices[0].delta.role == "assistant"
    assert final.choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    # The second request found its prompt still in a free slot: nothing prefilled, and the
    # text above is the same all the same.
    usage = chunks[-1].usage
    assert usage.prompt_tokens_details.cached_tokens == usage.prompt_tokens


def test_length_limit(client):
    r = chat(client, "Write a long story about a lighthouse.", max_tokens=5)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5
    r = chat(client, "Write a long story about a lighthouse.", max_completion_tokens=3, max_tokens=9)
    assert r.usage.completion_tokens == 3


def test_completion_and_stream(client):
    r = client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    text = r.choices[0].text
    assert "Paris" in text and r.choices[0].finish_reason == "length"
    chunks = list(client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=8, temperature=0,
        stream=True, stream_options={"include_usage": True},
    ))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == text
    assert chunks[-1].usage.completion_tokens == 8


def test_stop_strings(client):
    r = client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=8, temperature=0,
        stop=["."],
    )
    assert "." not in r.choices[0].text and r.choices[0].finish_reason == "stop"
    assert r.model_extra["taboo"]["finish_reason"] == "stop"


def test_a_multi_turn_chat(client):
    r = client.chat.completions.create(
        model="smollm2", temperature=0, max_tokens=20,
        messages=[
            {"role": "system", "content": "You answer with one word."},
            {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another one."},
        ],
    )
    assert r.choices[0].message.content.strip()
    assert r.usage.prompt_tokens > 20


# --- reproducing `taboo generate` -----------------------------------------------------------


@pytest.mark.parametrize("seed,temperature", [(7, 0.8), (123, 1.0)])
def test_seeded_chat_reproduces_taboo_generate(client, seed, temperature):
    prompt = "Tell me about cats in two sentences."
    cli_text, cli_tokens = generate_cli(
        prompt, "--seed", str(seed), "--temperature", str(temperature), "--max-tokens", "40",
        "--ban", "dog", "--ban", "cat",
    )
    r = chat(client, prompt, seed=seed, temperature=temperature, extra={"banned_words": ["cat"]})
    assert r.choices[0].message.content == cli_text
    assert r.model_extra["taboo"]["tokens"] == cli_tokens
    pieces, _, _ = chat_stream(
        client, prompt, seed=seed, temperature=temperature, extra={"banned_words": ["cat"]}
    )
    assert "".join(pieces) == cli_text


def test_seeded_completion_reproduces_taboo_generate(client):
    prompt = "Once upon a time, in a small village,"
    cli_text, cli_tokens = generate_cli(
        prompt, "--raw", "--seed", "5", "--temperature", "0.9", "--max-tokens", "30",
        "--ban", "dog",
    )
    r = client.completions.create(
        model="smollm2", prompt=prompt, max_tokens=30, temperature=0.9, seed=5
    )
    assert r.choices[0].text == cli_text
    assert r.model_extra["taboo"]["tokens"] == cli_tokens


# --- bans -------------------------------------------------------------------------------------

OPTION_CASES = [
    # (entry, checker arguments)
    ("cat", dict(word="cat")),
    ({"word": "ca[a-z]*", "regex": True}, dict(word="ca[a-z]*", regex=True)),
    ({"word": "cat", "case": True}, dict(word="cat", case=True)),
    ({"word": "at", "substring": True}, dict(word="at", substring=True)),
    ({"word": "cat", "forms": True}, dict(word="cats?")),
    ({"word": "cat", "disguise": True}, dict(word="cat", disguise=True)),
]


@pytest.mark.parametrize("entry,check", OPTION_CASES, ids=lambda v: json.dumps(v))
def test_banned_words_options(client, entry, check):
    check = dict(check)
    word = check.pop("word")
    if "regex" not in check and word == "cats?":
        check["regex"] = True
    free = chat(client, MEOW).choices[0].message.content
    assert checker.find(free, word, **check), f"the prompt should elicit {word!r}: {free!r}"
    r = chat(client, MEOW, extra={"banned_words": [entry]})
    text = r.choices[0].message.content
    assert checker.find(text, word, **check) is None, text
    assert r.model_extra["taboo"]["masked_steps"] > 0
    pieces, final, _ = chat_stream(client, MEOW, extra={"banned_words": [entry]})
    for p in pieces:
        assert checker.find(p, word, **check) is None, p
    assert checker.find("".join(pieces), word, **check) is None
    assert "".join(pieces) == text


@pytest.mark.parametrize(
    "name,prompt",
    [
        ("en-profanity", "He was furious and yelled: fuck! fuck! fuck! fuck! fuck! fuck!"),
        ("ru-obscene", "блядь блядь блядь блядь блядь блядь блядь блядь"),
    ],
)
def test_bundled_lists(client, name, prompt):
    free = client.completions.create(model="smollm2", prompt=prompt, max_tokens=24, temperature=0)
    assert checker.find_listed(free.choices[0].text, name), free.choices[0].text
    r = client.completions.create(
        model="smollm2", prompt=prompt, max_tokens=24, temperature=0,
        extra_body={"ban_lists": [name]},
    )
    assert checker.find_listed(r.choices[0].text, name) is None, r.choices[0].text
    chunks = list(client.completions.create(
        model="smollm2", prompt=prompt, max_tokens=24, temperature=0, stream=True,
        extra_body={"ban_lists": [name]},
    ))
    pieces = [c.choices[0].text for c in chunks if c.choices]
    for p in pieces:
        assert checker.find_listed(p, name) is None, p
    assert "".join(pieces) == r.choices[0].text


def test_server_wide_bans_cannot_be_lifted(client):
    free, _ = generate_cli(BARK, "--temperature", "0", "--max-tokens", "40")
    assert checker.find(free, "dog"), f"the prompt should elicit 'dog': {free!r}"
    # The token the free model writes first for the word: pushing it with logit_bias still
    # cannot get the word through.
    word, tokens = generate_cli("My dog. My dog. My dog. My", "--raw", "--temperature", "0",
                                "--max-tokens", "1", "--mode", "off")
    assert word == " dog"
    attempts = [
        {},
        {"banned_words": []},
        {"ban_mode": "hard"},
        {"logit_bias": {str(tokens[0]): 100}},
    ]
    for extra in attempts:
        r = chat(client, BARK, extra=extra)
        assert checker.find(r.choices[0].message.content, "dog") is None, (extra, r)
        pieces, _, _ = chat_stream(client, BARK, extra=extra)
        assert checker.find("".join(pieces), "dog") is None, (extra, pieces)
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, BARK, extra={"ban_mode": "soft"})
    assert e.value.body["param"] == "ban_mode"


def test_logit_bias_moves_the_output(client):
    base = client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=1, temperature=0
    )
    first = base.model_extra["taboo"]["tokens"][0]
    r = client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=1, temperature=0,
        logit_bias={str(first): -100},
    )
    assert r.model_extra["taboo"]["tokens"][0] != first


# --- errors ------------------------------------------------------------------------------------

GOOD = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def error_of(status, body):
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def test_malformed_json(main):
    status, _, body = raw(main, "POST", "/v1/chat/completions", b'{"messages": [')
    assert status == 400
    assert "not valid JSON" in error_of(status, body)["message"]


@pytest.mark.parametrize(
    "field,value",
    [("temperature", "hot"), ("max_tokens", "many"), ("stream", "yes"), ("stop", 5),
     ("banned_words", "cat"), ("logit_bias", [1]), ("messages", "hi")],
)
def test_fields_of_the_wrong_type(main, field, value):
    status, _, body = raw(main, "POST", "/v1/chat/completions", json.dumps({**GOOD, field: value}))
    assert status == 400
    e = error_of(status, body)
    assert e["param"] == field and field in e["message"]


def test_invalid_regex_names_the_entry(client):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", extra={"banned_words": ["fine", {"word": "colo(u", "regex": True}]})
    assert e.value.status_code == 400
    assert '"colo(u"' in e.value.body["message"] and e.value.body["param"] == "banned_words"


def test_too_many_ban_entries(client):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", extra={"banned_words": [f"word{i}" for i in range(51)]})
    assert "at most 50" in e.value.body["message"]


def test_unknown_list_and_options(client):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", extra={"ban_lists": ["/etc/passwd"]})
    assert "en-profanity" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", extra={"banned_words": [{"word": "x", "file": "/etc/passwd"}]})
    assert "unknown option" in e.value.body["message"]


def test_context_overflow(client):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", max_tokens=5000)
    assert e.value.body["code"] == "context_length_exceeded"
    assert "1024" in e.value.body["message"]


def test_n_must_be_one(client):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, "hi", n=2)
    assert e.value.body["param"] == "n"


def test_api_key(main):
    no_key = openai.OpenAI(base_url=main.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        no_key.models.list()
    assert e.value.status_code == 401 and "incorrect" in e.value.body["message"]
    status, _, body = raw(main, "POST", "/v1/chat/completions", json.dumps(GOOD),
                          headers={"Authorization": None})
    assert status == 401 and "Authorization: Bearer" in error_of(status, body)["message"]
    status, _, _ = raw(main, "GET", "/health", headers={"Authorization": None})
    assert status == 200


def test_unknown_route_and_method(main):
    status, _, body = raw(main, "GET", "/v1/embeddings")
    assert status == 404 and "/v1/chat/completions" in error_of(status, body)["message"]
    status, _, body = raw(main, "GET", "/v1/chat/completions")
    assert status == 405 and error_of(status, body)["type"] == "invalid_request_error"


def test_body_over_the_limit(main):
    big = json.dumps({**GOOD, "padding": "x" * 300_000})
    status, _, body = raw(main, "POST", "/v1/chat/completions", big)
    assert status == 413 and "200000" in error_of(status, body)["message"]


# --- slots: disconnects, the queue, shutdown --------------------------------------------------


def test_a_disconnected_client_frees_its_slot():
    server = Server("--parallel", "1", "--queue", "0")
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=600)
        stream = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Write a very long story."}],
            max_tokens=900, temperature=0, stream=True,
        )
        got = 0
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got += 1
            if got == 3:
                break
        assert server.health()["in_flight"] == 1
        # With its one slot taken and no queue, the server refuses a second request.
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=2
            )
        assert e.value.status_code == 503
        assert e.value.response.headers["retry-after"] == "1"
        stream.close()
        h = server.wait_idle()
        assert h["disconnected"] == 1 and h["completed"] == 0
        # The slot is free: a new request runs. (This server bans nothing on its own, so
        # soft mode is allowed; a large penalty keeps the word out.)
        r = chat(client, MEOW, extra={"banned_words": ["cat"], "ban_mode": "soft",
                                      "ban_penalty": 1000})
        taboo = r.model_extra["taboo"]
        assert taboo["ban_mode"] == "soft" and taboo["masked_steps"] > 0
        assert checker.find(r.choices[0].message.content, "cat") is None
        assert server.health()["completed"] == 1
    finally:
        assert server.stop() == 0


def test_sigterm_ends_running_requests_and_exits_zero():
    server = Server("--parallel", "2")
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=600)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Write a very long story."}],
        max_tokens=900, temperature=0, stream=True,
    )
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == 3:
            server.proc.send_signal(15)
            break
    chunks.extend(stream)
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert final and final[0].model_extra["taboo"]["finish_reason"] == "interrupted"
    assert server.stop() == 0
