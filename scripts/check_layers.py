#!/usr/bin/env python3
"""Fails when a source file includes a module above its own layer (docs/ARCHITECTURE.md):
base <- kernels, gguf <- tokenizer, kv <- model, sampling <- engine <- server, apps;
base <- loadgen (the HTTP load generator) <- apps.
Run by CTest as `layering`."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# module -> modules it may include (itself included)
ALLOWED = {
    "base": {"base"},
    "kernels": {"base", "kernels"},
    "gguf": {"base", "kernels", "gguf"},
    "tokenizer": {"base", "kernels", "gguf", "tokenizer"},
    "kv": {"base", "kernels", "kv"},
    "prefix_cache": {"base", "kernels", "kv", "prefix_cache"},
    "model": {"base", "kernels", "gguf", "tokenizer", "kv", "model"},
    "sampling": {"base", "kernels", "sampling"},
    "engine": {"base", "kernels", "gguf", "tokenizer", "kv", "prefix_cache", "model", "sampling", "engine"},
    "server": {"base", "kernels", "gguf", "tokenizer", "kv", "prefix_cache", "model", "sampling", "engine", "server"},
    # The load generator talks HTTP to any server; it knows nothing of the engine.
    "loadgen": {"base", "loadgen"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
bad = []
for module, allowed in ALLOWED.items():
    d = os.path.join(ROOT, "src", module)
    for name in sorted(os.listdir(d)):
        if not name.endswith((".h", ".cc")):
            continue
        for n, line in enumerate(open(os.path.join(d, name), encoding="utf-8"), 1):
            m = INCLUDE.match(line)
            if m and m.group(1) in ALLOWED and m.group(1) not in allowed and not name.endswith("_test.cc"):
                bad.append(f"src/{module}/{name}:{n}: includes {m.group(1)}/, above the {module} layer")
# Intrinsics stay in kernels/.
for module in ALLOWED:
    if module == "kernels":
        continue
    d = os.path.join(ROOT, "src", module)
    for name in sorted(os.listdir(d)):
        text = open(os.path.join(d, name), encoding="utf-8", errors="replace").read() if name.endswith((".h", ".cc")) else ""
        if re.search(r"#\s*include\s*<(immintrin|x86intrin|emmintrin)\.h>", text):
            bad.append(f"src/{module}/{name}: SIMD intrinsics outside kernels/")
print("\n".join(bad) if bad else "layering ok")
sys.exit(1 if bad else 0)
