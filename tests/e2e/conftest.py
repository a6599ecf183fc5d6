"""Fixtures for the HTTP end-to-end tests: `parley serve` processes on free 127.0.0.1 ports.

Paths come from the environment (scripts/test.sh sets them), with defaults for a build in
build/:
  PARLEY_BIN               the parley binary (build/bin/parley)
  PARLEY_WRITE_TINY_MODEL  the tiny-model writer (build/bin/write_tiny_model)
  PARLEY_E2E_SANITIZER     asan or tsan when PARLEY_BIN is a sanitizer build (scripts/test.sh
                           sets it): longer start-up waits, no RSS bounds
  PARLEY_GEMMA_MODEL       the real Gemma 3 270M file (models/gemma-3-270m-q4_k_m.gguf);
                           its tests are skipped when it is missing.
Every wait is bounded; every server is stopped (SIGTERM, then SIGKILL) at the end.

Markers, so the sanitizer stages of scripts/test.sh can leave tests out with -m:
  real_model  needs a real model file (Gemma 3 270M, SmolLM2)
  browser     drives a browser (selenium); set on every test that uses the `browser` fixture
  bench       runs the load generator (`parley bench`)
"""
import os
import re
import signal
import subprocess
import time

import openai
import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARLEY_BIN = os.environ.get("PARLEY_BIN", os.path.join(ROOT, "build/bin/parley"))
WRITE_TINY = os.environ.get("PARLEY_WRITE_TINY_MODEL", os.path.join(ROOT, "build/bin/write_tiny_model"))
GEMMA_MODEL = os.environ.get("PARLEY_GEMMA_MODEL", os.path.join(ROOT, "models/gemma-3-270m-q4_k_m.gguf"))

# A sanitizer build starts several times slower (one test's server took over 60 s on a busy
# 2-core machine under ASan), and ASan keeps freed memory in quarantine, so RSS bounds do not
# hold there.
SANITIZER = os.environ.get("PARLEY_E2E_SANITIZER", "")
START_TIMEOUT_S = 180 if SANITIZER else 60
CLIENT_TIMEOUT_S = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "real_model: needs a real model file (Gemma 3 270M or SmolLM2)")
    config.addinivalue_line("markers", "browser: drives a browser through selenium")
    config.addinivalue_line("markers", "bench: runs the load generator, parley bench")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


class Server:
    """One `parley serve` process. Its stderr (banner and access log) goes to a file."""

    def __init__(self, model, args, log_path, api_key=None):
        self.log_path = log_path
        self.api_key = api_key
        # model None: no -m, so the server picks its default model.
        cmd = [PARLEY_BIN, "serve"] + (["-m", model] if model else []) + ["--port", "0"] + list(args)
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, cwd=ROOT)
        self.url = self._wait_for_address()

    def _wait_for_address(self):
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"parley serve exited with {self.proc.returncode}:\n{self.log_text()}")
            m = re.search(r"listening on (http://[0-9.]+:[0-9]+)", self.log_text())
            if m:
                return m.group(1)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"parley serve did not start in {START_TIMEOUT_S} s:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def client(self, **kwargs):
        """An openai client for this server; no retries, so status codes reach the test."""
        kwargs.setdefault("timeout", CLIENT_TIMEOUT_S)
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("api_key", self.api_key or "unused")
        return openai.OpenAI(base_url=self.url + "/v1", **kwargs)

    def get(self, path, **kwargs):
        kwargs.setdefault("timeout", CLIENT_TIMEOUT_S)
        return requests.get(self.url + path, **kwargs)

    def post(self, path, **kwargs):
        kwargs.setdefault("timeout", CLIENT_TIMEOUT_S)
        return requests.post(self.url + path, **kwargs)

    def metrics(self):
        """The /metrics samples as {"name{labels}": value}."""
        out = {}
        for line in self.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def kv_pages_used(self):
        """Pages sequences hold, per KV group: in use minus what the prefix cache keeps."""
        m = self.metrics()
        out = {}
        for k, v in m.items():
            if k.startswith("parley_kv_pages_used"):
                group = re.search(r'group="([0-9]+)"', k).group(1)
                out[k] = v - m.get(f'parley_prefix_cache_resident_pages{{group="{group}"}}', 0)
        return out

    def terminate(self, timeout=15):
        """SIGTERM and wait; returns the exit code (SIGKILL after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def stop(self):
        """Stops the server; returns its exit code (0 after a clean shutdown)."""
        code = self.terminate(timeout=10)
        self.log.close()
        return code


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def _write_tiny(model_dir, name, *args):
    path = str(model_dir / name)
    if not os.path.exists(path):
        subprocess.run([WRITE_TINY, path, *args], check=True, timeout=120)
    return path


@pytest.fixture(scope="session")
def tiny_model(model_dir):
    """A tiny random llama-architecture model (byte-level BPE, ChatML template)."""
    return _write_tiny(model_dir, "tiny-llama.gguf", "llama")


@pytest.fixture(scope="session")
def tiny_gemma_model(model_dir):
    """A tiny random gemma3 model: SPM vocabulary, Gemma template, two KV groups."""
    return _write_tiny(model_dir, "tiny-gemma3.gguf", "gemma3")


@pytest.fixture(scope="session")
def slow_model(model_dir):
    """A larger random model (~1-2 ms per token), for requests that must still be running."""
    return _write_tiny(model_dir, "slow-llama.gguf", "llama", "8", "256")


@pytest.fixture
def start_server(tmp_path):
    """start_server(model, *args, api_key=None) -> Server, stopped after the test."""
    servers = []

    def start(model, *args, api_key=None):
        extra = list(args)
        if api_key:
            extra += ["--api-key", api_key]
        s = Server(model, extra, str(tmp_path / f"server{len(servers)}.log"), api_key=api_key)
        servers.append(s)
        return s

    yield start
    codes = [s.stop() for s in servers]
    assert codes == [0] * len(servers), [s.log_text()[-2000:] for s in servers]


@pytest.fixture(scope="module")
def tiny_server(tiny_model, tmp_path_factory):
    """The shared tiny-model server of a test module."""
    log = tmp_path_factory.mktemp("tiny") / "server.log"
    s = Server(tiny_model, ["-c", "512", "-t", "1", "--model-name", "tiny"], str(log))
    yield s
    assert s.stop() == 0, s.log_text()[-2000:]
