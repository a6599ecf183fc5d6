"""The README's first hour: `parley serve` with no model and no numerics flags serves
SmolLM2-135M-Instruct on the fast path, and its examples get sensible chat replies
(skipped when the model file is missing)."""
import os

import pytest

from conftest import ROOT, Server

SMOL = os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf")
pytestmark = [pytest.mark.real_model,
              pytest.mark.skipif(not os.path.exists(SMOL), reason=f"{SMOL} not found: run scripts/fetch_models.py")]


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("default") / "server.log"
    s = Server(None, ["-c", "2048"], str(log))
    yield s
    assert s.stop() == 0, s.log_text()[-2000:]


def test_the_default_model_is_the_chat_model_on_the_fast_path(default_server):
    log = default_server.log_text()
    assert "SmolLM2-135M-Instruct.Q4_1" in log, log
    assert "numerics: fast path" in log, log
    assert "fallback" not in log.lower(), log  # SmolLM2 carries its own chat template
    models = default_server.client().models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1"]


def test_the_readme_examples_get_sensible_replies(default_server):
    client = default_server.client()
    r = client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", temperature=0, max_tokens=16,
                                       messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in r.choices[0].message.content, r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"
    r = client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", max_tokens=48, seed=1,
                                       messages=[{"role": "user", "content": "Hello!"}])
    text = r.choices[0].message.content
    assert text.strip() and "<|im_" not in text, text
