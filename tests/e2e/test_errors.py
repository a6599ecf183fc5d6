"""Every error status of the API, each with an OpenAI error object: 400 (malformed JSON,
missing fields, bad parameters, every count and length over its limit, JSON nested too
deep, prompt longer than the context), 401, 404 (model, route), 405, 413, 503 (queue
full). The 429 of --max-client-requests is in test_slow_client.py."""
import concurrent.futures

import openai
import pytest
import requests


def assert_error(r, status, param=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    if param is not None:
        assert err["param"] == param
    return err


CHAT = "/v1/chat/completions"
MSGS = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("body,param", [
    ({}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "messages"),
    ({"messages": MSGS, "n": 17}, "n"),
    ({"messages": MSGS, "temperature": -1}, "temperature"),
    ({"messages": MSGS, "temperature": "warm"}, "temperature"),
    ({"messages": MSGS, "top_p": 0}, "top_p"),
    ({"messages": MSGS, "max_tokens": 0}, "max_tokens"),
    ({"messages": MSGS, "max_tokens": 100000}, "max_tokens"),
    ({"messages": MSGS, "top_logprobs": 2}, "top_logprobs"),
    ({"messages": MSGS, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"messages": MSGS, "stop": 3}, "stop"),
    ({"messages": MSGS, "stream_options": {"include_usage": True}}, "stream_options"),
    ({"messages": MSGS, "presence_penalty": 3}, "presence_penalty"),
    ({"messages": MSGS, "seed": "x"}, "seed"),
    # Every count and length is bounded (docs/serving.md, "Request limits").
    ({"messages": MSGS, "n": 10 ** 9}, "n"),
    ({"messages": MSGS, "max_tokens": 2 ** 62}, "max_tokens"),
    ({"messages": MSGS, "logprobs": True, "top_logprobs": 10 ** 6}, "top_logprobs"),
    ({"messages": MSGS, "stop": ["s"] * 17}, "stop"),
    ({"messages": MSGS, "stop": "x" * 1025}, "stop"),
    ({"messages": MSGS, "logit_bias": {str(i): 1 for i in range(1025)}}, "logit_bias"),
    ({"messages": MSGS * 2049}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}] * 257}]}, "messages"),
    ({"messages": MSGS, "user": "u" * 257}, "user"),
    ({"messages": MSGS, "model": "m" * 257}, "model"),
])
def test_chat_400(tiny_server, body, param):
    err = assert_error(tiny_server.post(CHAT, json=body), 400, param)
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("body,param", [
    ({}, "prompt"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": [1, "a"]}, "prompt"),
    ({"prompt": [10 ** 6]}, "prompt"),
    ({"prompt": "x", "logprobs": 21}, "logprobs"),
    ({"prompt": "x", "logprobs": True}, "logprobs"),
    ({"prompt": "x", "best_of": 2}, "best_of"),
    ({"prompt": "x", "echo": "yes"}, "echo"),
    ({"prompt": ["x"] * 65}, "prompt"),
    ({"prompt": ["x"] * 8, "n": 16}, "n"),
    ({"prompt": "x", "logprobs": 10 ** 6}, "logprobs"),
])
def test_completions_400(tiny_server, body, param):
    assert_error(tiny_server.post("/v1/completions", json=body), 400, param)


def test_json_nested_too_deep(tiny_server):
    deep = "[" * 100 + "]" * 100
    body = '{"messages": [{"role": "user", "content": "hi"}], "metadata": ' + deep + "}"
    err = assert_error(tiny_server.post(CHAT, data=body), 400, "metadata")
    assert "deeper than 32" in err["message"]
    assert_error(tiny_server.post("/v1/completions", data="[" * (1 << 20)), 400)  # 1 MiB of brackets
    assert_error(tiny_server.post("/tokenize", data='{"content": ' + deep + "}"), 400, "content")
    assert tiny_server.get("/health").status_code == 200


def test_malformed_json_and_wrong_types(tiny_server):
    assert_error(tiny_server.post(CHAT, data="{not json", headers={"Content-Type": "application/json"}), 400)
    assert_error(tiny_server.post(CHAT, data="[1, 2]"), 400)
    assert_error(tiny_server.post(CHAT, data=""), 400)
    assert_error(tiny_server.post("/tokenize", json={"content": 3}), 400, "content")
    assert_error(tiny_server.post("/detokenize", json={"tokens": ["a"]}), 400, "tokens")


def test_prompt_longer_than_context(tiny_server):
    # The server runs with a 512-token context.
    r = tiny_server.post("/v1/completions", json={"prompt": [5] * 600, "max_tokens": 1})
    err = assert_error(r, 400)
    assert "context" in err["message"]
    with pytest.raises(openai.BadRequestError):
        tiny_server.client().chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "the " * 700}], max_tokens=1)


