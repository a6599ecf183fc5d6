"""The OpenAI parameters clients send, through the official `openai` client on the tiny
model: logit_bias (forcing and banning tokens, its 400s), the refused and the ignored
fields, the API without /v1, context_length_exceeded, and system_fingerprint."""
import re

import openai
import pytest

# The tiny llama model's vocabulary: 3 special tokens, 256 byte tokens, 6 merges
# (src/gguf/testing/tiny_model.cc).
TINY_VOCAB = 265
MSGS = [{"role": "user", "content": "hi"}]


def chat(client, **kwargs):
    kwargs.setdefault("max_tokens", 4)
    kwargs.setdefault("temperature", 0)
    return client.chat.completions.create(model="tiny", messages=MSGS, **kwargs)


def first_token(client, **kwargs):
    """The first generated token's bytes and its top-5 alternatives' bytes, greedy."""
    r = chat(client, max_tokens=1, logprobs=True, top_logprobs=5, **kwargs)
    entry = r.choices[0].logprobs.content[0]
    return bytes(entry.bytes), [bytes(t.bytes) for t in entry.top_logprobs]


def token_id(server, text):
    ids = server.post("/tokenize", json={"content": text}).json()["tokens"]
    assert len(ids) == 1, (text, ids)
    return ids[0]


def test_logit_bias_plus_100_forces_a_token(tiny_server):
    client = tiny_server.client()
    a = token_id(tiny_server, "a")
    bias = {str(a): 100}
    plain = chat(client, extra_body={"ignore_eos": True}).choices[0].message.content
    assert plain != "aaaa"
    r = chat(client, logit_bias=bias, logprobs=True, extra_body={"ignore_eos": True})
    assert r.choices[0].message.content == "aaaa"
    # Logprobs are those of the biased distribution: the forced token is certain.
    assert all(e.logprob > -1e-3 for e in r.choices[0].logprobs.content)
    # Sampling at a high temperature, streaming, and /v1/completions obey it too.
    hot = chat(client, logit_bias=bias, temperature=5.0, seed=3, extra_body={"ignore_eos": True})
    assert hot.choices[0].message.content == "aaaa"
    stream = chat(client, logit_bias=bias, stream=True, extra_body={"ignore_eos": True})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "aaaa"
    c = client.completions.create(model="tiny", prompt="the", max_tokens=3, temperature=0,
                                  logit_bias=bias, extra_body={"ignore_eos": True})
    assert c.choices[0].text == "aaa"


def test_logit_bias_minus_100_bans_the_greedy_token(tiny_server):
    client = tiny_server.client()
    greedy, alternatives = first_token(client)
    assert alternatives[0] == greedy

    def first_with_ban(ids):
        return first_token(client, logit_bias={str(i): -100 for i in ids})[0]

    # Which id is the greedy token? Bisect the vocabulary: banning a range changes the first
    # token exactly when the range holds it.
    lo, hi = 0, TINY_VOCAB
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if first_with_ban(range(lo, mid)) != greedy:
            hi = mid
        else:
            lo = mid
    banned = first_with_ban([lo])
    # Only that token moved: the next most likely one takes its place.
    assert banned != greedy
    assert banned == alternatives[1]
    assert first_with_ban([(lo + 1) % TINY_VOCAB]) == greedy


@pytest.mark.parametrize("bias,why", [
    ({str(TINY_VOCAB): 1}, "outside the vocabulary"),
    ({"-1": 1}, "outside the vocabulary"),
    ({"5": 101}, "[-100, 100]"),
    ({"5": -100.5}, "[-100, 100]"),
    ({"abc": 1}, "token ids"),
    ({"1.5": 1}, "token ids"),
    ({str(i): 1 for i in range(1025)}, "at most 1024"),
])
def test_logit_bias_400(tiny_server, bias, why):
    client = tiny_server.client()
    for call in (lambda: chat(client, logit_bias=bias),
                 lambda: client.completions.create(model="tiny", prompt="x", logit_bias=bias)):
        with pytest.raises(openai.BadRequestError) as e:
            call()
        assert e.value.param == "logit_bias"
        assert why in e.value.message, e.value.message


