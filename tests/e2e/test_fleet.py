"""The fleet (docs/fleet.md): scripts/fleet.sh starts Redis, two replicas and HAProxy on
loopback. A conversation sticks to one replica; SIGKILL that replica and the next turn lands
on the other, resumes its history from Redis (cached_tokens > 0) and answers exactly what a
single server recomputing it answers. A SIGTERM drains a replica (its stream finishes, it
exits 0); Redis killed and restarted costs misses, never a failed request."""
import os
import random
import re
import signal
import socket
import subprocess
import time

import openai
import pytest
import requests

from conftest import PARLEY_BIN, ROOT

FLEET = os.path.join(ROOT, "scripts/fleet.sh")
pytestmark = pytest.mark.skipif(
    not (os.path.exists("/usr/bin/redis-server") and (os.path.exists("/usr/sbin/haproxy")
                                                      or os.path.exists("/usr/bin/haproxy"))),
    reason="redis-server and haproxy are not installed (scripts/setup.sh installs them)")


def free_base_port():
    """A port P with P..P+2 and P+100 free on loopback."""
    for _ in range(50):
        p = random.randint(20000, 40000)
        ok = True
        for q in (p, p + 1, p + 2, p + 100):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
        if ok:
            return p
    raise RuntimeError("no free ports")


