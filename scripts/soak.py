#!/usr/bin/env python3
"""Soak test: drives one `parley serve` with a mixed load for a given time and checks that
nothing leaks and nothing is lost (issue #19; docs/testing.md, "Soak").

The load (worker threads, each with its own conversations, all from 127.0.0.1):
  - conversation turns that resend the whole history (chat completions, streamed or not,
    some with n = 2), conversations of shared and of unique system prompts, reset when their
    history nears the context;
  - random disconnects mid-stream (the socket closed after a few chunks, sometimes with a
    reset): the server must cancel the request and free its pages;
  - invalid requests (bad JSON, out-of-range fields, too deep, too long, too large, unknown
    routes): each must get its 4xx;
  - /tokenize, /detokenize, /metrics, /health, /v1/models;
  - cache pressure: the server runs with a small KV arena, a small host tier and a small
    disk tier (soak.sh's flags), so pages spill to host and disk and come back.

It samples the server's RSS, open fds, threads (/proc/PID) and KV pages in use (/metrics).
Twice it pauses the load and lets the server go idle: when the warm-up (the first third)
ends, and at the end. It passes when:
  - RSS is flat after warm-up: the median of the last quarter of the loaded samples is at
    most 5% above the median of their first quarter;
  - open fds and threads, idle, are no more than at the warm-up's idle point (fds: 5%, at
    least one);
  - idle, no KV page is held by a sequence (pages in use == pages the prefix cache keeps);
  - no 5xx at all (client-seen or in parley_http_requests_total); every valid request got
    200 and a finish reason, unless its own client disconnected; every invalid one its 4xx;
  - the engine finished no choice with an error, and finished exactly the choices the
    clients asked for (stop + length + cancelled);
  - the server ran --check-integrity (parley_kv_integrity_checks_total grew) and exited 0
    after SIGTERM (its last check, at shutdown, passed; a failed check aborts it);
  - the cache was under pressure: pages were spilled to the host tier and written to disk.
Writes samples.csv, summary.json, server.log and soak.png (gnuplot, if installed) to --out.
Exit status 0: passed; 1: a check failed; 2: the server could not start.
Only the standard library: runs with any python3.
"""
import argparse
import csv
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

WORDS = ("the a of to and in is it you that he was for on are with as his they be at one have this from "
         "or had by word but what some we can out other were all there when up use your how said an each "
         "she which do their time if will way about many then them write would like so these her long make "
         "thing see him two has look more day could go come did number sound no most people my over know "
         "water than call first who may down side been now find any new work part take get place made live "
         "where after back little only round man year came show every good me give our under name very "
         "kernel page cache token stream socket thread buffer engine prefix window").split()


