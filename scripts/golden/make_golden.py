#!/usr/bin/env python3
"""Writes golden reference data for one GGUF model, computed by llama.cpp via llama-cpp-python.

Usage: make_golden.py --model PATH --name NAME --out tests/golden/NAME.json
(normally run by scripts/golden/make_golden.sh, which sets up the venv).

Output JSON (one entry per line for readable diffs):
  model_file, model_sha256, llama_cpp_python_version, config (how logits were computed),
  tokenize: [{text, add_special, parse_special, ids}]   every string of strings.py, twice:
            (add_special=True, parse_special=True) and (False, False)
  prompts:  [{text, ids, top10: [[id, logit], ...], greedy: [32 ids], greedy_margin, greedy_text}]
            ids: tokenized with add_special=True, parse_special=True.
            top10: raw logits (no softmax, no penalties) at the last prompt position, sorted by
                   logit descending (ties by id ascending), logits rounded to 5 decimals.
            greedy: 32 tokens by plain argmax, one token per decode, never stopping on EOS.
            greedy_margin: per greedy step, top-1 minus top-2 logit. llama.cpp's own greedy path
                   flips where this is small (f32 vs f16 KV cache moves logits by up to ~0.6),
                   so compare greedy ids only up to the first step with a small margin.
            greedy_text: detokenized greedy ids (special tokens rendered), for humans only.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import llama_cpp
import llama_cpp.llama as _llama_mod

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from strings import STRINGS, LONG_PARAGRAPH, LONG_PARAGRAPH_2  # noqa: E402

N_CTX = 1024
N_BATCH = 512
N_THREADS = 2
SEED = 0
N_GREEDY = 32

CHAT_PROMPTS = {
    "gemma3-270m": "<start_of_turn>user\nWrite a haiku about the sea.<end_of_turn>\n"
                   "<start_of_turn>model\n",
    "smollm2-135m": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                    "<|im_start|>assistant\n",
}

LONG_PROMPT = (  # ~300 tokens
    LONG_PARAGRAPH + "\n\n" + LONG_PARAGRAPH_2 + "\n\n"
    "In the end, the choice of tokenizer shapes what the model finds easy and what it finds "
    "hard, and so the most important lesson of this chapter is"
)


def common_prompts():
    return [
        "The quick brown fox jumps over the lazy dog. The dog, however, was not amused and",
        "Question: What is the capital city of Japan?\nAnswer:",
        "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
        None,  # chat prompt, per model
        "1, 2, 3, 5, 8, 13, 21,",
        "Monday, Tuesday, Wednesday,",
        LONG_PROMPT,
    ]


def load_model(path):
    """Loads the model with use_extra_bufts=False: no weight repacking (CPU_REPACK, AMX), so the
    matmuls run ggml's plain per-type dot products (e.g. vec_dot_q4_K_q8_K). Repacking depends on
    the CPU's features and changes Gemma's logits by up to ~1 (as much as an f32 KV cache does),
    so disabling it makes the golden data independent of the machine that made it.
    llama-cpp-python has no constructor argument for it, so the defaults are patched here."""
    orig = _llama_mod.llama_cpp.llama_model_default_params

    def no_extra_bufts():
        p = orig()
        p.use_extra_bufts = False
        return p

    _llama_mod.llama_cpp.llama_model_default_params = no_extra_bufts
    try:
        llm = llama_cpp.Llama(
            model_path=path,
            n_ctx=N_CTX,
            n_batch=N_BATCH,
            n_ubatch=N_BATCH,
            n_threads=N_THREADS,
            n_threads_batch=N_THREADS,
            seed=SEED,
            logits_all=False,
            flash_attn=False,
            verbose=False,
        )
    finally:
        _llama_mod.llama_cpp.llama_model_default_params = orig
    assert not llm.model_params.use_extra_bufts
    return llm


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def last_logits(llm):
    """Raw logits of the last token of the last decoded batch (copied)."""
    n_vocab = llm.n_vocab()
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float32).copy()


def run_prompt(llm, ids):
    llm.reset()
    llm.eval(ids)
    logits = last_logits(llm)
    order = sorted(range(len(logits)), key=lambda i: (-float(logits[i]), i))[:10]
    top10 = [[int(i), round(float(logits[i]), 5)] for i in order]
    greedy, margins = [], []
    for _ in range(N_GREEDY):
        tok = int(np.argmax(logits))  # first max index on ties
        top2 = np.partition(logits, -2)[-2:]
        greedy.append(tok)
        margins.append(round(float(top2[1] - top2[0]), 4))
        llm.eval([tok])
        logits = last_logits(llm)
    return top10, greedy, margins


def dump(obj):
    """Compact JSON with one list element per line for the big arrays."""
    head = {k: v for k, v in obj.items() if k not in ("tokenize", "prompts")}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    for key in ("tokenize", "prompts"):
        items = obj[key]
        lines.append(f"  {json.dumps(key)}: [")
        for i, it in enumerate(items):
            sep = "," if i + 1 < len(items) else ""
            lines.append("    " + json.dumps(it, ensure_ascii=False, separators=(",", ":")) + sep)
        lines.append("  ]" + ("," if key == "tokenize" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True, choices=sorted(CHAT_PROMPTS))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    llm = load_model(args.model)

    tok = []
    for text in STRINGS:
        for special in (True, False):
            ids = llm.tokenize(text.encode("utf-8"), add_bos=special, special=special)
            tok.append({"text": text, "add_special": special, "parse_special": special,
                        "ids": [int(i) for i in ids]})

    prompts = []
    for text in common_prompts():
        if text is None:
            text = CHAT_PROMPTS[args.name]
        ids = [int(i) for i in llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)]
        top10, greedy, margins = run_prompt(llm, ids)
        greedy_text = llm.detokenize(greedy, special=True).decode("utf-8", errors="replace")
        prompts.append({"text": text, "ids": ids, "top10": top10, "greedy": greedy,
                        "greedy_margin": margins, "greedy_text": greedy_text})
        print(f"[{args.name}] {len(ids)} prompt tokens, top1={top10[0]} -> {greedy_text!r}",
              file=sys.stderr)

    out = {
        "model_file": os.path.basename(args.model),
        "model_sha256": sha256_file(args.model),
        "llama_cpp_python_version": llama_cpp.__version__,
        "config": {"n_ctx": N_CTX, "n_batch": N_BATCH, "n_ubatch": N_BATCH,
                   "n_threads": N_THREADS, "seed": SEED, "kv_cache_type": "f16",
                   "flash_attn": False, "use_extra_bufts": False,
                   "n_vocab": llm.n_vocab(),
                   "greedy": "argmax, one token per decode, no EOS stop, no penalties"},
        "tokenize": tok,
        "prompts": prompts,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(dump(out))
    print(f"wrote {args.out}: {len(tok)} tokenize entries, {len(prompts)} prompts",
          file=sys.stderr)


if __name__ == "__main__":
    main()
