"""examples/torch_simclr.py: a short smoke run (quick mode) and a few
hundred SimCLR steps fed by serve whose loss falls (slow mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, run_pairstream

pytest.importorskip("torch")
EXAMPLE = REPO / "examples" / "torch_simclr.py"


def run_example(*args, timeout=1800):
    env = dict(os.environ)
    env.setdefault("OPENBLAS_CORETYPE", "SkylakeX")  # Debian's OpenBLAS does not know these CPUs
    r = subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, f"example failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stdout


def test_example_smoke_over_ipc(pairstream, demo_train, tmp_path):
    out = run_pairstream(pairstream, tmp_path / "p.arrows", demo_train, "--recipe", "fmnist-simclr-v1",
                         "--batch", "32", "--batches", "3", "--seed", "1")
    enc = tmp_path / "enc.safetensors"
    res, _ = run_example("--ipc", str(out), "--steps", "3", "--log-every", "0", "--save-encoder", str(enc))
    assert res["steps"] == 3
    from safetensors.torch import load_file
    w = load_file(str(enc))
    assert tuple(w["f.0.weight"].shape) == (32, 1, 3, 3)


@pytest.mark.slow
def test_example_trains_fed_by_serve(serve_bin, demo_train, tmp_path):
    """A few hundred steps of SimCLR fed by serve: the NT-Xent loss falls;
    then --state resumes with the identical data position."""
    from conftest import Server, free_port
    port = free_port()
    srv = Server([serve_bin, "--dataset", f"fmnist={demo_train}", "--listen", f"127.0.0.1:{port}"], port)
    try:
        state = tmp_path / "state.pt"
        res, log = run_example("--url", srv.url, "--steps", "240", "--batch", "64", "--epochs", "10",
                               "--threads", "2", "--state", str(state))
        assert res["steps"] == 240
        # NT-Xent at batch 64 starts near ln(127) = 4.84; SimCLR pulls it down.
        assert res["last_loss"] < res["first_loss"] - 0.5, log
        res2, log2 = run_example("--url", srv.url, "--steps", "5", "--batch", "64", "--epochs", "10",
                                 "--threads", "2", "--state", str(state), "--log-every", "0")
        assert "resumed at step 240, data epoch 7 batch 16" in log2, log2
        assert res2["steps"] == 5
    finally:
        srv.stop(kill=True)