def words(rng, lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


class Tally:
    """Counts shared by the workers (under one lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = {"valid": 0, "completed": 0, "choices_completed": 0, "disconnected": 0, "streamed": 0,
                  "invalid": 0, "invalid_ok": 0, "other": 0, "status_5xx": 0, "turns": 0,
                  "conversations": 0}
        self.failures = []  # the first few, for the report

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def fail(self, what):
        with self.lock:
            self.c.setdefault("failed", 0)
            self.c["failed"] += 1
            if len(self.failures) < 20:
                self.failures.append(what)


class Soak:
    def __init__(self, args, url, proc):
        self.args = args
        self.host, self.port = re.match(r"http://([0-9.]+):([0-9]+)", url).groups()
        self.port = int(self.port)
        self.proc = proc
        self.tally = Tally()
        self.run = threading.Event()   # set: workers send requests
        self.stop = threading.Event()  # set: workers exit
        self.idle = [0] * args.workers  # per worker: 1 while paused
        self.samples = []
        self.t0 = time.time()
        self.invalid = self.invalid_cases()
        self.shared_systems = [f"You are assistant number {i}. " + words(random.Random(i), 20, 40)
                               for i in range(3)]

    # ---- HTTP ----
    def conn(self, timeout=None):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.args.request_timeout)

    def request(self, method, path, body=None, raw=None, headers=None):
        """One request on its own connection; returns (status, body bytes)."""
        c = self.conn()
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            h = {"Connection": "close", "Content-Type": "application/json"}
            h.update(headers or {})
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def metrics(self):
        status, text = self.request("GET", "/metrics")
        out = {}
        for line in text.decode().splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    # ---- the load ----
    def worker(self, idx):
        rng = random.Random(self.args.seed * 1000 + idx)
        convs = [self.new_conversation(rng) for _ in range(self.args.conversations)]
        while not self.stop.is_set():
            if not self.run.is_set():
                self.idle[idx] = 1
                self.run.wait(0.1)
                continue
            self.idle[idx] = 0
            roll = rng.random()
            try:
                if roll < self.args.invalid_share:
                    self.invalid_request(rng)
                elif roll < self.args.invalid_share + 0.04:
                    self.side_request(rng)
                else:
                    i = rng.randrange(len(convs))
                    if not self.turn(rng, convs[i]):
                        convs[i] = self.new_conversation(rng)
            except Exception as e:  # noqa: BLE001 - every surprise is a failure to report
                self.tally.fail(f"worker {idx}: {type(e).__name__}: {e}")
        self.idle[idx] = 1

    def new_conversation(self, rng):
        self.tally.add("conversations")
        system = rng.choice(self.shared_systems) if rng.random() < 0.4 else words(rng, 10, 60)
        return {"messages": [{"role": "system", "content": system}], "tokens": 0}

    def turn(self, rng, conv):
        """One chat turn; returns False when the conversation should start over."""
        msgs = conv["messages"] + [{"role": "user", "content": words(rng, 5, 60)}]
        stream = rng.random() < 0.6
        n = 2 if not stream and rng.random() < 0.05 else 1
        body = {"messages": msgs, "max_tokens": rng.randint(4, self.args.max_reply), "stream": stream,
                "temperature": rng.choice([0, 0.7, 1.0]), "seed": rng.randint(0, 1 << 30), "n": n}
        if stream:
            body["stream_options"] = {"include_usage": True}
        self.tally.add("valid")
        self.tally.add("turns")
        if stream:
            self.tally.add("streamed")
            disconnect_after = rng.randint(1, 6) if rng.random() < self.args.disconnect_share else None
            ok, reply, used = self.stream_turn(body, disconnect_after, rng)
        else:
            ok, reply, used = self.plain_turn(body)
        if not ok:
            return True  # disconnected or failed (counted): the turn is dropped
        conv["messages"] = msgs + [{"role": "assistant", "content": reply}]
        conv["tokens"] = used
        return used < self.args.context * 0.6 and len(conv["messages"]) < 40

    def plain_turn(self, body):
        status, data = self.request("POST", "/v1/chat/completions", body)
        if status >= 500:
            self.tally.add("status_5xx")
        if status != 200:
            self.tally.fail(f"valid request got {status}: {data[:200]!r}")
            return False, "", 0
        r = json.loads(data)
        reasons = [c.get("finish_reason") for c in r["choices"]]
        if len(reasons) != body["n"] or any(x not in ("stop", "length") for x in reasons):
            self.tally.fail(f"finish reasons {reasons} for n={body['n']}")
            return False, "", 0
        self.tally.add("completed")
        self.tally.add("choices_completed", body["n"])
        u = r.get("usage") or {}
        return True, r["choices"][0]["message"]["content"], u.get("prompt_tokens", 0) + u.get("completion_tokens", 0)

    def stream_turn(self, body, disconnect_after, rng):
        c = self.conn()
        try:
            # No "Connection: close": then the connection keeps the socket (c.sock), and
            # c.close() closes it and the response, so a hang-up really hangs up.
            c.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            if r.status != 200:
                data = r.read()
                if r.status >= 500:
                    self.tally.add("status_5xx")
                self.tally.fail(f"valid stream got {r.status}: {data[:200]!r}")
                return False, "", 0
            text, finish, done, used, chunks = [], None, False, 0, 0
            while True:
                line = r.readline()
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data: "):
                    continue
                payload = line[6:]
                if payload == b"[DONE]":
                    done = True
                    break
                ev = json.loads(payload)
                if ev.get("error"):
                    self.tally.fail(f"stream error event: {payload[:200]!r}")
                    return False, "", 0
                for ch in ev.get("choices", []):
                    text.append(ch.get("delta", {}).get("content") or "")
                    finish = ch.get("finish_reason") or finish
                if ev.get("usage"):
                    used = ev["usage"]["prompt_tokens"] + ev["usage"]["completion_tokens"]
                chunks += 1
                if disconnect_after is not None and chunks >= disconnect_after:
                    if rng.random() < 0.5:  # abrupt: a reset instead of a close
                        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.tally.add("disconnected")
                    return False, "", 0
            if not done or finish not in ("stop", "length"):
                self.tally.fail(f"stream ended without [DONE] or a finish reason ({finish})")
                return False, "", 0
            self.tally.add("completed")
            self.tally.add("choices_completed")
            return True, "".join(text), used
        finally:
            c.close()

    def invalid_cases(self):
        """(method, path, JSON body, raw body, accepted statuses): each must be refused."""
        msgs = [{"role": "user", "content": "hi"}]
        chat = "/v1/chat/completions"
        return [
            ("POST", chat, None, b'{"messages": [', {400}),
            ("POST", chat, {"messages": msgs, "max_tokens": -5}, None, {400}),
            ("POST", chat, {"messages": msgs, "n": 1000}, None, {400}),
            ("POST", chat, {"messages": msgs, "temperature": -1}, None, {400}),
            ("POST", chat, {"messages": msgs, "logit_bias": {"99999999": 5}}, None, {400}),
            ("POST", chat, {"messages": msgs, "stop": ["s"] * 20}, None, {400}),
            ("POST", chat, {"messages": msgs, "stream": False, "stream_options": {"include_usage": True}}, None,
             {400}),
            ("POST", chat, None, b'{"messages": ' + b"[" * 40 + b"]" * 40 + b"}", {400}),
            ("POST", chat, {"messages": []}, None, {400}),
            ("POST", chat, {}, None, {400}),
            ("POST", chat, {"messages": msgs, "top_p": 0}, None, {400}),
            ("POST", chat, {"messages": [{"role": "user", "content": " ".join(["lorem"] * self.args.context * 2)}]},
             None, {400}),
            ("POST", "/v1/completions", {"prompt": [[-1, 5]], "max_tokens": 3}, None, {400}),
            ("POST", "/detokenize", {"tokens": [-1]}, None, {400}),
            ("GET", "/v1/nothing-here", None, None, {404}),
            ("GET", chat, None, None, {404, 405}),
            ("POST", chat, None, b"x" * ((self.args.max_body_mb << 20) + 1024), {413}),
        ]

    def invalid_request(self, rng):
        method, path, body, raw, want = rng.choice(self.invalid)
        self.tally.add("invalid")
        try:
            status, data = self.request(method, path, body=body, raw=raw)
        except (ConnectionResetError, BrokenPipeError) as e:
            # A body over the limit may be refused before it is all sent.
            if raw is not None and len(raw) > (1 << 20):
                self.tally.add("invalid_ok")
                return
            raise e
        if status >= 500:
            self.tally.add("status_5xx")
        if status in want:
            self.tally.add("invalid_ok")
        else:
            self.tally.fail(f"{method} {path}: got {status}, want {sorted(want)}: {data[:160]!r}")

    def side_request(self, rng):
        kind = rng.randrange(5)
        if kind == 0:
            status, data = self.request("POST", "/tokenize", {"content": words(rng, 3, 30)})
            if status == 200:
                toks = json.loads(data)["tokens"]
                status, data = self.request("POST", "/detokenize", {"tokens": toks})
        else:
            status, data = self.request("GET", ["/metrics", "/health", "/v1/models", "/health"][kind - 1])
        self.tally.add("other")
        if status >= 500:
            self.tally.add("status_5xx")
        if status != 200:
            self.tally.fail(f"side request {kind} got {status}: {data[:160]!r}")

    # ---- sampling ----
    def proc_status(self):
        pid = self.proc.pid
        rss = threads = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds, threads

    def sample(self, phase):
        rss, fds, threads = self.proc_status()
        m = self.metrics()
        used = sum(v for k, v in m.items() if k.startswith("parley_kv_pages_used"))
        cached = sum(v for k, v in m.items() if k.startswith("parley_prefix_cache_resident_pages"))
        s = {"t": round(time.time() - self.t0, 2), "phase": phase, "rss_kib": rss, "fds": fds, "threads": threads,
             "kv_pages_used": int(used), "kv_pages_cached": int(cached),
             "prefix_nodes": int(m.get("parley_prefix_cache_nodes", 0)),
             "host_bytes": int(m.get("parley_prefix_cache_host_bytes", 0)),
             "disk_bytes": int(m.get("parley_prefix_cache_disk_bytes", 0)),
             "running": int(m.get("parley_requests_running", 0)),
             "integrity_checks": int(m.get("parley_kv_integrity_checks_total", 0)),
             "requests_done": int(sum(v for k, v in m.items() if k.startswith("parley_requests_total")))}
        self.samples.append(s)
        return s, m

    def quiesce(self, label):
        """Pauses the load, waits until the server is idle and its fd count settles; returns
        the idle sample."""
        self.run.clear()
        deadline = time.time() + self.args.request_timeout + 30
        while not all(self.idle) and time.time() < deadline:
            time.sleep(0.1)
        last = None
        stable = 0
        while time.time() < deadline:
            s, m = self.sample(label)
            key = (s["fds"], s["running"], s["kv_pages_used"] - s["kv_pages_cached"])
            stable = stable + 1 if key == last and s["running"] == 0 else 0
            last = key
            if stable >= 4:
                return s, m
            time.sleep(0.5)
        return s, m

    def alive(self):
        return self.proc.poll() is None


def start_server(args, out_dir):
    log_path = os.path.join(out_dir, "server.log")
    log = open(log_path, "w")
    cmd = [args.bin, "serve", "-m", args.model, "--port", "0", "-c", str(args.context),
           "--max-body-mb", str(args.max_body_mb), "--check-integrity"] + args.server_args
    env = dict(os.environ)
    for kv in args.env:
        k, v = kv.split("=", 1)
        env[k] = v
    print("soak: " + " ".join(cmd) + (f"  (env {' '.join(args.env)})" if args.env else ""), flush=True)
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        with open(log_path, errors="replace") as f:
            m = re.search(r"listening on (http://[0-9.]+:[0-9]+)", f.read())
        if m:
            return proc, m.group(1), log_path
        time.sleep(0.1)
    proc.kill()
    with open(log_path, errors="replace") as f:
        sys.stderr.write(f.read()[-3000:])
    sys.exit(2)


def median(xs):
    return statistics.median(xs) if xs else 0


def plot(out_dir, warm_end):
    if shutil.which("gnuplot") is None:
        return None
    png = os.path.join(out_dir, "soak.png")
    script = f"""
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {{ set terminal pngcairo size 1200,800 }} else {{ set terminal png size 1200,800 }}
set output '{png}'
set datafile separator ','
set key autotitle columnhead left top
set multiplot layout 2,2 title 'parley serve soak'
set xlabel 'seconds'
set arrow from {warm_end},graph 0 to {warm_end},graph 1 nohead dt 2
set ylabel 'MiB'; set title 'RSS'; plot '{out_dir}/samples.csv' using 1:($3/1024) with lines title 'RSS'
set ylabel 'count'; set title 'open fds and threads'; plot '{out_dir}/samples.csv' using 1:4 with lines title 'fds', '' using 1:5 with lines title 'threads'
set ylabel 'pages'; set title 'KV pages'; plot '{out_dir}/samples.csv' using 1:6 with lines title 'in use', '' using 1:7 with lines title 'prefix cache'
set ylabel 'MiB'; set title 'tiers'; plot '{out_dir}/samples.csv' using 1:($9/1048576) with lines title 'host', '' using 1:($10/1048576) with lines title 'disk'
unset multiplot
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    return png if r.returncode == 0 else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=3)
    p.add_argument("--bin", default="build/bin/parley")
    p.add_argument("--model", required=True)
    p.add_argument("--out", default="build/soak")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--conversations", type=int, default=6, help="per worker")
    p.add_argument("--context", type=int, default=1024)
    p.add_argument("--max-reply", type=int, default=48)
    p.add_argument("--max-body-mb", type=int, default=1)
    p.add_argument("--invalid-share", type=float, default=0.08)
    p.add_argument("--disconnect-share", type=float, default=0.15, help="of streamed turns")
    p.add_argument("--interval", type=float, default=0, help="seconds between samples (0: ~300 samples)")
    p.add_argument("--request-timeout", type=float, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rss-slack-mib", type=float, default=0,
                   help="RSS growth within this many MiB passes even above 5%% (a tiny process's allocator warm-up)")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    p.add_argument("server_args", nargs="*", help="more `parley serve` flags (after --)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    proc, url, log_path = start_server(args, args.out)
    soak = Soak(args, url, proc)
    duration = args.minutes * 60
    warm_end = duration / 3
    interval = args.interval or max(0.5, duration / 300)
    threads = [threading.Thread(target=soak.worker, args=(i,), daemon=True) for i in range(args.workers)]
    soak.run.set()
    for t in threads:
        t.start()
    print(f"soak: {args.workers} workers against {url} for {args.minutes:g} min (warm-up {warm_end:.0f} s)",
          flush=True)

    idle_warm = idle_end = None
    m_end = {}
    next_report = 0
    while soak.alive():
        elapsed = time.time() - soak.t0
        if idle_warm is None and elapsed >= warm_end:
            idle_warm, _ = soak.quiesce("idle-warm")
            soak.run.set()
        if elapsed >= duration:
            break
        try:
            s, _ = soak.sample("load" if idle_warm is not None else "warm-up")
        except (OSError, http.client.HTTPException):
            if soak.alive():
                raise
            break  # the server died: reported below
        if elapsed >= next_report:
            print(f"soak: {elapsed:6.0f}s rss {s['rss_kib'] / 1024:.1f} MiB fds {s['fds']} threads {s['threads']} "
                  f"kv {s['kv_pages_used']} (cached {s['kv_pages_cached']}) nodes {s['prefix_nodes']} "
                  f"host {s['host_bytes'] >> 20} MiB disk {s['disk_bytes'] >> 20} MiB "
                  f"requests {s['requests_done']} checks {s['integrity_checks']}", flush=True)
            next_report = elapsed + max(10, duration / 20)
        time.sleep(interval)
    problems = []
    if soak.alive():
        idle_end, m_end = soak.quiesce("idle-end")
    else:
        problems.append(f"the server died (exit {proc.returncode}) after {time.time() - soak.t0:.0f} s")
    soak.stop.set()
    soak.run.set()
    for t in threads:
        t.join(timeout=args.request_timeout)
    # SIGTERM: the engine's last integrity check runs at shutdown; a failure aborts.
    if soak.alive():
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            problems.append("the server did not stop within 60 s of SIGTERM")
    exit_code = proc.returncode

    # ---- verdict ----
    c = dict(soak.tally.c)
    loaded = [s for s in soak.samples if s["phase"] == "load"]
    q = max(1, len(loaded) // 4)
    rss_first, rss_last = median([s["rss_kib"] for s in loaded[:q]]), median([s["rss_kib"] for s in loaded[-q:]])
    rss_growth = (rss_last / rss_first - 1) if rss_first else 0
    if len(loaded) < 8:
        problems.append(f"only {len(loaded)} samples after warm-up")
    if rss_growth > 0.05 and rss_last - rss_first > args.rss_slack_mib * 1024:
        problems.append(f"RSS grew {100 * rss_growth:.1f}% after warm-up ({rss_first} -> {rss_last} KiB)")
    if idle_warm and idle_end:
        if idle_end["fds"] > max(idle_warm["fds"] * 1.05, idle_warm["fds"] + 1):
            problems.append(f"open fds idle: {idle_warm['fds']} after warm-up, {idle_end['fds']} at the end")
        if idle_end["threads"] > idle_warm["threads"]:
            problems.append(f"threads idle: {idle_warm['threads']} after warm-up, {idle_end['threads']} at the end")
        for s in (idle_warm, idle_end):
            if s["kv_pages_used"] != s["kv_pages_cached"]:
                problems.append(f"idle ({s['phase']}): {s['kv_pages_used'] - s['kv_pages_cached']} KV pages held by "
                                "no request")
        if idle_end["integrity_checks"] <= idle_warm["integrity_checks"]:
            problems.append("no integrity checks ran (is --check-integrity on?)")
    if exit_code != 0:
        problems.append(f"the server exited with {exit_code} (an integrity check failed, or a crash): see "
                        f"{log_path}")
    if c["status_5xx"]:
        problems.append(f"{c['status_5xx']} responses with a 5xx status")
    http_5xx = sum(v for k, v in m_end.items() if k.startswith("parley_http_requests_total") and
                   re.search(r'code="5[0-9][0-9]"', k))
    if http_5xx:
        problems.append(f"the server counted {http_5xx:.0f} 5xx responses")
    if c.get("failed"):
        problems.append(f"{c['failed']} requests failed: " + "; ".join(soak.tally.failures[:5]))
    outcomes = {k: v for k, v in m_end.items() if k.startswith("parley_requests_total")}

    def outcome(name):
        return int(outcomes.get(f'parley_requests_total{{outcome="{name}"}}', 0))

    finished = outcome("stop") + outcome("length") + outcome("cancelled")
    if m_end:
        if outcome("error"):
            problems.append(f"the engine ended {outcome('error')} choices with an error")
        if outcome("cancelled") > c["disconnected"]:
            problems.append(f"{outcome('cancelled')} choices cancelled, but clients hung up only {c['disconnected']}")
        if finished != c["choices_completed"] + c["disconnected"]:
            problems.append(f"the engine finished {finished} choices; clients completed {c['choices_completed']} "
                            f"and hung up on {c['disconnected']}")
        if m_end.get("parley_prefix_cache_spilled_pages_total", 0) == 0:
            problems.append("no page was spilled to the host tier: no cache pressure")
        if "parley_prefix_cache_disk_written_pages_total" in m_end and \
                m_end["parley_prefix_cache_disk_written_pages_total"] == 0:
            problems.append("no page was written to the disk tier")
    tier = {k.replace("parley_prefix_cache_", ""): int(v) for k, v in m_end.items()
            if k.startswith("parley_prefix_cache_") and k.endswith("_total") and "{" not in k}
    summary = {"minutes": args.minutes, "workers": args.workers, "model": args.model, "env": args.env,
               "server_args": args.server_args, "requests": c, "engine_outcomes": outcomes, "cache": tier,
               "rss_kib": {"after_warmup_median": rss_first, "last_quarter_median": rss_last,
                           "growth_pct": round(100 * rss_growth, 2),
                           "max": max((s["rss_kib"] for s in soak.samples), default=0)},
               "idle_after_warmup": idle_warm, "idle_at_end": idle_end, "server_exit": exit_code,
               "failures": soak.tally.failures, "problems": problems, "passed": not problems}
    with open(os.path.join(args.out, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(soak.samples[0].keys()) if soak.samples else ["t"])
        w.writeheader()
        w.writerows(soak.samples)
    png = plot(os.path.abspath(args.out), warm_end) if soak.samples else None
    summary["plot"] = png
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"soak: {c['turns']} turns ({c['streamed']} streamed, {c['disconnected']} hung up by their client), "
          f"{c['conversations']} conversations, {c['invalid']} invalid requests ({c['invalid_ok']} got their 4xx), "
          f"{c['other']} others")
    by_outcome = {re.search(r'outcome="([a-z]*)"', k).group(1): int(v) for k, v in outcomes.items()
                  if "outcome=" in k}
    print(f"soak: engine outcomes {by_outcome}; "
          f"cache: spilled {tier.get('spilled_pages_total', 0)}, restored {tier.get('restored_pages_total', 0)}, "
          f"disk written {tier.get('disk_written_pages_total', 0)}, disk restored "
          f"{tier.get('disk_restored_pages_total', 0)}")
    print(f"soak: RSS {rss_first / 1024:.1f} -> {rss_last / 1024:.1f} MiB after warm-up ({100 * rss_growth:+.2f}%); "
          f"idle fds {idle_warm and idle_warm['fds']} -> {idle_end and idle_end['fds']}, threads "
          f"{idle_warm and idle_warm['threads']} -> {idle_end and idle_end['threads']}; server exit {exit_code}")
    print(f"soak: samples, summary{' and plot' if png else ''} in {args.out}")
    if problems:
        print("soak FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("soak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
