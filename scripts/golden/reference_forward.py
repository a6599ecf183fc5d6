#!/usr/bin/env python3
"""An independent float64 reference forward pass (numpy + the `gguf` package's dequantizers)
for the gemma3 and llama architectures, written from the architecture description in
shared/docs/model-facts.md, not from Parley's code.

For every prompt of a llama.cpp golden file (tests/golden/NAME.json) it records the top-10
logits at the last prompt position and a 32-token greedy continuation, computed exactly
(float64 throughout, no activation quantization, f64 KV cache). llama.cpp quantizes
activations to 8 bits and keeps an f16 KV cache, which moves its logits by up to ~0.8 on
these models; this reference tells Parley's arithmetic errors apart from that noise.

Usage: reference_forward.py --model PATH --golden tests/golden/NAME.json --out tests/golden/NAME.reference.json
Needs: pip install numpy gguf   (scripts/golden/make_reference.sh sets up a venv)
"""
import argparse
import json
import os

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


class Ref:
    def __init__(self, path):
        self.r = GGUFReader(path)
        self.t = {t.name: t for t in self.r.tensors}
        kv = {f.name: f for f in self.r.fields.values()}
        def get(key, default=None):
            f = kv.get(key)
            if f is None:
                return default
            v = f.parts[f.data[0]]
            return v.tolist()[0] if hasattr(v, "tolist") else v
        self.arch = bytes(kv["general.architecture"].parts[kv["general.architecture"].data[0]]).decode()
        a = self.arch
        self.L = get(a + ".block_count")
        self.H = get(a + ".embedding_length")
        self.nh = get(a + ".attention.head_count")
        self.nkv = get(a + ".attention.head_count_kv", self.nh)
        self.d = get(a + ".attention.key_length", self.H // self.nh)
        self.eps = get(a + ".attention.layer_norm_rms_epsilon")
        base = get(a + ".rope.freq_base", 10000.0)
        if a == "gemma3":
            window = get(a + ".attention.sliding_window", 0)
            local_base = get(a + ".rope.freq_base_swa", 10000.0)
            self.window = [window if (l % 6) < 5 else 0 for l in range(self.L)]
            self.base = [local_base if self.window[l] else base for l in range(self.L)]
        else:
            self.window = [0] * self.L
            self.base = [base] * self.L
        self.W = {}

    def w(self, name):
        if name not in self.W:
            t = self.t[name]
            self.W[name] = dequantize(t.data, t.tensor_type).astype(np.float64).reshape(
                [int(x) for x in reversed(t.shape)])
        return self.W[name]

    def norm(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def rope(self, v, pos, base):  # v [heads, d]
        d = self.d
        i = np.arange(d // 2)
        th = pos * base ** (-2.0 * i / d)
        c, s = np.cos(th), np.sin(th)
        v = v.copy()
        if self.arch == "gemma3":  # NEOX: pairs (i, i + d/2)
            a, b = v[:, :d // 2].copy(), v[:, d // 2:].copy()
            v[:, :d // 2], v[:, d // 2:] = a * c - b * s, a * s + b * c
        else:  # NORMAL: pairs (2i, 2i + 1)
            a, b = v[:, 0::2].copy(), v[:, 1::2].copy()
            v[:, 0::2], v[:, 1::2] = a * c - b * s, a * s + b * c
        return v

    def step(self, token, cache, logits=True):
        """Computes one token at position len(cache[0]['k']); returns its logits (or None)."""
        gem = self.arch == "gemma3"
        pos = len(cache[0]["k"])
        x = self.w("token_embd.weight")[token].copy()
        if gem:
            x *= np.sqrt(float(self.H))
        for l in range(self.L):
            g = lambda n: self.w(f"blk.{l}.{n}.weight")
            h = self.norm(x, g("attn_norm"))
            q = (g("attn_q") @ h).reshape(self.nh, self.d)
            k = (g("attn_k") @ h).reshape(self.nkv, self.d)
            v = (g("attn_v") @ h).reshape(self.nkv, self.d)
            if gem:
                q = self.norm(q, g("attn_q_norm"))
                k = self.norm(k, g("attn_k_norm"))
            q = self.rope(q, pos, self.base[l])
            k = self.rope(k, pos, self.base[l])
            cache[l]["k"].append(k)
            cache[l]["v"].append(v)
            K = np.stack(cache[l]["k"])  # [pos+1, nkv, d]
            V = np.stack(cache[l]["v"])
            lo = max(0, pos - self.window[l] + 1) if self.window[l] else 0
            o = np.zeros((self.nh, self.d))
            group = self.nh // self.nkv
            for hh in range(self.nh):
                s = K[lo:, hh // group] @ q[hh] / np.sqrt(self.d)
                p = np.exp(s - s.max())
                o[hh] = (p / p.sum()) @ V[lo:, hh // group]
            a = g("attn_output") @ o.reshape(-1)
            if gem:
                a = self.norm(a, g("post_attention_norm"))
            x = x + a
            h = self.norm(x, g("ffn_norm"))
            gt, up = g("ffn_gate") @ h, g("ffn_up") @ h
            if gem:
                act = 0.5 * gt * (1 + np.tanh(np.sqrt(2 / np.pi) * (gt + 0.044715 * gt ** 3)))
            else:
                act = gt / (1 + np.exp(-gt))
            f = g("ffn_down") @ (act * up)
            if gem:
                f = self.norm(f, g("post_ffw_norm"))
            x = x + f
        if not logits:
            return None
        h = self.norm(x, self.w("output_norm.weight"))
        head = self.w("output.weight") if "output.weight" in self.t else self.w("token_embd.weight")
        return head @ h


def top10(logits):
    order = np.lexsort((np.arange(len(logits)), -logits))[:10]
    return [[int(i), round(float(logits[i]), 5)] for i in order]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    golden = json.load(open(args.golden))
    ref = Ref(args.model)
    out = {"model_file": os.path.basename(args.model), "model_sha256": golden.get("model_sha256"),
           "method": "float64 numpy forward pass, gguf dequantizers, no activation quantization",
           "prompts": []}
    for p in golden["prompts"]:
        cache = [{"k": [], "v": []} for _ in range(ref.L)]
        for i, t in enumerate(p["ids"]):
            logits = ref.step(t, cache, logits=i + 1 == len(p["ids"]))
        entry = {"text": p["text"], "ids": p["ids"], "top10": top10(logits), "greedy": [], "greedy_margin": []}
        for _ in range(32):
            order = np.argsort(-logits)[:2]
            entry["greedy"].append(int(order[0]))
            entry["greedy_margin"].append(round(float(logits[order[0]] - logits[order[1]]), 5))
            logits = ref.step(int(order[0]), cache)
        out["prompts"].append(entry)
        print(f"{len(out['prompts'])}: {len(p['ids'])} tokens, top1 {entry['top10'][0]}", flush=True)
    with open(args.out, "w") as f:
        f.write("{\n")
        f.write(",\n".join(f'  {json.dumps(k)}: {json.dumps(v)}' for k, v in out.items() if k != "prompts"))
        f.write(',\n  "prompts": [\n')
        f.write(",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in out["prompts"]))
        f.write("\n  ]\n}\n")


if __name__ == "__main__":
    main()
