#!/usr/bin/env python3
"""Fails when a source file includes a module above its own layer (docs/ARCHITECTURE.md):
base <- kernels, gguf <- tokenizer, kv <- model, sampling, spec <- engine <- server, apps;
base <- loadgen (the HTTP load generator) <- apps; tests/ on top of everything.

Every .h/.cc under src/, apps/ and tests/ is checked, test files included:
- a file of src/M (or of a test-support library src/M/testing/) may include the modules
  at or below M's layer;
- only test files (*_test.cc, everything under tests/, the testing libraries themselves)
  may include a test-support library X/testing/, and only one at or below their layer;
- nothing includes tests/;
- SIMD intrinsics stay in kernels/.
Run by CTest as `layering`; `--self-test` checks the checker on fixture strings
(CTest `layering_self_test`)."""
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
    # Drafting for speculative decoding works on token ids alone.
    "spec": {"base", "spec"},
    "engine": {"base", "kernels", "gguf", "tokenizer", "kv", "prefix_cache", "model", "sampling", "spec", "engine"},
    "server": {"base", "kernels", "gguf", "tokenizer", "kv", "prefix_cache", "model", "sampling", "spec", "engine",
               "server"},
    # The load generator talks HTTP to any server; it knows nothing of the engine.
    "loadgen": {"base", "loadgen"},
}
SRC_MODULES = set(ALLOWED)
# The programs and the integration tests sit above every module.
ALLOWED["apps"] = set(SRC_MODULES)
ALLOWED["tests"] = set(SRC_MODULES)
KNOWN = SRC_MODULES | {"tests"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]*)"')
INTRINSICS = re.compile(r"#\s*include\s*<(immintrin|x86intrin|emmintrin)\.h>")


def layer_of(rel):
    """(module, is_test) of a repository-relative path such as src/model/foo_test.cc."""
    parts = rel.split("/")
    if parts[0] == "src":
        module = parts[1]
        is_test = rel.endswith("_test.cc") or (len(parts) > 3 and parts[2] == "testing")
    else:
        module = parts[0]  # apps or tests
        is_test = parts[0] == "tests" or rel.endswith("_test.cc")
    return module, is_test


def check_text(rel, text):
    """The layering errors of one file, given its repository-relative path and text."""
    module, is_test = layer_of(rel)
    if module not in ALLOWED:
        return []
    allowed = ALLOWED[module]
    bad = []
    for n, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m or m.group(1) not in KNOWN:
            continue
        target, rest = m.group(1), m.group(2)
        where = f"{rel}:{n}: includes {target}/{rest}"
        if target == "tests":
            bad.append(f"{where}: nothing includes tests/ (test support lives in src/<module>/testing/)")
        elif target not in allowed:
            bad.append(f"{where}: above the {module} layer")
        elif rest.startswith("testing/") and not is_test:
            bad.append(f"{where}: test support outside a test")
    if module != "kernels" and INTRINSICS.search(text):
        bad.append(f"{rel}: SIMD intrinsics outside kernels/")
    return bad


def check_tree():
    bad = []
    for top in ("src", "apps", "tests"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as f:
                    bad += check_text(rel, f.read())
    return bad


def self_test():
    """Each fixture: (path, text, number of errors expected)."""
    cases = [
        ("src/kv/page.cc", '#include "kv/page.h"\n#include "base/status.h"\n', 0),
        ("src/kv/page.cc", '#include "model/model.h"\n', 1),
        ("src/kv/page_test.cc", '#include "model/model.h"\n', 1),        # tests are checked too
        ("src/kv/page_test.cc", '#include "gguf/testing/tiny_model.h"\n', 1),  # support above kv
        ("src/model/load_test.cc", '#include "gguf/testing/tiny_model.h"\n', 0),
        ("src/model/load.cc", '#include "gguf/testing/tiny_model.h"\n', 1),    # not a test
        ("src/gguf/testing/tiny_model.cc", '#include "gguf/gguf_writer.h"\n', 0),
        ("src/gguf/testing/tiny_model.cc", '#include "model/model.h"\n', 1),
        ("src/model/load_test.cc", '#include "tests/tiny_model.h"\n', 1),
        ("apps/parley/main.cc", '#include "server/server.h"\n#include "loadgen/x.h"\n', 0),
        ("apps/parley/main.cc", '#include "gguf/testing/tiny_model.h"\n', 1),
        ("apps/parley/generator_test.cc", '#include "gguf/testing/tiny_model.h"\n', 0),
        ("tests/invariance_test.cc", '#include "engine/engine.h"\n#include "gguf/testing/tiny_model.h"\n', 0),
        ("tests/write_tiny_model.cc", '#include "gguf/testing/tiny_model.h"\n', 0),
        ("src/loadgen/client.cc", '#include "engine/engine.h"\n', 1),
        ("src/model/x.cc", "#include <immintrin.h>\n", 1),
        ("src/kernels/x_avx2.cc", "#include <immintrin.h>\n", 0),
        ("src/model/x.cc", '#include <nlohmann/json.hpp>\n#include "nlohmann/json.hpp"\n', 0),
    ]
    failed = 0
    for rel, text, want in cases:
        got = check_text(rel, text)
        if len(got) != want:
            failed += 1
            print(f"self-test FAILED: {rel} {text!r}: want {want} error(s), got {got}")
    print(f"layering self-test: {len(cases) - failed}/{len(cases)} ok")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    bad = check_tree()
    print("\n".join(bad) if bad else "layering ok")
    sys.exit(1 if bad else 0)
