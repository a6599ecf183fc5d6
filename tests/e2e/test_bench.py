"""`parley bench` end to end: the load generator against real `parley serve` processes
(tiny random models), checking what reaches the server and what the report says."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import PARLEY_BIN, ROOT, Server

pytestmark = pytest.mark.bench

BENCH_TIMEOUT_S = 180
SMALL = ["--persona-tokens", "30", "--user-tokens", "8", "--reply-tokens", "6", "--think-time", "0", "-q"]


def bench(*args, timeout=BENCH_TIMEOUT_S):
    return subprocess.run([PARLEY_BIN, "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def read_report(out_dir):
    with open(os.path.join(out_dir, "report.json")) as f:
        return json.load(f)


def test_bench_replays_conversations_and_reports(tiny_model, start_server, tmp_path):
    s = start_server(tiny_model, "-c", "2048", "-t", "1", "--model-name", "tiny")
    out = tmp_path / "out"
    r = bench("--url", s.url, "--name", "tiny", "-n", "3", "--turns", "3", "--users", "2", "--ignore-eos",
              "-o", str(out), *SMALL)
    assert r.returncode == 0, r.stderr
    rep = read_report(out)
    ep = rep["endpoints"][0]
    assert (ep["requests"], ep["ok"], ep["failed"], ep["not_sent"]) == (9, 9, 0, 0), ep
    assert ep["model"] == "tiny"
    assert ep["completion_tokens"] == 9 * 6  # ignore_eos: every reply fills its budget
    turns = ep["by_turn"]
    assert [t["ttft_s"]["count"] for t in turns] == [3, 3, 3]
    # Each turn resends the history, so prompts grow turn by turn.
    assert turns[0]["mean_prompt_tokens"] < turns[1]["mean_prompt_tokens"] < turns[2]["mean_prompt_tokens"]
    assert ep["cached_share"] is not None  # Parley reports usage.prompt_tokens_details.cached_tokens
    assert ep["ttft_s"]["p50"] > 0 and ep["e2e_s"]["p99"] >= ep["ttft_s"]["p99"]
    assert rep["workload"]["conversations"] == 3 and rep["workload"]["turns"] == 9
    assert "TTFT" in (out / "summary.txt").read_text()
    rows = [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and all(r["ok"] and r["endpoint"] == "tiny" for r in rows), rows
    assert sorted((r["conversation"], r["turn"]) for r in rows) == [(c, t) for c in range(3) for t in (1, 2, 3)]
    for png in ("ttft_by_turn.png", "latency_cdf.png", "throughput.png"):
        with open(out / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
    # Every request carried its conversation's session id.
    log = s.log_text()
    for c in range(3):
        assert log.count(f"session=bench-1-{c} ") == 3, log[-3000:]


def test_bench_is_deterministic_for_a_seed(tiny_model, start_server, tmp_path):
    s = start_server(tiny_model, "-c", "2048", "-t", "1")
    prompts = []
    for run in range(2):
        out = tmp_path / f"run{run}"
        r = bench("--url", s.url, "-n", "2", "--turns", "2", "--users", "1", "--temperature", "0", "--ignore-eos",
                  "--no-plots", "-o", str(out), *SMALL)
        assert r.returncode == 0, r.stderr
        prompts.append([t["mean_prompt_tokens"] for t in read_report(out)["endpoints"][0]["by_turn"]])
    assert prompts[0] == prompts[1]


def test_bench_compare_counts_errors_without_failing(tiny_model, start_server, tmp_path):
    good = start_server(tiny_model, "-c", "2048", "-t", "1")
    # Every request asks max_tokens 6, above this server's limit: each first turn gets a 400.
    strict = start_server(tiny_model, "-c", "2048", "-t", "1", "--max-tokens-limit", "4")
    out = tmp_path / "cmp"
    r = subprocess.run([PARLEY_BIN, "bench", "compare", "--url-a", good.url, "--url-b", strict.url, "--name-a", "good",
                        "--name-b", "strict", "-n", "2", "--turns", "2", "--users", "2", "--no-plots", "-o", str(out),
                        *SMALL], cwd=ROOT, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    rep = read_report(out)
    a, b = rep["endpoints"]
    assert (a["name"], a["ok"], a["failed"]) == ("good", 4, 0)
    assert (b["name"], b["ok"], b["failed"], b["not_sent"]) == ("strict", 0, 2, 2)
    assert b["errors"] == {"http_400": 2}
    assert rep["ratios"]["failed requests"]["strict"] == 2
    assert "good/strict" in r.stdout


def test_bench_survives_a_server_that_dies_mid_stream(slow_model, tmp_path):
    s = Server(slow_model, ["-c", "2048", "-t", "1"], str(tmp_path / "dying.log"))
    try:
        out = tmp_path / "dying"
        proc = subprocess.Popen([PARLEY_BIN, "bench", "--url", s.url, "-n", "4", "--turns", "3", "--users", "2",
                                 "--persona-tokens", "20", "--user-tokens", "5", "--reply-tokens", "1500",
                                 "--ignore-eos", "--think-time", "0", "--no-plots", "-q", "-o", str(out)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and s.metrics().get("parley_generation_tokens_total", 0) < 1 \
                and s.metrics().get("parley_requests_running", 0) < 1:
            time.sleep(0.05)
        time.sleep(0.3)  # streams are under way
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(timeout=10)
        stdout, stderr = proc.communicate(timeout=BENCH_TIMEOUT_S)
        assert proc.returncode == 0, stderr
        ep = read_report(out)["endpoints"][0]
        assert ep["failed"] >= 2, ep
        assert ep["errors"].get("stream_dropped", 0) >= 1, ep["errors"]
        assert set(ep["errors"]) <= {"stream_dropped", "connect", "transport"}, ep["errors"]
    finally:
        s.terminate()
        s.log.close()


def test_bench_refuses_remote_targets_and_bad_options():
    r = bench("--url", "http://10.1.2.3:8080", "-n", "1", "--turns", "1", timeout=30)
    assert r.returncode != 0 and "--allow-remote" in r.stderr
    r = bench("--reply-tokens", "banana", timeout=30)
    assert r.returncode != 0 and "bad distribution" in r.stderr


def test_bench_replays_a_sharegpt_dataset(tiny_model, start_server, tmp_path):
    s = start_server(tiny_model, "-c", "2048", "-t", "1")
    data = [
        {"id": "x", "conversations": [{"from": "system", "value": "You are terse."},
                                      {"from": "human", "value": "Hello there"},
                                      {"from": "gpt", "value": "Hi"},
                                      {"from": "human", "value": "How are you today?"},
                                      {"from": "gpt", "value": "Fine, thanks for asking."}]},
        [{"role": "user", "content": "One question only"}, {"role": "assistant", "content": "One answer"}],
    ]
    path = tmp_path / "chats.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "ds"
    r = bench("--url", s.url, "--dataset", str(path), "--turns", "0", "--think-time", "0", "--no-plots", "-q",
              "-o", str(out))
    assert r.returncode == 0, r.stderr
    rep = read_report(out)
    assert rep["workload"]["source"] == str(path)
    ep = rep["endpoints"][0]
    assert (ep["requests"], ep["ok"]) == (3, 3)
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    r = bench("--url", s.url, "--dataset", str(bad), "-q", timeout=30)
    assert r.returncode != 0 and "list of conversations" in r.stderr
