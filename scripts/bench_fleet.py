#!/usr/bin/env python3
"""The fleet's bench report (issue #16, docs/fleet.md "Figures"): one `parley bench` workload
(16-turn conversations drawing their persona from 8 shared characters) against

  sticky        scripts/fleet.sh: 2 replicas (-t 1 each) + HAProxy (deploy/haproxy.cfg) + Redis
  roundrobin    the same fleet with `--balance roundrobin` (same config, `balance roundrobin`)
  single-t2     one `parley serve -t 2` (the fleet's two cores in one process), no HAProxy/Redis
  single-t1     one `parley serve -t 1` (one replica of the fleet, alone)
  kill          the sticky fleet; replica r1 is SIGKILLed at --kill-at seconds into the run
  kill-noredis  the same without Redis (--no-redis): the moved conversations recompute

and prints, per setting: cached share (cached / prompt tokens), TTFT p50/p99, output tok/s,
failed requests; for the kill settings also the moved conversations (those whose last turn
before the kill was answered by r1, per the X-Parley-Replica header in requests.jsonl): the
share of their history that was cached on their next turn, that turn's TTFT against the
survivor's sticky hits after the kill, and the survivor's Redis imports.

Timing needs a quiet machine: before each run it waits (at most --quiet-wait s) until the
1-minute load average is below --quiet-load (at most --quiet-total s in all), and records the
load before and after.

  scripts/bench_fleet.py [--settings sticky roundrobin single-t2 single-t1 kill kill-noredis]
                         [-n 16 --users 4 --port 18000 --out /tmp/bench_fleet]

Raw outputs (each run's report.json, requests.jsonl, summary.txt, replica logs) go under
--out; the tables go to stdout, the figures to --out/results.json (settings run in several
sittings with the same --out add up there). Ports: HAProxy P, replicas P+1..P+2,
Redis P+100.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLEET = os.path.join(ROOT, "scripts/fleet.sh")
ALL = ["sticky", "roundrobin", "single-t2", "single-t1", "kill", "kill-noredis"]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(limit, max_wait):
    """Waits until the 1-minute load average is below `limit`; returns (seconds waited, quiet)."""
    t0 = time.time()
    while loadavg() >= limit:
        if time.time() - t0 > max_wait:
            return time.time() - t0, False
        time.sleep(5)
    return time.time() - t0, True


def wait_ok(url, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(url + " did not come up")


def metrics(url):
    out = {}
    try:
        text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    except Exception:
        return out
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class Fleet:
    def __init__(self, a, out, fleet_args):
        self.env = dict(os.environ, PARLEY_FLEET_DIR=os.path.join(out, "fleet"), PARLEY_BIN=a.bin)
        r = subprocess.run([FLEET, "up", "--replicas", "2", "--port", str(a.port), *fleet_args, "--",
                            *a.serve_args(1)], env=self.env, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("fleet.sh up failed:\n" + r.stdout + r.stderr)
        self.pids = {}
        for line in r.stdout.splitlines():
            role, index, _, pid, _, _ = line.split()
            self.pids[f"{role}{index}"] = int(pid)
        self.url = f"http://127.0.0.1:{a.port}"
        self.replica_url = {f"r{i}": f"http://127.0.0.1:{a.port + i}" for i in (1, 2)}

    def down(self):
        subprocess.run([FLEET, "down"], env=self.env, capture_output=True, timeout=180)


class Single:
    def __init__(self, a, out, threads):
        self.log = open(os.path.join(out, "replica.log"), "w")
        port = a.port + 1
        self.proc = subprocess.Popen([a.bin, "serve", "--host", "127.0.0.1", "--port", str(port),
                                      *a.serve_args(threads)], stdout=self.log, stderr=self.log)
        self.url = f"http://127.0.0.1:{port}"
        wait_ok(self.url + "/health")

    def down(self):
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def run_bench(a, url, out, kill_pid=None):
    """Runs `parley bench`; with kill_pid, SIGKILLs it --kill-at s in. Returns (report, rows, kill_s)."""
    cmd = [a.bin, "bench", "--url", url, "--name", os.path.basename(out), "-n", str(a.conversations),
           "--users", str(a.users), "--turns", str(a.turns), "--characters", str(a.characters),
           "--reply-tokens", a.reply_tokens, "--seed", str(a.seed), "-o", out, "--no-plots", "-q"]
    if a.interleave:
        cmd.append("--interleave")
    with open(os.path.join(out, "command.txt"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kill_s = None
    if kill_pid is not None:
        try:
            p.wait(a.kill_at)
        except subprocess.TimeoutExpired:
            os.kill(kill_pid, signal.SIGKILL)
            kill_s = time.time() - t0  # since the bench started (its run clock starts ~ms later)
    text, _ = p.communicate()
    with open(os.path.join(out, "bench.log"), "w") as f:
        f.write(text)
    if p.returncode != 0:
        raise RuntimeError("parley bench failed:\n" + text[-2000:])
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)["endpoints"][0]
    with open(os.path.join(out, "requests.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return report, rows, kill_s


def headline(report, rows):
    ttft = report["ttft_s"]
    return {"requests": report["requests"], "failed": report["failed"], "not_sent": report["not_sent"],
            "errors": report.get("errors", {}), "cached_share": report["cached_share"],
            "ttft_p50_ms": ttft["p50"] * 1e3, "ttft_p99_ms": ttft["p99"] * 1e3,
            "output_tok_s": report["output_tokens_per_s"], "duration_s": report["duration_s"],
            "by_replica": {r: sum(1 for x in rows if x.get("replica") == r) for r in ("r1", "r2")}}


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (k - lo)


def moved_figures(rows, kill_s, dead="r1"):
    """Splits a kill run's requests at the kill: the moved conversations' next turns, the
    survivor's sticky hits after the kill, and the failures."""
    by_conv = {}
    for r in rows:
        by_conv.setdefault(r["conversation"], []).append(r)
    moved, sticky_after, after = [], [], []
    for conv, turns in by_conv.items():
        turns.sort(key=lambda r: r["turn"])
        before = [r for r in turns if r["start_s"] < kill_s and r["ok"]]
        later = [r for r in turns if r["start_s"] >= kill_s]
        after += later
        if not later:
            continue
        nxt = later[0]
        if before and before[-1].get("replica") == dead:
            if nxt["ok"] and nxt["turn"] > 1:
                prev = before[-1]
                history = prev["prompt_tokens"] + prev["completion_tokens"]
                moved.append(dict(nxt, history=history, prev_ttft_ms=prev["ttft_ms"]))
        else:
            sticky_after += [r for r in later if r["ok"] and r["turn"] > 1 and r.get("replica") != dead]
    failed = [r for r in rows if not r["ok"]]
    ok_after = [r for r in after if r["ok"]]
    share = lambda rs: (sum(r["cached_tokens"] for r in rs) / max(1, sum(r["prompt_tokens"] for r in rs)))
    return {
        "kill_s": kill_s,
        "failed": len(failed),
        "failed_on": sorted({r.get("replica", "?") for r in failed}),
        "failed_in_flight_at_kill": sum(1 for r in failed if r["start_s"] < kill_s),
        "cached_share_after_kill": share(ok_after),
        "moved_conversations": len(moved),
        "moved_history_tokens": sum(r["history"] for r in moved),
        "moved_cached_tokens": sum(min(r["cached_tokens"], r["history"]) for r in moved),
        "moved_history_cached_share": (sum(min(r["cached_tokens"], r["history"]) for r in moved)
                                       / max(1, sum(r["history"] for r in moved))),
        "moved_ttft_ms": [round(r["ttft_ms"], 1) for r in moved],
        "moved_turns": [(r["conversation"], r["turn"]) for r in moved],
        "moved_ttft_p50_ms": pct([r["ttft_ms"] for r in moved], 50),
        "moved_prev_ttft_p50_ms": pct([r["prev_ttft_ms"] for r in moved], 50),
        "sticky_after_kill_ttft_p50_ms": pct([r["ttft_ms"] for r in sticky_after], 50),
        "sticky_after_kill_count": len(sticky_after),
    }


