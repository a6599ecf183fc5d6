"""Clients that go away and servers that stop: a stream whose client disconnects is
cancelled and its KV pages come back (also for a non-streaming request); SIGTERM with a
stream in flight ends it cleanly and the process exits 0."""
import json
import socket
import threading
import time
import urllib.parse

import openai
import requests


def open_raw_stream(url, body):
    """Sends a streaming POST on a raw socket; returns the socket after the headers."""
    u = urllib.parse.urlparse(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    payload = json.dumps(body).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    return sock


def read_events(sock, count):
    """Reads until `count` SSE data lines have arrived; returns what was read."""
    data = b""
    deadline = time.time() + 30
    while data.count(b"data: ") < count and time.time() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def running_done(server):
    m = server.metrics()
    return m.get("parley_requests_running", 0) == 0 and m.get("parley_requests_waiting", 0) == 0


def test_disconnect_mid_stream_frees_kv_pages(slow_model, start_server):
    s = start_server(slow_model, "-c", "2048", "-t", "1")
    before = s.kv_pages_used()
    assert before and all(v == 0 for v in before.values()), before
    body = {"messages": [{"role": "user", "content": "go on"}], "max_tokens": 2000, "ignore_eos": True,
            "stream": True}
    sock = open_raw_stream(s.url, body)
    got = read_events(sock, 4)
    assert b"200 OK" in got and got.count(b"data: ") >= 4
    assert any(v > 0 for v in s.kv_pages_used().values())
    sock.close()
    assert wait_for(lambda: s.kv_pages_used() == before), (s.kv_pages_used(), before)
    assert wait_for(lambda: running_done(s))
    m = s.metrics()
    assert m.get('parley_requests_total{outcome="cancelled"}', 0) >= 1
    # The server still serves.
    r = s.client().chat.completions.create(model="slow-llama", messages=[{"role": "user", "content": "hi"}],
                                           max_tokens=3)
    assert r.choices[0].finish_reason in ("stop", "length")


def test_disconnect_during_non_streaming_request(slow_model, start_server):
    s = start_server(slow_model, "-c", "2048", "-t", "1")
    before = s.kv_pages_used()
    body = {"messages": [{"role": "user", "content": "go on"}], "max_tokens": 2000, "ignore_eos": True}
    sock = open_raw_stream(s.url, body)
    assert wait_for(lambda: any(v > 0 for v in s.kv_pages_used().values()))
    sock.close()
    assert wait_for(lambda: s.kv_pages_used() == before), (s.kv_pages_used(), before)
    assert s.metrics().get('parley_requests_total{outcome="cancelled"}', 0) >= 1


def test_sigterm_with_a_stream_in_flight(slow_model, start_server):
    s = start_server(slow_model, "-c", "2048", "-t", "1")
    seen = {"chunks": 0, "outcome": None}
    started = threading.Event()

    def consume():
        try:
            stream = s.client().chat.completions.create(
                model="slow-llama", messages=[{"role": "user", "content": "go"}], max_tokens=2000,
                stream=True, extra_body={"ignore_eos": True})
            for _ in stream:
                seen["chunks"] += 1
                if seen["chunks"] == 3:
                    started.set()
            seen["outcome"] = "clean end"
        except openai.APIError as e:  # the server's error chunk, or the connection ending
            seen["outcome"] = f"error: {e}"
        except Exception as e:  # noqa: BLE001 - any transport error also counts as an end
            seen["outcome"] = f"transport: {e!r}"
        finally:
            started.set()

    t = threading.Thread(target=consume)
    t.start()
    assert started.wait(30)
    t0 = time.time()
    code = s.terminate(timeout=15)
    elapsed = time.time() - t0
    t.join(30)
    assert not t.is_alive()
    assert code == 0, s.log_text()
    assert elapsed < 10, elapsed
    assert seen["outcome"] is not None, seen
    print("stream outcome:", seen)
    assert seen["chunks"] < 2000
    assert "shutting down" in s.log_text()
    # Nothing listens any more.
    try:
        requests.get(s.url + "/health", timeout=2)
        assert False, "server still answering"
    except requests.ConnectionError:
        pass


def test_sigterm_when_idle_exits_quickly(tiny_model, start_server):
    s = start_server(tiny_model, "-c", "256", "-t", "1")
    # A kept-alive idle connection must not hold the shutdown up.
    session = requests.Session()
    assert session.get(s.url + "/health", timeout=10).status_code == 200
    t0 = time.time()
    assert s.terminate(timeout=15) == 0
    assert time.time() - t0 < 5