def test_logit_bias_edges_accepted(tiny_server):
    client = tiny_server.client()
    ok = {str(TINY_VOCAB - 1): -100, "0": 100.0, "7": 0.5}
    assert chat(client, logit_bias=ok, max_tokens=1).usage.completion_tokens == 1


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize("kwargs,param", [
    (dict(tools=[TOOL]), "tools"),
    (dict(tool_choice="required"), "tool_choice"),
    (dict(functions=[{"name": "f"}]), "functions"),
    (dict(function_call={"name": "f"}), "function_call"),
    (dict(response_format={"type": "json_object"}), "response_format"),
    (dict(audio={"voice": "alloy", "format": "wav"}), "audio"),
    (dict(modalities=["text", "audio"]), "modalities"),
    (dict(web_search_options={}), "web_search_options"),
    (dict(reasoning_effort="high"), "reasoning_effort"),
    (dict(extra_body={"guided_json": {"type": "object"}}), "guided_json"),
    (dict(extra_body={"min_tokens": 3}), "min_tokens"),
    (dict(extra_body={"typical_p": 0.5}), "typical_p"),
])
def test_refused_chat_parameters(tiny_server, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        chat(tiny_server.client(), **kwargs)
    assert e.value.param == param
    assert e.value.type == "invalid_request_error"
    assert f"'{param}'" in e.value.message


@pytest.mark.parametrize("kwargs,param", [
    (dict(suffix="the end"), "suffix"),
    (dict(best_of=3), "best_of"),
    (dict(extra_body={"use_beam_search": True}), "use_beam_search"),
])
def test_refused_completions_parameters(tiny_server, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        tiny_server.client().completions.create(model="tiny", prompt="x", max_tokens=2, **kwargs)
    assert e.value.param == param


def test_harmless_and_unknown_fields_are_accepted(tiny_server):
    client = tiny_server.client()
    base = chat(client).choices[0].message.content
    r = chat(client, tools=[], tool_choice="none", parallel_tool_calls=False,
             response_format={"type": "text"}, modalities=["text"], user="u", metadata={"k": "v"},
             store=False, service_tier="auto", prompt_cache_key="key", safety_identifier="s",
             extra_body={"some_future_field": {"x": 1}, "cache_prompt": True})
    assert r.choices[0].message.content == base
    c = client.completions.create(model="tiny", prompt="x", max_tokens=2, best_of=1, suffix="",
                                  extra_body={"some_future_field": 1})
    assert c.usage.completion_tokens >= 1


def test_api_without_v1(tiny_server):
    bare = openai.OpenAI(base_url=tiny_server.url, api_key="unused", max_retries=0, timeout=60)
    v1 = tiny_server.client()
    assert [m.id for m in bare.models.list().data] == ["tiny"]
    assert bare.models.retrieve("tiny").id == "tiny"
    assert chat(bare).choices[0].message.content == chat(v1).choices[0].message.content
    stream = chat(bare, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        chat(v1).choices[0].message.content
    c = bare.completions.create(model="tiny", prompt="the", max_tokens=3, temperature=0)
    assert c.choices[0].text == v1.completions.create(
        model="tiny", prompt="the", max_tokens=3, temperature=0).choices[0].text
    # Errors keep their shape there too.
    with pytest.raises(openai.BadRequestError) as e:
        chat(bare, logit_bias={"abc": 1})
    assert e.value.param == "logit_bias"
    assert tiny_server.get("/chat/completions").status_code == 405


def test_context_length_exceeded(tiny_server):
    # The server runs with a 512-token context.
    client = tiny_server.client()
    long_text = "the " * 700
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as e:
            r = client.chat.completions.create(model="tiny", max_tokens=1, stream=stream,
                                               messages=[{"role": "user", "content": long_text}])
            list(r) if stream else r
        assert e.value.code == "context_length_exceeded"
        assert e.value.param == "messages"
        assert e.value.type == "invalid_request_error"
        with pytest.raises(openai.BadRequestError) as e:
            r = client.completions.create(model="tiny", prompt=[5] * 600, max_tokens=1,
                                          stream=stream)
            list(r) if stream else r
        assert e.value.code == "context_length_exceeded"
        assert e.value.param == "prompt"
    # One prompt of several too long: the whole request fails the same way.
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt=[[5, 6], [5] * 600], max_tokens=1)
    assert e.value.code == "context_length_exceeded"
    # Other prompt errors keep a null code.
    r = tiny_server.post("/v1/completions", json={"prompt": [10 ** 6]})
    assert r.status_code == 400 and r.json()["error"]["code"] is None


FINGERPRINT = re.compile(r"^parley-([0-9a-f]{4,}|unknown)-(gguf|int8|w8a8|packed)-(f32|q8)-(f32|f16|int8)$")


def test_system_fingerprint_everywhere(tiny_server, tiny_model, start_server):
    client = tiny_server.client()
    fp = chat(client).system_fingerprint
    assert FINGERPRINT.match(fp), fp
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert chunks and all(c.system_fingerprint == fp for c in chunks)
    c = client.completions.create(model="tiny", prompt="x", max_tokens=2)
    assert c.system_fingerprint == fp
    chunks = list(client.completions.create(model="tiny", prompt=["x", "y"], max_tokens=2,
                                            stream=True))
    assert chunks and all(c.system_fingerprint == fp for c in chunks)
    # Another configuration, another fingerprint.
    other = start_server(tiny_model, "-c", "256", "-t", "1", "--model-name", "tiny",
                         "--kv-dtype", "f16")
    fp2 = chat(other.client()).system_fingerprint
    assert FINGERPRINT.match(fp2) and fp2.endswith("-f16") and fp2 != fp, (fp, fp2)
