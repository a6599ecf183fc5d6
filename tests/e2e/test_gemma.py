"""A smaller set on the real Gemma 3 270M file (skipped when it is missing): the chat
template and real tokenizer end to end, greedy determinism, streaming, stop strings,
seeds and prompt scoring."""
import os

import pytest

from conftest import GEMMA_MODEL, Server

pytestmark = [pytest.mark.real_model,
              pytest.mark.skipif(not os.path.exists(GEMMA_MODEL), reason=f"{GEMMA_MODEL} not found")]

MSGS = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    log = tmp_path_factory.mktemp("gemma") / "server.log"
    s = Server(GEMMA_MODEL, ["-c", "1024", "--model-name", "gemma"], str(log))
    yield s
    assert s.stop() == 0, s.log_text()[-2000:]


def test_chat_greedy_and_stream(gemma):
    client = gemma.client()
    a = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=24, temperature=0)
    b = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=24, temperature=0)
    text = a.choices[0].message.content
    assert text and text == b.choices[0].message.content
    assert "<start_of_turn>" not in text and "<end_of_turn>" not in text
    chunks = list(client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=24, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage.completion_tokens == a.usage.completion_tokens
    # The template renders the turn markers as single control tokens.
    assert a.usage.prompt_tokens < 20


def test_stop_string_and_seed(gemma):
    client = gemma.client()
    first = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=24,
                                           temperature=0).choices[0].message.content
    words = first.split()
    assert len(words) >= 3, first
    stop = words[2]
    r = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=24, temperature=0, stop=[stop])
    assert stop not in r.choices[0].message.content
    assert r.choices[0].message.content == first[:first.index(stop)]
    assert r.choices[0].finish_reason == "stop"
    s1 = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=16, temperature=1.0, seed=5)
    s2 = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=16, temperature=1.0, seed=5)
    assert s1.choices[0].message.content == s2.choices[0].message.content


def test_prompt_scoring(gemma):
    client = gemma.client()
    text = "The capital of France is Paris"
    ids = gemma.post("/tokenize", json={"content": text, "add_special": True}).json()["tokens"]
    assert gemma.post("/detokenize", json={"tokens": ids[1:]}).json()["content"] == text
    r = client.completions.create(model="gemma", prompt=ids, max_tokens=0, echo=True, logprobs=1)
    lp = r.choices[0].logprobs
    assert len(lp.token_logprobs) == len(ids)
    assert lp.token_logprobs[0] is None
    # " Paris" after "The capital of France is" is likely for any sensible model.
    assert lp.token_logprobs[-1] > -3.0, lp.token_logprobs
    prefix = len(gemma.post("/tokenize", json={"content": "The capital of France is",
                                               "add_special": True}).json()["tokens"])
    unlikely = client.completions.create(model="gemma", prompt=text.replace("Paris", "banana"), max_tokens=0,
                                         echo=True, logprobs=1)
    assert sum(unlikely.choices[0].logprobs.token_logprobs[prefix:]) < sum(lp.token_logprobs[prefix:])
    # A string prompt gets BOS, so it scores the same tokens.
    s = client.completions.create(model="gemma", prompt=text, max_tokens=0, echo=True, logprobs=1)
    assert s.choices[0].logprobs.token_logprobs[1:] == pytest.approx(lp.token_logprobs[1:], abs=1e-3)
    assert s.choices[0].text == text


def test_n_choices(gemma):
    """n=3 on the real model: the prompt computed once and forked; choice j draws as a lone
    request seeded 5 + j."""
    client = gemma.client()
    r = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=16, temperature=1.0, seed=5, n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert len({c.message.content for c in r.choices}) > 1
    for j in range(3):
        alone = client.chat.completions.create(model="gemma", messages=MSGS, max_tokens=16, temperature=1.0,
                                               seed=5 + j)
        assert alone.choices[0].message.content == r.choices[j].message.content, j
    assert r.usage.prompt_tokens == alone.usage.prompt_tokens
