"""parley perplexity and parley bench-model, run as a user would, on the tiny model."""

import math
import re
import subprocess

from conftest import PARLEY_BIN, ROOT

TIMEOUT_S = 120


def parley(*args):
    return subprocess.run([PARLEY_BIN, *args], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)


def write_text(path, words=600):
    sentences = ["The quick brown fox jumps over the lazy dog.", "A licence gives the right to copy and change.",
                 "Every turn of a conversation resends its history."]
    path.write_text(" ".join(sentences[i % 3] for i in range(words // 8)))
    return str(path)


def ppl_of(out):
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
    assert m, out
    return float(m.group(1))


def test_perplexity_reports_a_finite_estimate_and_int8_weights_stay_close(tiny_model, tmp_path):
    text = write_text(tmp_path / "text.txt")
    r = parley("perplexity", "-m", tiny_model, "-f", text, "-c", "64", "--chunks", "3", "-t", "1", "--exact")
    assert r.returncode == 0, r.stderr
    assert "gguf weights, f32 activations, f32 KV" in r.stderr, r.stderr
    ppl = ppl_of(r.stdout)
    assert math.isfinite(ppl) and ppl > 1.0
    assert r.stdout.startswith("[1]") and "[3]" in r.stdout  # the running estimate per chunk
    r8 = parley("perplexity", "-m", tiny_model, "-f", text, "-c", "64", "--chunks", "3", "-t", "1",
                "--weights", "int8", "--kv-dtype", "f32")
    assert r8.returncode == 0, r8.stderr
    assert abs(ppl_of(r8.stdout) / ppl - 1) < 0.05, (ppl, r8.stdout)


def test_the_fast_path_is_the_default_and_the_exact_path_one_flag_away(tiny_model):
    r = parley("run", "-m", tiny_model, "-p", "hello", "-n", "2", "-t", "1")
    assert r.returncode == 0, r.stderr
    # The fast path's weights depend on the CPU: packed at the file's bits, or int8 rows where
    # AMX tiles run prompts.
    assert ("numerics: fast path (packed file-bit weights, 16-bit activations, int8 KV" in r.stderr or
            "numerics: fast path (int8 weights, 16/8-bit activations, int8 KV" in r.stderr), r.stderr
    r = parley("run", "-m", tiny_model, "-p", "hello", "-n", "2", "-t", "1", "--exact")
    assert r.returncode == 0, r.stderr
    assert "numerics: exact path (the file's weights, f32 activations, f32 KV)" in r.stderr, r.stderr
    r = parley("run", "-m", tiny_model, "-p", "hello", "-n", "2", "-t", "1", "--kv-dtype", "f16")
    assert r.returncode == 0 and "numerics: custom numerics" in r.stderr, r.stderr
    r = parley("run", "-m", tiny_model, "-p", "hello", "-n", "2", "-t", "1", "--weights", "w8a8")
    assert r.returncode == 0 and "int8 weights and activations (W8A8)" in r.stderr, r.stderr
    for weights in ("packed", "int8"):
        r = parley("run", "-m", tiny_model, "-p", "hello", "-n", "2", "-t", "1", "--weights", weights)
        assert r.returncode == 0 and "numerics: " in r.stderr, r.stderr
    r = parley("run", "-m", tiny_model, "-p", "hello", "-n", "2", "--exact", "--weights", "int8")
    assert r.returncode != 0 and "--exact means" in r.stderr, r.stderr


def test_perplexity_with_an_int8_kv_cache_stays_close_to_f32(tiny_model, tmp_path):
    text = write_text(tmp_path / "text.txt")
    args = ["perplexity", "-m", tiny_model, "-f", text, "-c", "64", "--chunks", "3", "-t", "1", "--weights", "gguf"]
    r = parley(*args, "--kv-dtype", "f32")
    assert r.returncode == 0, r.stderr
    r8 = parley(*args, "--kv-dtype", "int8")
    assert r8.returncode == 0, r8.stderr
    assert "int8 KV" in r8.stderr, r8.stderr
    assert abs(ppl_of(r8.stdout) / ppl_of(r.stdout) - 1) < 0.02, (r.stdout, r8.stdout)
    r = parley(*args, "--kv-dtype", "int4")
    assert r.returncode != 0 and "int8" in r.stderr, r.stderr


def test_perplexity_refuses_missing_and_short_texts(tiny_model, tmp_path):
    r = parley("perplexity", "-m", tiny_model, "-f", str(tmp_path / "nope.txt"))
    assert r.returncode == 1 and "cannot read" in r.stderr
    short = tmp_path / "short.txt"
    short.write_text("too short")
    r = parley("perplexity", "-m", tiny_model, "-f", str(short), "-c", "512")
    assert r.returncode == 1 and "fewer than one chunk" in r.stderr


def test_bench_model_prints_a_llama_bench_style_table(tiny_model):
    r = parley("bench-model", "-m", tiny_model, "-p", "32", "-n", "8", "-s", "1,4", "-d", "0,16", "-r", "2",
               "-t", "1")
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| tiny")]
    tests = [line.split("|")[8].strip() for line in rows]
    assert tests == ["pp32", "tg8", "tg8 x4", "pp32 @ d16", "tg8 @ d16", "tg8 x4 @ d16"], r.stdout
    for line in rows:
        rate = float(line.split("|")[9].split("±")[0])
        assert rate > 0, line
    r = parley("bench-model", "-m", tiny_model, "-p", "8", "-n", "4", "-d", "16", "-r", "1", "-t", "1",
               "--kv-dtype", "int8")
    assert r.returncode == 0, r.stderr
    rows = [line.split("|") for line in r.stdout.splitlines() if line.startswith("| tiny")]
    assert [(row[6].strip(), row[8].strip()) for row in rows] == [("int8", "pp8 @ d16"), ("int8", "tg4 @ d16")], r.stdout
    r = parley("bench-model", "-m", tiny_model, "-p", "x")
    assert r.returncode == 1 and "comma-separated" in r.stderr
