"""The prefix cache over HTTP: a conversation's next turn resumes from the KV its earlier
turns left, reports the resumed tokens as usage.prompt_tokens_details.cached_tokens, and
answers exactly what a server without the cache answers."""
import time

import requests


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


def test_pages_spilled_to_the_disk_tier_come_back_and_answer_the_same(tiny_gemma_model, start_server, tmp_path):
    # A 1 MiB pool holds a few of these conversations; with no host tier, evicted pages go to
    # the disk tier, and the second turns restore them from there.
    disk_dir = tmp_path / "kv-disk"
    args = ["-c", "256", "-t", "1", "--model-name", "tiny", "--kv-cache-mb", "1"]
    cached = start_server(tiny_gemma_model, *args, "--disk-cache-dir", str(disk_dir), "--disk-cache-mb", "16")
    plain = start_server(tiny_gemma_model, *args, "--no-prefix-cache")

    def play(client):
        convs = [[{"role": "system", "content": f"Character {i}: " + "a calm and careful guide. " * 6}]
                 for i in range(16)]
        replies = []
        for turn in range(2):
            for c in convs:
                c.append({"role": "user", "content": f"Turn {turn}: what next?"})
                r = client.chat.completions.create(model="tiny", messages=c, max_tokens=6, temperature=0,
                                                   extra_body={"ignore_eos": True})
                c.append({"role": "assistant", "content": r.choices[0].message.content})
                replies.append((r.choices[0].message.content, r.usage))
        return replies

    with_disk = play(cached.client())
    without = play(plain.client())
    assert [t for t, _ in with_disk] == [t for t, _ in without]
    m = cached.metrics()
    assert m["parley_prefix_cache_disk_written_pages_total"] > 0, m
    assert m["parley_prefix_cache_disk_restored_pages_total"] > 0, m
    assert m['parley_prompt_tokens_by_source_total{source="disk"}'] > 0, m
    assert m["parley_prefix_cache_disk_errors_total"] == 0
    assert m["parley_prefix_cache_disk_bytes"] > 0
    folders = list(disk_dir.iterdir())
    assert len(folders) == 1 and any(folders[0].iterdir())  # this server's folder, with pages in it
    cached.stop()
    assert not any(disk_dir.iterdir())  # removed at exit


def test_check_integrity_runs_through_turns_hang_ups_and_shutdown(tiny_gemma_model, start_server, tmp_path):
    """--check-integrity (the soak's): checks pass after every step, after a stream its
    client hung up on was reaped, and at shutdown (the server then exits 0); pages spilled
    to the host and disk tiers included. Without the flag there is no such metric."""
    s = start_server(tiny_gemma_model, "-c", "2048", "-t", "1", "--model-name", "tiny", "--check-integrity",
                     "--kv-cache-mb", "1", "--host-cache-mb", "1", "--disk-cache-dir", str(tmp_path / "disk"),
                     "--disk-cache-mb", "4")
    assert "integrity checks: after every step" in s.log_text()
    assert s.metrics()["parley_kv_integrity_checks_total"] == 0
    history_turns(s.client(), "tiny", turns=3)
    after_turns = s.metrics()["parley_kv_integrity_checks_total"]
    assert after_turns > 0
    # A stream whose client hangs up after its first chunks: cancelled, reaped, checked.
    with requests.post(s.url + "/v1/chat/completions", stream=True, timeout=30,
                       json={"messages": [{"role": "user", "content": "go on"}], "max_tokens": 1500,
                             "ignore_eos": True, "stream": True}) as r:
        assert r.status_code == 200
        next(r.iter_lines())
    deadline = time.time() + 30
    while time.time() < deadline and s.metrics().get('parley_requests_total{outcome="cancelled"}', 0) < 1:
        time.sleep(0.05)
    m = s.metrics()
    assert m.get('parley_requests_total{outcome="cancelled"}', 0) == 1, m
    assert m["parley_kv_integrity_checks_total"] > after_turns
    plain = start_server(tiny_gemma_model, "-c", "512", "-t", "1")
    assert not any(k.startswith("parley_kv_integrity_checks_total") for k in plain.metrics())
    # start_server's teardown asserts both exit 0 on SIGTERM: the check at shutdown passed.
