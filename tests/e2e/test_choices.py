"""OpenAI's `n` (several choices of one prompt) on a tiny random model: every choice with its
index in whole and streamed answers, usage counting the prompt once, the prompt computed
once for all choices, seeded reproducibility (choice j samples as a lone request seeded
seed + j), prompts x n in /v1/completions, bounds, and a client that goes away."""
import pytest

from test_lifecycle import open_raw_stream, read_events, wait_for

HOT = dict(temperature=10.0, seed=4321)  # varied but reproducible text
MSGS = [{"role": "user", "content": "tell me"}]


def chat(server, **kwargs):
    kwargs.setdefault("max_tokens", 10)
    return server.client().chat.completions.create(model="tiny", messages=MSGS, **kwargs)


def stream_choices(chunks, n):
    """Texts and finish reasons per index of a streamed answer; checks the chunk order."""
    texts, finishes = [""] * n, [None] * n
    for c in chunks:
        for choice in c.choices:
            assert finishes[choice.index] is None, "a chunk after the choice's finish chunk"
            delta = getattr(choice, "delta", None)  # chat chunks; completion chunks have text
            texts[choice.index] += (delta.content if delta is not None else choice.text) or ""
            finishes[choice.index] = choice.finish_reason
    return texts, finishes


def test_chat_n_whole(tiny_server):
    r = chat(tiny_server, n=3, logprobs=True, extra_body={"ignore_eos": True}, **HOT)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" and c.message.role == "assistant" for c in r.choices)
    assert all(len(c.logprobs.content) == 10 for c in r.choices)
    assert len({c.message.content for c in r.choices}) > 1, "every choice wrote the same text"
    one = chat(tiny_server, n=1, extra_body={"ignore_eos": True}, **HOT)
    assert r.usage.prompt_tokens == one.usage.prompt_tokens  # the prompt counted once
    assert r.usage.completion_tokens == 30
    assert r.usage.total_tokens == r.usage.prompt_tokens + 30
    # Greedy choices are all the same.
    g = chat(tiny_server, n=4, temperature=0)
    assert len(g.choices) == 4 and len({c.message.content for c in g.choices}) == 1


def test_chat_n_seeded_reproduces_and_choice_j_is_seed_plus_j(tiny_server):
    a = chat(tiny_server, n=3, **HOT)
    b = chat(tiny_server, n=3, **HOT)
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    for j in range(3):
        alone = chat(tiny_server, n=1, temperature=HOT["temperature"], seed=HOT["seed"] + j)
        assert alone.choices[0].message.content == a.choices[j].message.content, j
        assert alone.choices[0].finish_reason == a.choices[j].finish_reason


def test_chat_n_streaming_matches_whole(tiny_server):
    whole = chat(tiny_server, n=3, max_tokens=12, **HOT)
    chunks = list(chat(tiny_server, n=3, max_tokens=12, stream=True, stream_options={"include_usage": True},
                       **HOT))
    # A role chunk per choice first; the usage chunk last, after every choice finished.
    assert [(c.choices[0].index, c.choices[0].delta.role) for c in chunks[:3]] == [(j, "assistant") for j in range(3)]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    texts, finishes = stream_choices(chunks[:-1], 3)
    assert texts == [c.message.content for c in whole.choices]
    assert finishes == [c.finish_reason for c in whole.choices]


def test_prompt_computed_once_for_all_choices(tiny_server):
    def batch_tokens():
        """Tokens computed so far, less the drafted tokens that verification rejected:
        speculative decoding drafts by its measured token price, so a step may verify
        draft tokens that produce no output (each choice's kept drafts replace steps)."""
        m = tiny_server.metrics()
        def total(name):
            return sum(v for k, v in m.items() if k == name or k.startswith(name + "{"))
        return (m["parley_batch_tokens_sum"] - total("parley_spec_draft_tokens_total")
                + total("parley_spec_accepted_tokens_total"))

    before = batch_tokens()
    content = "a prompt no other test sends, long enough for several pages " * 3
    r = tiny_server.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": content}], n=4, max_tokens=6,
        extra_body={"ignore_eos": True}, **HOT)
    computed = r.usage.prompt_tokens - r.usage.prompt_tokens_details.cached_tokens
    assert computed > 16
    # The prompt's uncached tokens once, then 5 decoded tokens per choice (the last token is
    # never computed).
    assert batch_tokens() - before == computed + 4 * 5