REMOTE = ("parley_prefix_cache_remote_imported_pages_total", 'parley_prefix_cache_remote_pages_total{result="hit"}',
          'parley_prefix_cache_remote_pages_total{result="miss"}', 'parley_prefix_cache_remote_bytes_total{direction="read"}',
          "parley_prefix_cache_remote_wait_seconds_sum", "parley_prefix_cache_remote_wait_seconds_count")


def run_setting(a, name):
    out = os.path.join(a.out, name)
    os.makedirs(out, exist_ok=True)
    if name.startswith("single"):
        server = Single(a, out, int(name[-1]))
    else:
        fleet_args = {"sticky": [], "roundrobin": ["--balance", "roundrobin"], "kill": [],
                      "kill-noredis": ["--no-redis"]}[name]
        server = Fleet(a, out, fleet_args)
    try:
        waited, quiet = wait_quiet(a.quiet_load, max(0, min(a.quiet_wait, a.quiet_total - a.waited)))
        a.waited += waited
        load_before = loadavg()
        survivor0 = metrics(server.replica_url["r2"]) if name.startswith("kill") else {}
        report, rows, kill_s = run_bench(a, server.url, out, server.pids["replica1"] if name.startswith("kill") else None)
        load_after = loadavg()
        res = {"setting": name, "load_before": load_before, "load_after": load_after, "quiet": quiet,
               "waited_s": round(waited), **headline(report, rows)}
        if name.startswith("kill"):
            if kill_s is None:
                raise RuntimeError("the run ended before --kill-at: raise the workload or lower --kill-at")
            res.update(moved_figures(rows, kill_s))
            survivor1 = metrics(server.replica_url["r2"])
            res["survivor_remote_after_kill"] = {k: survivor1.get(k, 0) - survivor0.get(k, 0) for k in REMOTE}
    finally:
        server.down()
    return res


