#!/usr/bin/env python3
"""Concurrent-stream throughput of an OpenAI-compatible server (Parley or llama-server).

For each concurrency C, C client threads each send REQUESTS streaming /v1/completions
requests one after another: a distinct prompt of about PROMPT_TOKENS tokens (a unique
number up front so no engine can reuse another request's prefix), MAX_TOKENS generated
tokens with ignore_eos. Prints aggregate output tokens/s (all completion tokens over the
wall time of the round) and mean / p50 / max time to first token. Standard library only.

  scripts/bench_serve.py --url http://127.0.0.1:8080 --concurrency 1 4 16 [--json OUT]
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

WORDS = ("the river keeps flowing to the sea while a quick brown fox jumps over the lazy dog and "
         "every evening the old lighthouse keeper writes a letter to a friend far away about the "
         "weather the ships the birds and the small garden behind the house").split()


def make_prompt(seed, words):
    out = [f"Story {seed}:"]
    for i in range(words):
        out.append(WORDS[(seed * 7 + i * 13 + i * i) % len(WORDS)])
    return " ".join(out)


def one_request(url, prompt, max_tokens, timeout):
    """Returns (ttft_seconds, completion_tokens, total_seconds) or raises."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "stream": True, "ignore_eos": True,
                       "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:200]!r}")
    ttft = None
    chunks = 0
    usage = None
    buf = b""
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        obj = json.loads(data)
        if obj.get("usage"):
            usage = obj["usage"]
        for ch in obj.get("choices", []):
            if ch.get("text"):
                if ttft is None:
                    ttft = time.perf_counter() - t0
                chunks += 1
    total = time.perf_counter() - t0
    conn.close()
    tokens = usage["completion_tokens"] if usage else chunks
    return ttft if ttft is not None else total, tokens, total


def run_level(url, concurrency, requests, prompt_words, max_tokens, timeout, seed_base):
    results, errors = [], []
    lock = threading.Lock()

    def worker(w):
        for r in range(requests):
            seed = seed_base + w * 1000 + r
            try:
                res = one_request(url, make_prompt(seed, prompt_words), max_tokens, timeout)
                with lock:
                    results.append(res)
            except Exception as e:  # counted, not fatal
                with lock:
                    errors.append(str(e))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ttfts = [r[0] for r in results]
    tokens = sum(r[1] for r in results)
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "errors": errors,
        "wall_s": wall,
        "completion_tokens": tokens,
        "output_tok_s": tokens / wall if wall > 0 else 0.0,
        "ttft_mean_s": statistics.mean(ttfts) if ttfts else None,
        "ttft_p50_s": statistics.median(ttfts) if ttfts else None,
        "ttft_max_s": max(ttfts) if ttfts else None,
    }


def prompt_tokens(url, words):
    """Token count of a prompt as the server tokenizes it (/tokenize), or None."""
    u = urllib.parse.urlparse(url)
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        conn.request("POST", "/tokenize", json.dumps({"content": make_prompt(1, words)}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return len(json.loads(resp.read())["tokens"]) if resp.status == 200 else None
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--requests", type=int, default=2, help="requests per client thread")
    ap.add_argument("--prompt-words", type=int, default=300, help="~305 tokens for Gemma's tokenizer")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--label", default="server")
    ap.add_argument("--json", help="append the results to this JSON file")
    args = ap.parse_args()
    host = urllib.parse.urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing a non-loopback target")
    n = prompt_tokens(args.url, args.prompt_words)
    print(f"{args.label}: prompt ~{n} tokens, {args.max_tokens} generated, {args.requests} requests per stream",
          flush=True)
    levels = []
    for c in args.concurrency:
        r = run_level(args.url, c, args.requests, args.prompt_words, args.max_tokens, args.timeout, c * 100000)
        r["label"], r["prompt_tokens"] = args.label, n
        levels.append(r)
        print(f"  {c:3d} streams: {r['output_tok_s']:8.1f} output tok/s, TTFT mean {r['ttft_mean_s'] or 0:6.3f} s "
              f"(p50 {r['ttft_p50_s'] or 0:.3f}, max {r['ttft_max_s'] or 0:.3f}), {r['requests']} ok, "
              f"{len(r['errors'])} errors", flush=True)
        for e in r["errors"][:3]:
            print("     error:", e)
    if args.json:
        try:
            with open(args.json) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = []
        with open(args.json, "w") as f:
            json.dump(old + levels, f, indent=1)


if __name__ == "__main__":
    main()