def test_completions_prompts_times_n(tiny_server):
    client = tiny_server.client()
    prompts = ["the", "an old"]
    r = client.completions.create(model="tiny", prompt=prompts, n=2, max_tokens=6, **HOT)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    # Choice i * n + j is prompt i's choice j.
    usage = 0
    for i, p in enumerate(prompts):
        alone = client.completions.create(model="tiny", prompt=p, n=2, max_tokens=6, **HOT)
        assert [c.text for c in alone.choices] == [c.text for c in r.choices[2 * i:2 * i + 2]]
        usage += alone.usage.prompt_tokens
    assert r.usage.prompt_tokens == usage
    chunks = list(client.completions.create(model="tiny", prompt=prompts, n=2, max_tokens=6, stream=True,
                                            stream_options={"include_usage": True}, **HOT))
    texts, finishes = stream_choices(chunks[:-1], 4)
    assert texts == [c.text for c in r.choices]
    assert finishes == [c.finish_reason for c in r.choices]
    assert chunks[-1].usage.completion_tokens == r.usage.completion_tokens
    # Scoring with n: every choice echoes the prompt with its logprobs.
    s = client.completions.create(model="tiny", prompt="the cat", n=2, max_tokens=0, echo=True, logprobs=1)
    assert [c.text for c in s.choices] == ["the cat", "the cat"]
    assert s.choices[0].logprobs.token_logprobs == s.choices[1].logprobs.token_logprobs


@pytest.mark.parametrize("path,body", [
    ("/v1/chat/completions", {"messages": MSGS, "n": 17}),
    ("/v1/chat/completions", {"messages": MSGS, "n": 0}),
    ("/v1/completions", {"prompt": "x", "n": 17}),
    ("/v1/completions", {"prompt": ["a", "b", "c", "d", "e"], "n": 16}),  # 80 choices > 64
])
def test_n_out_of_range_is_a_400_naming_n(tiny_server, path, body):
    r = tiny_server.post(path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "n"


def test_client_gone_cancels_every_choice(slow_model, start_server):
    s = start_server(slow_model, "-c", "2048", "-t", "1")
    before = s.kv_pages_used()
    body = {"messages": MSGS, "max_tokens": 2000, "ignore_eos": True, "stream": True, "n": 3,
            "temperature": 1.0}
    sock = open_raw_stream(s.url, body)
    got = read_events(sock, 8)
    assert b"200 OK" in got and got.count(b"data: ") >= 8
    assert wait_for(lambda: s.metrics().get("parley_requests_running", 0) == 3)
    sock.close()
    assert wait_for(lambda: s.kv_pages_used() == before), (s.kv_pages_used(), before)
    m = s.metrics()
    assert m.get('parley_requests_total{outcome="cancelled"}', 0) == 3
    assert m.get("parley_requests_running", 0) == 0


def test_choices_fork_window_groups_exactly(tiny_gemma_model, start_server):
    """Gemma 3 layout (window 32 and global KV groups): a prompt longer than the window, forked
    mid-page; each choice reproduces as a lone request seeded seed + j, bit for bit."""
    s = start_server(tiny_gemma_model, "-c", "512", "-t", "1", "--model-name", "tiny", "--page-size", "16")
    client = s.client()
    prompt = "the quick brown fox jumps over the lazy dog " * 6
    # No top-k / min-p cut (the server's defaults): the tiny model's distribution is very peaked.
    kw = dict(model="tiny", prompt=prompt, max_tokens=40, temperature=10.0, seed=99, logprobs=1,
              extra_body={"ignore_eos": True, "top_k": -1, "min_p": 0})
    r = client.completions.create(n=3, **kw)
    assert r.usage.prompt_tokens > 40 and r.usage.prompt_tokens % 16 != 0  # past the window, mid-page
    assert r.usage.completion_tokens == 120
    assert len({c.text for c in r.choices}) > 1
    for j in range(3):
        alone = client.completions.create(n=1, **dict(kw, seed=99 + j))
        assert alone.choices[0].text == r.choices[j].text, j
        assert alone.choices[0].logprobs.token_logprobs == r.choices[j].logprobs.token_logprobs, j
