"""Shared fixtures: the repository, Go-built tools (pairstream, serve), the
demo Fashion-MNIST shards, and servers started on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_TRAIN = REPO / "tools" / "pretrain" / "demo" / "train"
HERE = Path(__file__).resolve().parent


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if go is None:
        pytest.fail("the Python tests build pairflow's Go tools and need `go` on PATH")
    return go


def _build(tmp_path_factory, pkg: str, name: str) -> str:
    out = tmp_path_factory.getbasetemp() / "bin" / name
    out.parent.mkdir(exist_ok=True)
    r = subprocess.run([_go(), "build", "-o", str(out), pkg], cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"go build {pkg} failed:\n{r.stderr}")
    return str(out)


@pytest.fixture(scope="session")
def pairstream(tmp_path_factory) -> str:
    """Path of a pairstream binary built from this checkout (or PAIRFLOW_PAIRSTREAM)."""
    return os.environ.get("PAIRFLOW_PAIRSTREAM") or _build(tmp_path_factory, "./tools/pairstream", "pairstream")


@pytest.fixture(scope="session")
def serve_bin(tmp_path_factory) -> str:
    """Path of the serve binary: PAIRFLOW_SERVE, else built from this checkout."""
    env = os.environ.get("PAIRFLOW_SERVE")
    if env:
        return env
    if not (REPO / "tools" / "serve").is_dir():
        pytest.skip("SKIPPING: tools/serve is not in this checkout yet; set PAIRFLOW_SERVE to a serve binary")
    return _build(tmp_path_factory, "./tools/serve", "serve")


@pytest.fixture(scope="session")
def demo_train() -> Path:
    """2,000 Fashion-MNIST training images as pairflow shards (in the repository)."""
    assert (DEMO_TRAIN / "index.json").exists(), DEMO_TRAIN
    return DEMO_TRAIN


def golden_dir() -> Path:
    """The Go tests' fixture streams of every pair kind (arrowpair/ once the
    Arrow contract moves there, pipeline/ before)."""
    if os.environ.get("PAIRFLOW_GOLDEN_DIR"):
        return Path(os.environ["PAIRFLOW_GOLDEN_DIR"])
    for d in (REPO / "arrowpair" / "testdata" / "arrow", REPO / "pipeline" / "testdata" / "arrow"):
        if d.is_dir():
            return d
    raise FileNotFoundError("no testdata/arrow directory under arrowpair/ or pipeline/")


def run_pairstream(binary: str, out: Path, data: Path, *args: str) -> Path:
    cmd = [binary, "--data", str(data), "--out", str(out), "--quiet", "--workers", "2", *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"server not listening on 127.0.0.1:{port} after {limit:g} s")


class Server:
    """A server process on 127.0.0.1; stop() kills it (SIGKILL with kill=True)."""

    def __init__(self, cmd, port: int, http_port: int | None = None, env=None):
        self.port, self.http_port = port, http_port
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            wait_port(port, self.proc)
            if http_port:
                wait_port(http_port, self.proc)
        except BaseException:
            self.stop(kill=True)
            raise

    @property
    def url(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def fake_server(tmp_path):
    """Starts tests/fake_serve.py (a pyarrow Flight server that follows the
    serve contract over pairstream output) with the given options."""
    started = []

    def start(streams: dict, **opts) -> Server:
        spec = tmp_path / f"fake{len(started)}.json"
        spec.write_text(json.dumps({"streams": {k: str(v) for k, v in streams.items()}, **opts}))
        port = free_port()
        s = Server([sys.executable, str(HERE / "fake_serve.py"), str(spec), str(port)], port)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop(kill=True)


def pytest_report_header(config):
    try:
        import torch
        t = f"torch {torch.__version__}"
    except ImportError:
        t = "torch not installed"
    import pyarrow
    return f"pairflow tests: pyarrow {pyarrow.__version__}, {t}, repo {REPO}"