class Fleet:
    def __init__(self, tmp_path, model, *serve_args, fleet_args=()):
        self.env = dict(os.environ, PARLEY_FLEET_DIR=str(tmp_path / "fleet"), PARLEY_BIN=PARLEY_BIN)
        self.port = free_base_port()
        out = subprocess.run([FLEET, "up", "--replicas", "2", "--port", str(self.port), *fleet_args, "--", "-m",
                              model, *serve_args], env=self.env, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stdout + out.stderr
        self.procs = {}  # (role, index) -> (pid, port)
        for line in out.stdout.splitlines():
            m = re.fullmatch(r"(redis|replica|haproxy) (\d+) pid (\d+) port (\d+)", line.strip())
            if m:
                self.procs[(m.group(1), int(m.group(2)))] = (int(m.group(3)), int(m.group(4)))
        assert set(self.procs) == {("redis", 0), ("replica", 1), ("replica", 2), ("haproxy", 0)}, out.stdout
        self.url = f"http://127.0.0.1:{self.port}"

    def replica_url(self, index):
        return f"http://127.0.0.1:{self.procs[('replica', index)][1]}"

    def metrics(self, index):
        out = {}
        for line in requests.get(self.replica_url(index) + "/metrics", timeout=30).text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def log(self, name):
        with open(os.path.join(self.env["PARLEY_FLEET_DIR"], name + ".log"), errors="replace") as f:
            return f.read()

    def down(self):
        subprocess.run([FLEET, "down"], env=self.env, capture_output=True, timeout=120)


# Each replica's `parley serve` options (and a lone server's, to compare with).
SERVE_ARGS = ("-c", "1024", "-t", "1", "--model-name", "tiny", "--no-webui", "--canary-rate", "0")


@pytest.fixture
def fleet(tmp_path, tiny_gemma_model):
    f = Fleet(tmp_path, tiny_gemma_model, *SERVE_ARGS)
    yield f
    f.down()


# One keep-alive client connection per fleet, as a browser keeps: a turn on a new connection
# could reach HAProxy while its other thread still counted the previous turn's stream as
# in flight on the home replica, and bounded-load hashing (hash-balance-factor) then sent
# the turn to the other replica (a CI run saw r1, r1, r2). On one connection, the next
# request's stream begins only after the previous one has released its server.
HTTP = requests.Session()


def chat(url, session, messages, max_tokens=8):
    """One greedy turn; returns (reply, usage, replica that answered)."""
    r = HTTP.post(url + "/v1/chat/completions", headers={"X-Session-Id": session}, timeout=60,
                      json={"model": "tiny", "messages": messages, "max_tokens": max_tokens, "temperature": 0,
                            "ignore_eos": True})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["choices"][0]["message"]["content"], body["usage"], r.headers.get("X-Parley-Replica")


def play_turns(url, session, messages, turns, step):
    """Plays `turns` user turns of one conversation (turn t asks about t * step), appending
    to `messages`; returns each turn's (usage, replica that answered)."""
    out = []
    for t in range(turns):
        messages.append({"role": "user", "content": f"Turn {t}: tell me about the number {t * step}."})
        reply, usage, replica = chat(url, session, messages)
        out.append((usage, replica))
        messages.append({"role": "assistant", "content": reply})
    return out


def conversation_start(i):
    return [{"role": "system", "content": f"Character {i}: " + "a calm and careful guide who answers briefly. " * 8}]


def wait_for_redis_writes(fleet, index, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = fleet.metrics(index)
        if (m.get("parley_prefix_cache_remote_written_pages_total", 0) > 0
                and m.get("parley_prefix_cache_remote_queued_bytes", 1) == 0):
            return m
        time.sleep(0.1)
    raise AssertionError("the replica's pages never reached Redis")


def test_sticky_then_failover_restores_from_redis(fleet, tiny_gemma_model, start_server):
    messages = conversation_start(0)
    turns = play_turns(fleet.url, "conv-0", messages, 3, 7)
    for usage, _ in turns[1:]:
        assert usage["prompt_tokens_details"]["cached_tokens"] > 0, usage
    served = [replica for _, replica in turns]
    assert len(set(served)) == 1 and served[0] in ("r1", "r2"), served  # sticky
    home = int(served[0][1])
    other = 3 - home
    wait_for_redis_writes(fleet, home)

    # The replica dies; the conversation's next turn goes to the other one, from Redis.
    os.kill(fleet.procs[("replica", home)][0], signal.SIGKILL)
    messages.append({"role": "user", "content": "Turn 3: and now the number 21?"})
    reply, usage, replica = chat(fleet.url, "conv-0", messages)
    assert replica == f"r{other}", replica
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached >= usage["prompt_tokens"] // 2, usage
    m = fleet.metrics(other)
    assert m['parley_prefix_cache_remote_pages_total{result="hit"}'] > 0
    assert m["parley_prefix_cache_remote_imported_pages_total"] > 0
    # Exactly what one server recomputing the whole history answers.
    single = start_server(tiny_gemma_model, *SERVE_ARGS, "--no-prefix-cache")
    r = single.client().chat.completions.create(model="tiny", messages=messages, max_tokens=8, temperature=0,
                                                extra_body={"ignore_eos": True})
    assert r.choices[0].message.content == reply


def test_roundrobin_balance_spreads_one_conversation(tmp_path, tiny_gemma_model):
    # `fleet.sh up --balance roundrobin` (the bench's baseline, scripts/bench_fleet.py): the same
    # config without the session hash, so one conversation's turns alternate between replicas,
    # and its history comes from Redis on the replica that did not serve the previous turn.
    f = Fleet(tmp_path, tiny_gemma_model, *SERVE_ARGS, fleet_args=("--balance", "roundrobin"))
    try:
        with open(os.path.join(f.env["PARLEY_FLEET_DIR"], "haproxy.cfg")) as cfg:
            text = cfg.read()
        assert "balance roundrobin" in text and "balance hash" not in text
        served = [replica for _, replica in play_turns(f.url, "conv-rr", conversation_start(1), 4, 3)]
        assert set(served) == {"r1", "r2"}, served
    finally:
        f.down()


def test_sigterm_drains_a_replica(fleet):
    # A stream in flight on the replica finishes; the replica answers 503 to /health, then exits 0.
    pid, port = fleet.procs[("replica", 1)]
    url = fleet.replica_url(1)
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)
    stream = client.chat.completions.create(model="tiny", messages=conversation_start(1) + [
        {"role": "user", "content": "go"}], max_tokens=800, temperature=0, stream=True,
        extra_body={"ignore_eos": True})
    chunks = iter(stream)
    next(chunks)
    os.kill(pid, signal.SIGTERM)
    health = None
    deadline = time.time() + 2
    while time.time() < deadline and health != 503:
        health = requests.get(url + "/health", timeout=5).status_code
    assert health == 503
    finish = None
    for c in chunks:
        if c.choices and c.choices[0].finish_reason:
            finish = c.choices[0].finish_reason
    assert finish == "length"
    deadline = time.time() + 30
    while time.time() < deadline and os.path.exists(f"/proc/{pid}") and not open(
            f"/proc/{pid}/stat").read().split()[2] == "Z":
        time.sleep(0.1)
    log = fleet.log("replica-1")
    assert "draining" in log and "parley serve: stopped" in log, log[-2000:]
    # Traffic goes on through HAProxy, on the other replica.
    reply, _, replica = chat(fleet.url, "after-drain", conversation_start(2) + [{"role": "user", "content": "hi"}])
    assert replica == "r2"


def test_redis_killed_and_restarted_costs_only_misses(fleet):
    redis_pid, redis_port = fleet.procs[("redis", 0)]
    os.kill(redis_pid, signal.SIGKILL)
    time.sleep(0.2)
    for i in range(4):  # every request answers, from local tiers and recompute
        chat(fleet.url, f"no-redis-{i}", conversation_start(10 + i) + [{"role": "user", "content": "hello"}])
    errors = sum(fleet.metrics(k).get("parley_prefix_cache_remote_errors_total", 0) for k in (1, 2))
    assert errors > 0
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The replica that serves the next conversation reconnects (backoff at most 2 s) and
        # writes its pages again.
        deadline = time.time() + 15
        written = False
        i = 0
        while time.time() < deadline and not written:
            _, _, replica = chat(fleet.url, f"redis-back-{i}", conversation_start(20 + i) + [
                {"role": "user", "content": "hello"}])
            i += 1
            m = fleet.metrics(int(replica[1]))
            written = (m.get("parley_prefix_cache_remote_connected", 0) == 1
                       and m.get("parley_prefix_cache_remote_written_pages_total", 0) > 0)
            time.sleep(0.3)
        assert written
    finally:
        proc.kill()
        proc.wait(10)
