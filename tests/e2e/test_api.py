"""The OpenAI API on a tiny random model, through the official `openai` client: chat and
completions, streaming and not, usage, logprobs, echo/scoring, stop strings, seeds, the
small endpoints. The tiny model's distribution is very peaked, so tests that need varied
text sample at a high temperature with a fixed seed."""
import concurrent.futures
import json

import pytest

HOT = dict(temperature=10.0, seed=1234)  # varied but reproducible text


def ascii_piece(text, n):
    """A substring of n printable ASCII characters from the second half of `text` (the random
    model also writes bytes that are not UTF-8; the client sees those as U+FFFD, which a stop
    string cannot name)."""
    ok = [i for i in range(len(text) - n + 1) if all(32 <= ord(c) < 127 for c in text[i:i + n])]
    assert ok or n == 1, text
    if not ok:
        return ""
    return text[ok[len(ok) // 2]:ok[len(ok) // 2] + n]


def chat(server, content="hi", **kwargs):
    kwargs.setdefault("max_tokens", 16)
    return server.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": content}], **kwargs)


def test_health_and_models(tiny_server):
    r = tiny_server.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    models = tiny_server.client().models.list()
    assert [m.id for m in models.data] == ["tiny"]
    assert tiny_server.client().models.retrieve("tiny").id == "tiny"


def test_chat_completion(tiny_server):
    r = chat(tiny_server, max_tokens=8, temperature=0)
    assert r.object == "chat.completion"
    assert r.model == "tiny"
    assert r.id.startswith("chatcmpl-")
    assert len(r.choices) == 1
    c = r.choices[0]
    assert c.index == 0
    assert c.message.role == "assistant"
    assert isinstance(c.message.content, str)
    assert c.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens >= 0
    if c.finish_reason == "length":
        assert r.usage.completion_tokens == 8


def test_chat_content_parts_and_system(tiny_server):
    client = tiny_server.client()
    r = client.chat.completions.create(
        model="tiny", max_tokens=4, temperature=0,
        messages=[{"role": "system", "content": "be brief"},
                  {"role": "user", "content": [{"type": "text", "text": "hel"},
                                               {"type": "text", "text": "lo"}]}])
    same = client.chat.completions.create(
        model="tiny", max_tokens=4, temperature=0,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])
    assert r.choices[0].message.content == same.choices[0].message.content
    assert r.usage.prompt_tokens == same.usage.prompt_tokens


def test_greedy_is_deterministic(tiny_server):
    a = chat(tiny_server, "the cat", temperature=0, max_tokens=20)
    b = chat(tiny_server, "the cat", temperature=0, max_tokens=20)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_chat_streaming_matches_non_streaming(tiny_server):
    whole = chat(tiny_server, "stream me", max_tokens=12, **HOT)
    chunks = list(chat(tiny_server, "stream me", max_tokens=12, stream=True, **HOT))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason]
    assert finish == [whole.choices[0].finish_reason]
    assert chunks[-1].choices[0].finish_reason is not None
    assert all(c.usage is None for c in chunks)


