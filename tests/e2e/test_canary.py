"""The quality canary (--canary-rate) seen from outside: its parley_canary_* samples in /metrics
read zero when the server runs the exact path, and not when it runs the fast path (the
default) or int8 weights alone; a rate outside [0, 1] stops the server at start-up; rate 0,
or --exact without a rate, means no canary at all."""
import subprocess
import time

import pytest

from conftest import PARLEY_BIN


def _chat(server, i, temperature):
    # The tiny model's greedy tokens have a logprob of ~0 on every path (it mostly repeats a
    # token with a logit far above the rest); a high temperature picks tokens that show more.
    return server.client().chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": f"hi the tea {i} " * (i + 1)}],
        max_tokens=10, temperature=temperature, seed=i)


def _wait_for_canary(server, requests, timeout_s=60):
    deadline = time.time() + timeout_s
    m = server.metrics()
    while m.get("parley_canary_requests_total", 0) < requests and time.time() < deadline:
        time.sleep(0.05)
        m = server.metrics()
    assert m.get("parley_canary_requests_total") == requests, m
    return m


def test_canary_reads_zero_on_the_exact_path(tiny_gemma_model, start_server):
    server = start_server(tiny_gemma_model, "-c", "512", "-t", "1", "--model-name", "tiny", "--exact",
                          "--canary-rate", "1")
    assert "quality canary: 100% of requests" in server.log_text()
    for i in range(4):
        _chat(server, i, 0.0 if i == 0 else 30.0)
    m = _wait_for_canary(server, 4)
    assert m["parley_canary_tokens_total"] == m["parley_generation_tokens_total"] > 0
    assert m["parley_canary_logprob_abs_delta_mean"] < 1e-4
    assert m["parley_canary_logprob_abs_delta_p99"] < 1e-4
    assert m["parley_canary_top1_disagreement_ratio"] == 0
    assert m["parley_canary_pending"] == 0


@pytest.mark.parametrize("numerics", [[], ["--weights", "int8", "--kv-dtype", "f32"]])
def test_canary_sees_the_fast_path(tiny_gemma_model, start_server, numerics):
    server = start_server(tiny_gemma_model, "-c", "512", "-t", "1", "--model-name", "tiny", *numerics,
                          "--canary-rate", "1")
    for i in range(4):
        _chat(server, i, 30.0)
    m = _wait_for_canary(server, 4)
    assert m["parley_canary_tokens_total"] == m["parley_generation_tokens_total"]
    assert m["parley_canary_logprob_abs_delta_mean"] > 1e-4
    assert m["parley_canary_logprob_abs_delta_count"] == m["parley_canary_tokens_total"]


def test_canary_default_rate(tiny_gemma_model, start_server):
    fast = start_server(tiny_gemma_model, "-c", "512", "-t", "1", "--model-name", "tiny")
    assert "quality canary: 2% of requests" in fast.log_text()
    assert fast.metrics()["parley_canary_rate"] == 0.02
    exact = start_server(tiny_gemma_model, "-c", "512", "-t", "1", "--model-name", "tiny", "--exact")
    assert "quality canary" not in exact.log_text()
    assert not any(k.startswith("parley_canary") for k in exact.metrics())


def test_canary_off_at_rate_zero(tiny_gemma_model, start_server):
    server = start_server(tiny_gemma_model, "-c", "512", "-t", "1", "--model-name", "tiny", "--canary-rate", "0")
    _chat(server, 1, 0.0)
    assert not any(k.startswith("parley_canary") for k in server.metrics())
    assert "quality canary" not in server.log_text()


def test_canary_rate_out_of_range_fails_at_start_up(tiny_gemma_model):
    for rate in ["1.5", "-0.1", "abc"]:
        p = subprocess.run([PARLEY_BIN, "serve", "-m", tiny_gemma_model, "--port", "0", "--canary-rate", rate],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0, rate
        assert "--canary-rate" in p.stderr + p.stdout, (rate, p.stderr)
