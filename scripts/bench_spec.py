#!/usr/bin/env python3
"""Speculative decoding, off vs on, in one sitting (issue #17): starts `parley serve` twice on
the same model (--spec off, --spec ngram), then times, alternating off/on and repeating:
  edit   regenerate a ~300-token text with one sentence changed, the original as `prediction`
  quote  repeat a persona's rules back after a long conversation (drafts from the history)
and reports the decode rate (reply tokens after the first / time after the first token),
medians over the repeats, and the ratio on/off. The multi-turn chat workload and 16 streams
run with `parley bench` against the same two servers (see --bench).

  scripts/bench_spec.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf [--repeats 3] [--bench]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TEXT = (
    "The lighthouse on Mercer Point was built in 1871 from granite quarried on the island itself. "
    "For ninety years a keeper and his family lived in the small cottage beside the tower, trimming "
    "the wick every four hours and winding the clockwork that turned the lens. The lens was a "
    "third-order Fresnel lens made in Paris, and on a clear night its beam could be seen from "
    "twenty-two miles away. In 1962 the light was automated and the last keeper, Thomas Hale, moved "
    "to the mainland, where he wrote a short book about the storms he had seen. The cottage stood "
    "empty for decades until a local society restored it in 2004 and opened it as a museum. Today "
    "visitors can climb the one hundred and twelve steps to the lantern room, look at the original "
    "lens, and read the logbooks in which the keepers recorded every ship that passed, every storm "
    "that struck, and every night the fog horn sounded. The society still keeps the grounds, plants "
    "the garden each spring, and holds a small festival every August to remember the keepers and "
    "their families, who kept the light burning through every season for almost a century.")
OLD = "In 1962 the light was automated"
NEW = "In 1965 the light was finally automated"

RULES = ("You are Captain Mara, the ship's quartermaster. Your rules: 1. Never reveal the location of "
         "the treasure map. 2. Always answer in a calm, formal voice. 3. Ration fresh water to two cups "
         "per sailor per day. 4. Report every sighting of another ship to the captain at once. 5. Keep "
         "the powder room locked after sunset. 6. Greet every new crew member by their full name.")
CHAT = [("Who are you?", "I am Captain Mara, quartermaster of this ship."),
        ("How much water do we get?", "Two cups of fresh water per sailor per day, no more."),
        ("Can I go to the powder room tonight?", "No. The powder room is locked after sunset."),
        ("Where is the treasure map?", "I will not reveal the location of the treasure map."),
        ("I saw a ship on the horizon.", "Thank you. I will report the sighting to the captain at once.")]


def post(url, body, timeout=600):
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.time()
    first, n, text, usage = None, 0, "", None
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices", []):
                piece = (c.get("delta") or {}).get("content") or ""
                if piece:
                    if first is None:
                        first = time.time()
                    text += piece
    end = time.time()
    tokens = usage["completion_tokens"] if usage else 0
    rate = (tokens - 1) / (end - first) if first and tokens > 1 and end > first else 0.0
    return {"rate": rate, "tokens": tokens, "text": text, "usage": usage, "ttft": (first or end) - t0}


def edit_request(max_tokens):
    return {"messages": [{"role": "system", "content": "You are a careful copy editor."},
                         {"role": "user", "content": "Rewrite the text below exactly as it is, word for word, "
                          f"except change \"{OLD}\" to \"{NEW}\".\n\n{TEXT}"}],
            "prediction": {"type": "content", "content": TEXT},
            "max_tokens": max_tokens, "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}


def quote_request(max_tokens):
    msgs = [{"role": "system", "content": RULES}]
    for q, a in CHAT:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": "Repeat your rules back to me, word for word, numbered."})
    return {"messages": msgs, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}


def start(model, port, spec, extra):
    log = open(f"/tmp/bench_spec_{port}.log", "w")
    p = subprocess.Popen([os.path.join(ROOT, "build/bin/parley"), "serve", "-m", model, "--port", str(port),
                          "--spec", spec, "--canary-rate", "0"] + extra, stdout=log, stderr=log)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return p
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--bench", action="store_true", help="also run parley bench at 1, 8 and 16 users")
    ap.add_argument("--out", default="bench-spec")
    ap.add_argument("extra", nargs="*", help="more parley serve options (after --)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    off_url, on_url = f"http://127.0.0.1:{a.port}", f"http://127.0.0.1:{a.port + 1}"
    servers = [start(a.model, a.port, "off", a.extra), start(a.model, a.port + 1, "ngram", a.extra)]
    results = {}
    try:
        for task, make in (("edit", lambda: edit_request(400)), ("quote", lambda: quote_request(200))):
            rates = {"off": [], "on": []}
            for rep in range(a.repeats + 1):  # the first round warms up (cost model, caches)
                off = post(off_url, make())
                on = post(on_url, make())
                if off["text"] != on["text"]:
                    print(f"{task}: replies differ with speculation on and off", file=sys.stderr)
                    sys.exit(1)
                if rep == 0:
                    continue
                rates["off"].append(off["rate"])
                rates["on"].append(on["rate"])
                det = (on["usage"] or {}).get("completion_tokens_details", {})
            r_off, r_on = statistics.median(rates["off"]), statistics.median(rates["on"])
            results[task] = {"tokens": on["tokens"], "off_tok_s": r_off, "on_tok_s": r_on, "ratio": r_on / r_off,
                             "accepted_prediction_tokens": det.get("accepted_prediction_tokens"),
                             "drafted_tokens": det.get("drafted_tokens"), "accepted_draft_tokens": det.get("accepted_draft_tokens")}
            print(f"{task}: {on['tokens']} tokens; decode {r_off:.1f} tok/s off, {r_on:.1f} on: "
                  f"{r_on / r_off:.2f}x; drafted {det.get('drafted_tokens')}, accepted {det.get('accepted_draft_tokens')}"
                  f" (prediction: {det.get('accepted_prediction_tokens')} accepted, "
                  f"{det.get('rejected_prediction_tokens')} rejected)", flush=True)
            with open(os.path.join(a.out, f"{task}-reply.txt"), "w") as f:
                f.write(on["text"])
        if a.bench:
            for users, reply in ((1, 64), (8, 64), (16, 128)):
                out = os.path.join(a.out, f"bench-{users}")
                cmd = [os.path.join(ROOT, "build/bin/parley"), "bench", "compare", "--url-a", off_url, "--name-a",
                       "spec-off", "--url-b", on_url, "--name-b", "spec-on", "--users", str(users), "-n",
                       str(2 * users), "--turns", "4", "--reply-tokens", str(reply), "--persona-tokens",
                       "normal:600:100", "--temperature", "0", "--seed", str(users), "--max-duration", "120",
                       "-q", "--no-plots", "-o", out]
                subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
                try:
                    cmp_ = json.load(open(os.path.join(out, "report.json")))
                    a_, b_ = cmp_["endpoints"]
                    results[f"bench-{users}"] = {"off": a_, "on": b_}
                    print(f"bench {users} users: output {a_['output_tokens_per_s']:.1f} tok/s off, "
                          f"{b_['output_tokens_per_s']:.1f} on: {b_['output_tokens_per_s'] / a_['output_tokens_per_s']:.2f}x;"
                          f" TPOT p50 {1000 * a_['tpot_s']['p50']:.0f} ms off, {1000 * b_['tpot_s']['p50']:.0f} on;"
                          f" drafted {b_.get('draft_tokens')}, accepted {b_.get('draft_accepted')}", flush=True)
                except Exception as e:  # report what ran
                    print(f"bench {users} users: no comparison ({e})", flush=True)
        with urllib.request.urlopen(on_url + "/metrics") as m:
            spec_lines = [l for l in m.read().decode().splitlines() if l.startswith("parley_spec") or
                          l.startswith("parley_step_cost")]
        print("\n".join(spec_lines))
        json.dump(results, open(os.path.join(a.out, "spec.json"), "w"), indent=1)
    finally:
        for p in servers:
            p.terminate()
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
