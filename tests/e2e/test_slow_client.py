"""A client that opens a stream and stops reading (slowloris style). The server keeps only
what the kernel's socket buffers hold (the stream is not buffered in full), its write times
out after --write-timeout, the request is cancelled and its KV pages come back, and other
clients are served all the while. Also: one client address is capped at
--max-client-requests generations in flight (429 beyond)."""
import concurrent.futures
import json
import socket
import time
import urllib.parse

import requests

from conftest import SANITIZER

CHAT = "/v1/chat/completions"
MSGS = [{"role": "user", "content": "go on"}]


def open_stalled_stream(url, body, rcvbuf=4096):
    """Sends a streaming POST from a socket with a small receive buffer, and reads nothing."""
    u = urllib.parse.urlparse(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
    sock.connect((u.hostname, u.port))
    payload = json.dumps(body).encode()
    sock.sendall(b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    return sock


def read_all(sock, timeout=10.0):
    """Everything left on the socket until the server closes it (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_stalled_stream_reader_times_out_and_frees_its_pages(slow_model, start_server):
    s = start_server(slow_model, "-c", "2048", "-t", "1", "--write-timeout", "1")
    before = s.kv_pages_used()
    assert before and all(v == 0 for v in before.values()), before
    rss_before = rss_kib(s.proc.pid)
    # 4 choices x 2000 tokens: megabytes of SSE, far more than the socket buffers hold.
    body = {"messages": MSGS, "max_tokens": 2000, "n": 4, "ignore_eos": True, "stream": True}
    started = time.time()
    sock = open_stalled_stream(s.url, body)
    try:
        assert wait_for(lambda: any(v > 0 for v in s.kv_pages_used().values()), 10)
        # Other clients are served while the stalled stream holds its pages.
        r = s.post(CHAT, json={"messages": MSGS, "max_tokens": 4}, timeout=20)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] is not None
        # The write times out (1 s without progress), the request is cancelled, its pages freed.
        assert wait_for(lambda: s.kv_pages_used() == before, 30), (s.kv_pages_used(), before)
        freed_after = time.time() - started
        m = s.metrics()
        assert m.get('parley_requests_total{outcome="cancelled"}', 0) >= 4, m  # every choice
        # It stopped long before the 2000 tokens a choice asked for.
        assert m.get("parley_generation_tokens_total", 0) < 4 * 2000, m
        if not SANITIZER:  # ASan's quarantine of freed memory alone grew RSS by 130 MiB here
            assert rss_kib(s.proc.pid) - rss_before < 64 * 1024  # nothing large was buffered
        # What reached the client is what the socket buffers held (the server's send buffer
        # is fixed at 256 KiB, which Linux doubles): no [DONE], and a fraction of the stream
        # (8000 chunks of > 150 bytes each would be > 1.2 MB).
        got = read_all(sock)
        assert b"200 OK" in got
        assert b"[DONE]" not in got
        assert len(got) < 768 * 1024, len(got)
        print(f"stalled reader: pages freed after {freed_after:.1f} s, {len(got)} bytes had reached the client")
    finally:
        sock.close()
    # The server goes on serving, streams included.
    with requests.post(s.url + CHAT, json={"messages": MSGS, "max_tokens": 4, "stream": True},
                       stream=True, timeout=20) as r:
        assert r.status_code == 200
        assert b"[DONE]" in r.content


def test_one_client_is_capped_at_max_client_requests(slow_model, start_server):
    s = start_server(slow_model, "-c", "1024", "-t", "1", "--max-client-requests", "2")
    body = {"messages": MSGS, "max_tokens": 300, "ignore_eos": True}

    def post(_):
        return requests.post(s.url + CHAT, json=body, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(post, range(6), timeout=180))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) >= 2 and codes.count(429) >= 1, codes
    assert set(codes) <= {200, 429}, codes
    err = next(r for r in results if r.status_code == 429).json()["error"]
    assert err["code"] == "rate_limit_exceeded" and "--max-client-requests" in err["message"]
    # Slots come back: the same client is served again, and the 429s are counted.
    assert s.post(CHAT, json={"messages": MSGS, "max_tokens": 2}).status_code == 200
    assert s.metrics().get('parley_http_requests_total{route="/v1/chat/completions",code="429"}', 0) >= 1
