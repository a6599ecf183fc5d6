#!/usr/bin/env python3
"""A moved conversation's next turn: restored from Redis vs recomputed vs a sticky hit.

Starts Redis and three `parley serve` replicas on loopback: A and B share Redis, C has no
shared tier. A conversation with a history of about H tokens is played on A; its next turn
is then sent to B (as after A's failure: the history comes from Redis), to C (recomputed),
and to A (the sticky hit). Prints time to first token and cached tokens for each, per history
length. Short by design; not a test.

  scripts/bench_failover.py -m models/gemma-3-270m-q4_k_m.gguf --history 1000 2600 [--port-base P] [-- serve options]

--port-base P puts Redis on P and A, B, C on P+1..P+3 (default: free ports the OS picks).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ok(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def turn(url, messages, max_tokens):
    """One streamed greedy turn: (ttft_s, reply, usage)."""
    t0 = time.time()
    ttft = None
    reply = ""
    usage = None
    with requests.post(url + "/v1/chat/completions", stream=True, timeout=600, json={
            "model": "m", "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True}) as r:
        if r.status_code != 200:
            raise RuntimeError(r.text)
        for line in r.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices", []):
                text = c.get("delta", {}).get("content")
                if text:
                    if ttft is None:
                        ttft = time.time() - t0
                    reply += text
    return ttft, reply, usage


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--history", type=int, nargs="+", default=[1000, 2600], help="history lengths (words ~ tokens)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin/parley"))
    ap.add_argument("--port-base", type=int, default=0, help="Redis on P, replicas A, B, C on P+1..P+3 (0: free ports)")
    ap.add_argument("rest", nargs="*", help="serve options (after --)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="parley-failover-")
    procs = []
    try:
        ports = iter(range(a.port_base, a.port_base + 4)) if a.port_base else None
        next_port = (lambda: next(ports)) if ports else free_port
        rport = next_port()
        procs.append(subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--save", "",
                                       "--appendonly", "no", "--maxmemory", "1gb", "--maxmemory-policy",
                                       "allkeys-lru"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls = {}
        for name, shared in (("A", True), ("B", True), ("C", False)):
            port = next_port()
            cmd = [a.bin, "serve", "-m", a.model, "--port", str(port), "-c", "4096", "-t", "1",
                   "--canary-rate", "0", "--no-webui", "--model-name", "m"] + a.rest
            if shared:
                cmd += ["--redis-url", f"redis://127.0.0.1:{rport}"]
            log = open(os.path.join(tmp, f"{name}.log"), "w")
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=log))
            urls[name] = f"http://127.0.0.1:{port}"
        for u in urls.values():
            wait_ok(u + "/health")
        print(f"{'history':>8} {'prompt':>7} | {'sticky (A) ttft':>16} {'cached':>6} | "
              f"{'moved, Redis (B)':>16} {'cached':>6} | {'recompute (C)':>14} | same reply")
        for i, h in enumerate(a.history):
            words = " ".join(f"fact{j % 97} about topic {i} is number {j}." for j in range(h // 32))
            messages = [{"role": "system", "content": f"Conversation {i}. Notes: {words}"},
                        {"role": "user", "content": "Summarise the notes in one line."}]
            _, reply, _ = turn(urls["A"], messages, 16)
            messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": "And the next one?"}]
            time.sleep(1.0)  # write-behind: A's pages reach Redis
            moved = turn(urls["B"], messages, 8)
            recomputed = turn(urls["C"], messages, 8)
            sticky = turn(urls["A"], messages, 8)
            print(f"{h:>8} {sticky[2]['prompt_tokens']:>7} | {sticky[0] * 1000:>13.1f} ms "
                  f"{sticky[2]['prompt_tokens_details']['cached_tokens']:>6} | {moved[0] * 1000:>13.1f} ms "
                  f"{moved[2]['prompt_tokens_details']['cached_tokens']:>6} | {recomputed[0] * 1000:>11.1f} ms | "
                  f"{moved[1] == recomputed[1] == sticky[1]}")
        m = requests.get(urls["B"] + "/metrics", timeout=10).text
        for line in m.splitlines():
            if line.startswith(("parley_prefix_cache_remote_wait_seconds_sum",
                                "parley_prefix_cache_remote_wait_seconds_count",
                                "parley_prefix_cache_remote_bytes_total", "parley_prefix_cache_remote_imported")):
                print("B:", line)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