def test_the_client_raises_bad_request(tiny_server):
    with pytest.raises(openai.BadRequestError) as e:
        tiny_server.client().chat.completions.create(model="tiny", messages=MSGS, n=17)
    assert e.value.status_code == 400


def test_404_model_and_route(tiny_server):
    with pytest.raises(openai.NotFoundError) as e:
        tiny_server.client().chat.completions.create(model="gpt-4", messages=MSGS, max_tokens=1)
    assert e.value.code == "model_not_found"
    err = assert_error(tiny_server.post("/v1/completions", json={"model": "nope", "prompt": "x"}), 404, "model")
    assert err["code"] == "model_not_found"
    assert_error(tiny_server.get("/v1/nothing"), 404)
    assert_error(tiny_server.post("/v2/chat/completions", json={}), 404)
    assert_error(tiny_server.get("/v1/models/other"), 404)


def test_405(tiny_server):
    assert_error(tiny_server.get(CHAT), 405)
    assert_error(tiny_server.post("/health"), 405)


def test_401(tiny_model, start_server):
    s = start_server(tiny_model, "-c", "256", "-t", "1", api_key="sekret")
    assert_error(s.post(CHAT, json={"messages": MSGS, "max_tokens": 1}), 401)
    assert_error(s.post(CHAT, json={"messages": MSGS}, headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(s.get("/v1/models", headers={"Authorization": "sekret"}), 401)
    with pytest.raises(openai.AuthenticationError):
        s.client(api_key="wrong").models.list()
    ok = s.client().chat.completions.create(model="tiny-llama", messages=MSGS, max_tokens=1)
    assert ok.choices[0].message is not None
    # /health and /metrics stay open.
    assert s.get("/health").status_code == 200
    assert s.get("/metrics").status_code == 200


def test_413(tiny_model, start_server):
    s = start_server(tiny_model, "-c", "256", "-t", "1", "--max-body-mb", "1")
    big = {"messages": [{"role": "user", "content": "x" * (2 << 20)}]}
    err = assert_error(s.post(CHAT, json=big), 413)
    assert "--max-body-mb" in err["message"]
    # The connection and the server are still fine.
    assert s.get("/health").status_code == 200


def test_503_when_the_queue_is_full(slow_model, start_server):
    s = start_server(slow_model, "-c", "1024", "-t", "1", "--max-seqs", "1", "--max-queue", "1")
    body = {"messages": MSGS, "max_tokens": 150, "ignore_eos": True}

    def post(_):
        return requests.post(s.url + CHAT, json=body, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(post, range(10), timeout=180))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) >= 1
    assert codes.count(503) >= 1, codes
    assert set(codes) <= {200, 503}
    busy = next(r for r in results if r.status_code == 503)
    err = assert_error(busy, 503)
    assert "try again" in err["message"]
    assert busy.headers.get("Retry-After") == "1"  # overload: clients may retry (here or elsewhere)
    # One client made up front (making one per call is slow enough to serialize the calls),
    # and replies long enough that the first still runs when the others arrive.
    client = s.client()
    with pytest.raises(openai.InternalServerError) as e:  # the openai client's class for 5xx
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            fs = [pool.submit(client.chat.completions.create, model="slow-llama", messages=MSGS,
                              max_tokens=600, extra_body={"ignore_eos": True}) for _ in range(6)]
            for f in fs:
                f.result(timeout=120)
    assert e.value.status_code == 503