def test_stream_include_usage(tiny_server):
    chunks = list(chat(tiny_server, max_tokens=5, stream=True, temperature=0,
                       stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")


def test_chat_logprobs(tiny_server):
    r = chat(tiny_server, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        assert entry.bytes is not None
        tops = [t.logprob for t in entry.top_logprobs]
        assert tops == sorted(tops, reverse=True)
        # Greedy: the chosen token is the most likely one.
        assert entry.logprob == pytest.approx(tops[0], abs=1e-4)
    text = "".join(bytes(e.bytes).decode("utf-8", "replace") for e in content)
    assert text.startswith(r.choices[0].message.content[:1])
    # Without top_logprobs: the chosen token only.
    r = chat(tiny_server, max_tokens=3, temperature=0, logprobs=True)
    assert all(e.top_logprobs == [] for e in r.choices[0].logprobs.content)
    assert chat(tiny_server, max_tokens=3).choices[0].logprobs is None


def test_chat_logprobs_streaming(tiny_server):
    chunks = list(chat(tiny_server, max_tokens=5, temperature=0, stream=True, logprobs=True,
                       top_logprobs=2))
    entries = [e for c in chunks if c.choices and c.choices[0].logprobs
               for e in c.choices[0].logprobs.content]
    assert len(entries) >= 1
    assert all(len(e.top_logprobs) == 2 for e in entries)


def test_completions_shapes(tiny_server):
    client = tiny_server.client()
    one = client.completions.create(model="tiny", prompt="the", max_tokens=5, temperature=0)
    assert one.object == "text_completion"
    assert len(one.choices) == 1
    # Default max_tokens is 16, as OpenAI's.
    default = client.completions.create(model="tiny", prompt="the", temperature=0, extra_body={"ignore_eos": True})
    assert default.usage.completion_tokens == 16
    many = client.completions.create(model="tiny", prompt=["the", "an", "he"], max_tokens=5, temperature=0)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert many.choices[0].text == one.choices[0].text
    for i, p in enumerate(["an", "he"]):
        alone = client.completions.create(model="tiny", prompt=p, max_tokens=5, temperature=0)
        assert many.choices[i + 1].text == alone.choices[0].text
    assert many.usage.completion_tokens == sum(
        client.completions.create(model="tiny", prompt=p, max_tokens=5, temperature=0).usage.completion_tokens
        for p in ["the", "an", "he"])
    ids = tiny_server.post("/tokenize", json={"content": "the", "add_special": True}).json()["tokens"]
    by_ids = client.completions.create(model="tiny", prompt=ids, max_tokens=5, temperature=0)
    assert by_ids.choices[0].text == one.choices[0].text
    lists = client.completions.create(model="tiny", prompt=[ids, ids], max_tokens=5, temperature=0)
    assert [c.text for c in lists.choices] == [one.choices[0].text] * 2


def test_completions_streaming(tiny_server):
    client = tiny_server.client()
    whole = client.completions.create(model="tiny", prompt=["a", "b"], max_tokens=8, **HOT)
    chunks = list(client.completions.create(model="tiny", prompt=["a", "b"], max_tokens=8, stream=True,
                                            stream_options={"include_usage": True}, **HOT))
    texts = {0: "", 1: ""}
    finishes = {}
    for c in chunks[:-1]:
        for choice in c.choices:
            texts[choice.index] += choice.text
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert [texts[0], texts[1]] == [c.text for c in whole.choices]
    assert [finishes[0], finishes[1]] == [c.finish_reason for c in whole.choices]


def test_completions_echo_and_logprobs(tiny_server):
    client = tiny_server.client()
    ids = tiny_server.post("/tokenize", json={"content": "the cat he", "add_special": True}).json()["tokens"]
    # Scoring, lm-eval style: echo, no new tokens, logprobs of every prompt token.
    r = client.completions.create(model="tiny", prompt=ids, max_tokens=0, echo=True, logprobs=1)
    lp = r.choices[0].logprobs
    assert r.choices[0].text == "the cat he"
    assert len(lp.tokens) == len(ids)
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert all(x is not None and x <= 0 for x in lp.token_logprobs[1:])
    assert all(len(t) >= 1 for t in lp.top_logprobs[1:])
    assert lp.text_offset == sorted(lp.text_offset)
    assert r.usage.completion_tokens == 0
    # Echo with new tokens: prompt entries first, then one per generated token.
    g = client.completions.create(model="tiny", prompt="the cat he", max_tokens=4, echo=True, logprobs=2,
                                  temperature=0, extra_body={"ignore_eos": True})
    lp = g.choices[0].logprobs
    assert g.choices[0].text.startswith("the cat he")
    assert len(lp.tokens) == len(ids) + 4
    assert lp.token_logprobs[len(ids) - 1] == pytest.approx(r.choices[0].logprobs.token_logprobs[-1], abs=1e-3)
    assert all(len(t) <= 2 for t in lp.top_logprobs[1:])
    # Streamed: the echo and the prompt entries come first, then the same tokens.
    chunks = list(client.completions.create(model="tiny", prompt="the cat he", max_tokens=4, echo=True,
                                            logprobs=2, temperature=0, stream=True,
                                            extra_body={"ignore_eos": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == g.choices[0].text
    streamed = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.tokens]
    assert streamed == lp.tokens
    offsets = [o for c in chunks if c.choices and c.choices[0].logprobs for o in c.choices[0].logprobs.text_offset]
    assert offsets == lp.text_offset
    # logprobs without echo: generated tokens only.
    n = client.completions.create(model="tiny", prompt="the", max_tokens=3, logprobs=0, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert len(n.choices[0].logprobs.tokens) == 3
    assert n.choices[0].logprobs.text_offset[0] == 0


def test_stop_strings(tiny_server):
    client = tiny_server.client()
    first = client.completions.create(model="tiny", prompt="the", max_tokens=40, **HOT,
                                      extra_body={"ignore_eos": True}).choices[0].text
    stop = ascii_piece(first, 2)
    cut = first[:first.index(stop)]
    r = client.completions.create(model="tiny", prompt="the", max_tokens=40, stop=stop, **HOT,
                                  extra_body={"ignore_eos": True})
    assert stop not in r.choices[0].text
    assert r.choices[0].text == cut
    assert r.choices[0].finish_reason == "stop"
    # As a list, and streamed: the stop string never reaches the client.
    chunks = list(client.completions.create(model="tiny", prompt="the", max_tokens=40, stop=["\u00ff", stop],
                                            stream=True, **HOT, extra_body={"ignore_eos": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == cut
    # Chat, streamed.
    first_chat = chat(tiny_server, "x", max_tokens=30, **HOT, extra_body={"ignore_eos": True}).choices[0].message.content
    s = ascii_piece(first_chat, 1)
    if s:
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           chat(tiny_server, "x", max_tokens=30, stop=s, stream=True, **HOT,
                                extra_body={"ignore_eos": True}) if c.choices)
        assert streamed == first_chat[:first_chat.index(s)]


def test_seeds(tiny_server):
    a = chat(tiny_server, "seed", max_tokens=24, temperature=1.0, seed=7).choices[0].message.content
    b = chat(tiny_server, "seed", max_tokens=24, temperature=1.0, seed=7).choices[0].message.content
    assert a == b
    hot = [chat(tiny_server, "seed", max_tokens=24, temperature=10.0, seed=s).choices[0].message.content
           for s in (1, 2, 3)]
    assert len(set(hot)) > 1, hot
    # Same seed while other requests run at the same time.
    alone = chat(tiny_server, "seed", max_tokens=24, temperature=10.0, seed=99).choices[0].message.content
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(chat, tiny_server, f"other {i}", max_tokens=24, temperature=10.0)
                   for i in range(6)]
        mine = [pool.submit(chat, tiny_server, "seed", max_tokens=24, temperature=10.0, seed=99)
                for _ in range(2)]
        for f in futures:
            f.result(timeout=60)
        assert [m.result(timeout=60).choices[0].message.content for m in mine] == [alone, alone]


def test_sixteen_concurrent_streams(tiny_server):
    def run(i):
        chunks = list(chat(tiny_server, f"stream {i}", max_tokens=32, stream=True, temperature=0.8,
                           stream_options={"include_usage": True}, extra_body={"ignore_eos": True}))
        return chunks[-1].usage.completion_tokens, chunks[-2].choices[0].finish_reason

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(run, range(16), timeout=120))
    assert results == [(32, "length")] * 16


def test_tokenize_detokenize(tiny_server):
    text = "the cat he"
    tokens = tiny_server.post("/tokenize", json={"content": text}).json()["tokens"]
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert tiny_server.post("/detokenize", json={"tokens": tokens}).json() == {"content": text}
    special = tiny_server.post("/tokenize", json={"content": "<|im_start|>user", "add_special": False}).json()
    assert len(special["tokens"]) < len("<|im_start|>user")  # control-token text is parsed


def test_sampling_parameters_accepted(tiny_server):
    r = chat(tiny_server, max_tokens=4, temperature=0.7, top_p=0.9, seed=3, presence_penalty=0.5,
             frequency_penalty=0.5, stop=["zz"], user="u1",
             extra_body={"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1, "ignore_eos": True})
    assert r.usage.completion_tokens == 4
    r = chat(tiny_server, max_completion_tokens=3, extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 3


def test_session_id_in_access_log(tiny_server):
    tiny_server.client(default_headers={"X-Session-Id": "conv-42"}).chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    chat(tiny_server, max_tokens=2, user="user-7")
    log = tiny_server.log_text()
    assert "POST /v1/chat/completions 200 session=conv-42 prompt=" in log
    assert "session=user-7" in log


def test_metrics(tiny_server):
    chat(tiny_server, max_tokens=2)
    m = tiny_server.metrics()
    assert any(k.startswith("parley_kv_pages_total{") for k in m)
    assert any(k.startswith("parley_kv_pages_used{") for k in m)
    assert "parley_requests_waiting" in m and "parley_requests_running" in m
    assert m['parley_http_requests_total{route="/v1/chat/completions",code="200"}'] >= 1
    text = tiny_server.get("/metrics").text
    assert "# TYPE parley_time_to_first_token_seconds histogram" in text
    assert json.dumps(m)  # every sample parsed as a number


def test_tiny_gemma_template_and_two_kv_groups(tiny_gemma_model, start_server):
    s = start_server(tiny_gemma_model, "-c", "256", "-t", "1")
    client = s.client()
    r = client.chat.completions.create(model="tiny-gemma3", max_tokens=40, temperature=0,
                                       messages=[{"role": "system", "content": "be nice"},
                                                 {"role": "user", "content": "hi"}],
                                       extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 40
    # The Gemma template needs alternating turns: a client error, not a server one.
    bad = s.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "a"},
                                                            {"role": "user", "content": "b"}]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"
    windows = sorted(k for k in s.metrics() if k.startswith("parley_kv_pages_total"))
    assert windows == ['parley_kv_pages_total{group="0",window="32"}',
                       'parley_kv_pages_total{group="1",window="0"}'], windows
