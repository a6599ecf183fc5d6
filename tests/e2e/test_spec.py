"""Speculative decoding through the official `openai` client (issue #17): OpenAI Predicted
Outputs (`prediction`) and drafts from the conversation are lossless — the same replies as a
server with `--spec off` — and their counts come back in usage and /metrics."""
import os

import openai
import pytest

from conftest import GEMMA_MODEL, Server

MSGS = [{"role": "system", "content": "Repeat after me, exactly."},
        {"role": "user", "content": "one two three four five six seven eight nine ten"}]


def reply(client, stream=False, model="tiny", messages=MSGS, **kwargs):
    kwargs.setdefault("max_tokens", 40)
    kwargs.setdefault("temperature", 0)
    extra = {"ignore_eos": True}
    if not stream:
        r = client.chat.completions.create(model=model, messages=messages, extra_body=extra, **kwargs)
        return r.choices[0].message.content, r.usage
    text, usage = "", None
    for chunk in client.chat.completions.create(model=model, messages=messages, extra_body=extra, stream=True,
                                                stream_options={"include_usage": True}, **kwargs):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    return text, usage


@pytest.fixture(scope="module")
def servers(tiny_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    common = ["-c", "512", "-t", "1", "--model-name", "tiny", "--no-prefix-cache"]
    off = Server(tiny_model, common + ["--spec", "off"], str(d / "off.log"))
    on = Server(tiny_model, common + ["--spec", "ngram"], str(d / "on.log"))
    yield off, on
    assert off.stop() == 0 and on.stop() == 0


@pytest.fixture(scope="module")
def gemma_servers(tmp_path_factory):
    if not os.path.exists(GEMMA_MODEL):
        pytest.skip(f"{GEMMA_MODEL} not found")
    d = tmp_path_factory.mktemp("spec_gemma")
    common = ["-c", "1024", "--model-name", "gemma", "--no-prefix-cache", "--canary-rate", "0"]
    off = Server(GEMMA_MODEL, common + ["--spec", "off"], str(d / "off.log"))
    on = Server(GEMMA_MODEL, common + ["--spec", "ngram"], str(d / "on.log"))
    yield off, on
    assert off.stop() == 0 and on.stop() == 0


# Real text (the tiny models' replies are random bytes, which do not tokenize back to the
# tokens generated): Gemma 3 270M continues a list.
LIST = [{"role": "user", "content": "Count from one to thirty in words, separated by commas."}]


@pytest.mark.real_model
def test_predicted_outputs_are_lossless_and_counted(gemma_servers):
    off, on = gemma_servers
    kw = dict(model="gemma", messages=LIST, max_tokens=60)
    want, _ = reply(off.client(), **kw)
    assert want
    # The exact reply as the prediction: it is what the model says, token after token.
    got, usage = reply(on.client(), prediction={"type": "content", "content": want}, **kw)
    assert got == want
    details = usage.completion_tokens_details
    assert details.accepted_prediction_tokens > usage.completion_tokens // 2, usage
    assert details.accepted_draft_tokens > usage.completion_tokens // 3, usage
    # A prediction with a changed middle, streamed as text parts: the same reply; some
    # drafts rejected, and realigned after the change.
    cut = len(want) // 3
    edited = want[:cut] + " purple elephants " + want[cut + 8:]
    got, usage2 = reply(on.client(), stream=True,
                        prediction={"type": "content", "content": [{"type": "text", "text": edited}]}, **kw)
    assert got == want
    assert usage2.completion_tokens_details.accepted_prediction_tokens > usage.completion_tokens // 2, usage2
    # A server that does not speculate ignores the prediction (and counts nothing).
    got, usage3 = reply(off.client(), prediction={"type": "content", "content": want}, **kw)
    assert got == want
    assert usage3.completion_tokens_details.accepted_prediction_tokens == 0


def test_history_drafts_are_lossless_with_sampling_and_logprobs(servers):
    off, on = servers
    for seed in (1, 2, 3):
        kw = dict(temperature=1.0, seed=seed, logprobs=True, top_logprobs=2, max_tokens=30)
        a = off.client().chat.completions.create(model="tiny", messages=MSGS, extra_body={"ignore_eos": True}, **kw)
        b = on.client().chat.completions.create(model="tiny", messages=MSGS, extra_body={"ignore_eos": True}, **kw)
        assert a.choices[0].message.content == b.choices[0].message.content
        la = [(t.token, t.logprob) for t in a.choices[0].logprobs.content]
        lb = [(t.token, t.logprob) for t in b.choices[0].logprobs.content]
        assert la == lb


def test_metrics_count_drafts(servers):
    _, on = servers
    # The tiny model repeats itself: drafts from its own history.
    reply(on.client(), max_tokens=60)
    m = on.metrics()
    drafted = sum(v for k, v in m.items() if k.startswith("parley_spec_draft_tokens_total"))
    accepted = sum(v for k, v in m.items() if k.startswith("parley_spec_accepted_tokens_total"))
    assert drafted > 0 and 0 <= accepted <= drafted
    assert m["parley_spec_verifications_total"] > 0
    assert m["parley_spec_tokens_per_verification"] >= 1
    assert 0 <= m["parley_spec_acceptance_rate"] <= 1
    assert "parley_spec_draft_tokens_total{source=\"prediction\"}" in m
    assert "parley_spec_token_price" in m


@pytest.mark.parametrize("prediction,needle", [
    ({"type": "text", "content": "x"}, "prediction.type"),
    ({"type": "content"}, "prediction.content"),
    ({"type": "content", "content": 5}, "prediction.content"),
    ({"type": "content", "content": [{"type": "image_url"}]}, "prediction.content"),
    ("just a string", "prediction"),
])
def test_bad_predictions_are_400s_naming_the_field(servers, prediction, needle):
    _, on = servers
    with pytest.raises(openai.BadRequestError) as e:
        reply(on.client(), prediction=prediction)
    assert e.value.body["param"] == "prediction"
    assert needle in e.value.body["message"]
