"""The prefix cache over HTTP: a conversation's next turn resumes from the KV its earlier
turns left, reports the resumed tokens as usage.prompt_tokens_details.cached_tokens, and
answers exactly what a server without the cache answers."""


def history_turns(client, model, turns=3, max_tokens=8):
    """Plays a greedy conversation; returns each turn's (reply text, usage)."""
    messages = [{"role": "system", "content": "You are a patient tutor who explains things step by step. " * 4}]
    out = []
    for t in range(turns):
        messages.append({"role": "user", "content": f"Question number {t}: tell me about the number {t * 7}."})
        r = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, temperature=0,
                                           extra_body={"ignore_eos": True})
        reply = r.choices[0].message.content
        out.append((reply, r.usage))
        messages.append({"role": "assistant", "content": reply})
    return out


def test_next_turns_hit_the_cache_and_answer_the_same(tiny_model, start_server):
    cached = start_server(tiny_model, "-c", "2048", "-t", "1", "--model-name", "tiny")
    plain = start_server(tiny_model, "-c", "2048", "-t", "1", "--model-name", "tiny", "--no-prefix-cache")
    with_cache = history_turns(cached.client(), "tiny")
    without = history_turns(plain.client(), "tiny")
    assert [r for r, _ in with_cache] == [r for r, _ in without]
    assert with_cache[0][1].prompt_tokens_details.cached_tokens == 0
    for _, usage in with_cache[1:]:
        # Most of the history comes from the cache; at least the new message is computed.
        assert usage.prompt_tokens_details.cached_tokens >= usage.prompt_tokens // 2, usage
        assert usage.prompt_tokens_details.cached_tokens < usage.prompt_tokens
    for _, usage in without:
        assert usage.prompt_tokens_details.cached_tokens == 0
    m = cached.metrics()
    assert m['parley_prefix_cache_hits_total'] >= 2
    assert m['parley_prompt_tokens_by_source_total{source="pool"}'] == sum(
        u.prompt_tokens_details.cached_tokens for _, u in with_cache)
    assert m['parley_prefix_cache_nodes'] > 0
    assert "parley_prefix_cache_hits_total" not in plain.metrics()


def test_the_same_prompt_twice_resumes_all_but_its_last_page(tiny_server):
    client = tiny_server.client()
    prompt = "word " * 100
    first = client.completions.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0)
    second = client.completions.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0)
    assert first.choices[0].text == second.choices[0].text
    n = second.usage.prompt_tokens
    assert n - 16 <= second.usage.prompt_tokens_details.cached_tokens < n
