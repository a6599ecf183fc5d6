"""`parley bench sweep` end to end: a tiny two-point sweep against two `parley serve` processes
(tiny random model), checking sweep.json, the goodput under loose and impossible bounds, and
the refusals. Each sweep takes a few seconds (8 short requests per point and endpoint)."""
import json
import subprocess

import pytest

from conftest import PARLEY_BIN, ROOT

pytestmark = pytest.mark.bench

SWEEP_TIMEOUT_S = 60
SMALL = ["--turns", "2", "--persona-tokens", "30", "--user-tokens", "8", "--reply-tokens", "6", "--think-time", "0",
         "--ignore-eos", "--temperature", "0", "--pause", "0", "-q"]
POINT_FIELDS = {"load", "duration_s", "ok", "failed", "cancelled", "not_sent", "errors", "requests_per_s",
                "output_tokens_per_s", "ttft_p50_s", "ttft_p99_s", "itl_p99_s", "tpot_p99_s", "tpot_count",
                "cached_share", "met_bounds", "missed", "report"}


def sweep(*args, timeout=SWEEP_TIMEOUT_S):
    return subprocess.run([PARLEY_BIN, "bench", "sweep", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_sweep_two_endpoints_two_points(tiny_model, start_server, tmp_path):
    a = start_server(tiny_model, "-c", "2048", "-t", "1", "--model-name", "tiny")
    b = start_server(tiny_model, "-c", "2048", "-t", "1", "--model-name", "tiny")
    out = tmp_path / "loose"
    # Loose bounds: a tiny model on a busy machine still meets them at both points.
    r = sweep("--url-a", a.url, "--name-a", "first", "--url-b", b.url, "--name-b", "second", "--users", "1,2",
              "--ttft-p50-max", "30", "--tpot-p99-max", "10", "-o", str(out), *SMALL)
    assert r.returncode == 0, r.stderr
    rep = json.loads((out / "sweep.json").read_text())
    assert rep["load"] == {"kind": "users", "unit": "users", "values": [1, 2]}
    assert rep["bounds"]["ttft_p50_max_s"] == 30 and rep["bounds"]["tpot_p99_max_s"] == 10
    assert rep["options"]["turns"] == 2 and rep["tool"].startswith("parley bench sweep")
    # Conversations per point: 2 x users; seed: the user count.
    assert [(w["users"], w["conversations"], w["seed"]) for w in rep["point_workloads"]] == [(1, 2, 1), (2, 4, 2)]
    assert [e["name"] for e in rep["endpoints"]] == ["first", "second"]
    for e in rep["endpoints"]:
        assert e["model"] == "tiny"
        assert [p["load"] for p in e["points"]] == [1, 2]
        for p, users in zip(e["points"], (1, 2)):
            assert POINT_FIELDS <= set(p), set(p) ^ POINT_FIELDS
            assert (p["ok"], p["failed"], p["not_sent"]) == (4 * users, 0, 0), p
            assert p["report"]["completion_tokens"] == 4 * users * 6
            assert p["requests_per_s"] > 0 and p["ttft_p99_s"] >= p["ttft_p50_s"] > 0
            assert p["tpot_count"] == 4 * users and p["tpot_p99_s"] > 0 and p["itl_p99_s"] > 0
            assert p["cached_share"] is not None
            assert p["met_bounds"] is True and p["missed"] == ""
        assert e["goodput"] == {"met": True, "load": 2, "requests_per_s": e["points"][1]["requests_per_s"]}
    ratio = rep["endpoints"][0]["goodput"]["requests_per_s"] / rep["endpoints"][1]["goodput"]["requests_per_s"]
    assert abs(rep["goodput_ratio"] - ratio) < 1e-9
    summary = (out / "summary.txt").read_text()
    assert "first/second:" in summary and "first/second:" in r.stdout
    with open(out / "sweep.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # Each point has its own sessions: seed 1 at one user, seed 2 at two.
    log = a.log_text()
    assert log.count("session=bench-1-0 ") == 2 and log.count("session=bench-2-3 ") == 2, log[-3000:]


def test_sweep_with_impossible_bounds_has_goodput_zero(tiny_model, start_server, tmp_path):
    s = start_server(tiny_model, "-c", "2048", "-t", "1")
    out = tmp_path / "strict"
    r = sweep("--url", s.url, "--name", "solo", "--users", "1,2", "-n", "1", "--seed", "7",
              "--ttft-p50-max", "0", "--no-plots", "-o", str(out), *SMALL)
    assert r.returncode == 0, r.stderr
    rep = json.loads((out / "sweep.json").read_text())
    assert [(w["conversations"], w["seed"]) for w in rep["point_workloads"]] == [(1, 7), (1, 8)]
    (e,) = rep["endpoints"]
    assert all(not p["met_bounds"] and p["missed"].startswith("TTFT p50") for p in e["points"]), e["points"]
    assert e["goodput"] == {"met": False, "load": None, "requests_per_s": 0}
    assert rep["goodput_ratio"] is None
    assert "solo: 0 (no load met the bounds" in r.stdout
    assert not (out / "sweep.png").exists()


def test_sweep_refuses_bad_options(tmp_path):
    for args, message in [(["--users", "4,2"], "must rise"), (["--users", "1,x"], "not a positive number"),
                          (["--users", "1", "--rates", "1"], "not both"),
                          (["--url-a", "http://127.0.0.1:1"], "go together"),
                          (["--url", "http://127.0.0.1:1", "--url-a", "http://127.0.0.1:1",
                            "--url-b", "http://127.0.0.1:2"], "--url-a and --url-b"),
                          (["--url", "http://10.1.2.3:8080"], "--allow-remote")]:
        r = sweep(*args, "-o", str(tmp_path / "x"), "--wait-ready", "0", timeout=30)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