def table(results):
    lines = ["| setting | cached share | TTFT p50 | TTFT p99 | output tok/s | failed / requests | r1/r2 | load before/after |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['setting']} | {r['cached_share'] * 100:.1f}% | {r['ttft_p50_ms']:.0f} ms | "
                     f"{r['ttft_p99_ms']:.0f} ms | {r['output_tok_s']:.1f} | {r['failed']} / {r['requests']} | "
                     f"{r['by_replica']['r1']}/{r['by_replica']['r2']} | {r['load_before']:.2f} / "
                     f"{r['load_after']:.2f}{'' if r['quiet'] else ' (never quiet)'} |")
    kills = [r for r in results if r["setting"].startswith("kill")]
    if kills:
        lines += ["", "| setting | kill at | failed (in flight on r1) | cached share after kill | moved convs | "
                  "moved history cached | moved turn TTFT p50 | survivor sticky hits TTFT p50 | Redis pages imported |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in kills:
            f = lambda v: "-" if v is None else f"{v:.0f} ms"
            lines.append(f"| {r['setting']} | {r['kill_s']:.0f} s | {r['failed']} ({r['failed_in_flight_at_kill']}, "
                         f"on {','.join(r['failed_on']) or '-'}) | {r['cached_share_after_kill'] * 100:.1f}% | "
                         f"{r['moved_conversations']} | {r['moved_history_cached_share'] * 100:.1f}% of "
                         f"{r['moved_history_tokens']} | {f(r['moved_ttft_p50_ms'])} | "
                         f"{f(r['sticky_after_kill_ttft_p50_ms'])} (n={r['sticky_after_kill_count']}) | "
                         f"{r['survivor_remote_after_kill'][REMOTE[0]]:.0f} |")
    both = {r["setting"]: r for r in kills}
    if "kill" in both and "kill-noredis" in both:
        # The same (conversation, turn) moved in both runs: restored from Redis vs recomputed.
        pairs = {tuple(t): ms for t, ms in zip(both["kill-noredis"]["moved_turns"], both["kill-noredis"]["moved_ttft_ms"])}
        common = [(ms, pairs[tuple(t)]) for t, ms in zip(both["kill"]["moved_turns"], both["kill"]["moved_ttft_ms"])
                  if tuple(t) in pairs]
        if common:
            lines += ["", f"moved turns in both kill runs: {len(common)}; TTFT p50 from Redis "
                      f"{pct([c[0] for c in common], 50):.0f} ms, recomputed {pct([c[1] for c in common], 50):.0f} ms"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", default=ALL, choices=ALL)
    ap.add_argument("-m", "--model", default=os.path.join(ROOT, "models/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin/parley"))
    ap.add_argument("-n", "--conversations", type=int, default=16)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--turns", type=int, default=16)
    ap.add_argument("--characters", type=int, default=8)
    ap.add_argument("--reply-tokens", default="96")
    ap.add_argument("--no-interleave", dest="interleave", action="store_false",
                    help="users play conversations one after another (default: --interleave, many open chats)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--kill-at", type=float, default=0,
                    help="seconds into the kill runs (0: half the sticky run's duration when it ran first, else 90)")
    ap.add_argument("--port", type=int, default=18000)
    ap.add_argument("--quiet-load", type=float, default=0.6)
    ap.add_argument("--quiet-wait", type=float, default=900, help="at most this long before each run")
    ap.add_argument("--quiet-total", type=float, default=1800, help="and at most this long in all")
    ap.add_argument("--out", default="/tmp/bench_fleet")
    a = ap.parse_args()
    a.serve_args = lambda threads: ["-m", a.model, "-t", str(threads), "-c", str(a.ctx), "--model-name", "gemma",
                                    "--no-webui", "--canary-rate", "0"]
    a.waited = 0
    os.makedirs(a.out, exist_ok=True)
    # Settings run in several sittings add up in one results.json (a setting run again replaces its row).
    path = os.path.join(a.out, "results.json")
    results = []
    if os.path.exists(path):
        with open(path) as f:
            results = [r for r in json.load(f) if r["setting"] not in a.settings]
    for name in a.settings:
        print(f"== {name} {time.strftime('%H:%M:%S')}", file=sys.stderr, flush=True)
        if name.startswith("kill") and not a.kill_at:
            sticky = [r for r in results if r["setting"] == "sticky"]
            a.kill_at = round(sticky[0]["duration_s"] / 2) if sticky else 90
        results.append(run_setting(a, name))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
    print(table(results))


if __name__ == "__main__":
    sys.exit(main())
