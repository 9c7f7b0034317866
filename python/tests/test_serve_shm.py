"""Same-host transports against the real ``serve``: Flight over a Unix
socket (``grpc+unix://``) and the shared-memory ring (``transport="shm"``)
give the batches plain Flight gives."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

import pairflow
from pairflow.client import descriptor, open_stream
from conftest import Server, free_port

CFG = {"kind": "contrastive", "recipe": "fmnist-simclr-v1", "seed": 5, "batch_size": 64, "epochs": 1,
       "world_size": 2}


class UnixServer:
    """serve listening on a Unix socket."""

    def __init__(self, serve_bin, demo_train, sock):
        self.sock = sock
        self.proc = subprocess.Popen([serve_bin, "--dataset", f"fmnist={demo_train}", "--listen", f"unix://{sock}",
                                      "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}: {self.proc.stderr.read().decode()}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(sock)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("serve not listening on its socket")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"grpc+unix://{self.sock}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stderr.close()


@pytest.fixture
def servers(serve_bin, demo_train, tmp_path):
    port = free_port()
    tcp = Server([serve_bin, "--dataset", f"fmnist={demo_train}", "--listen", f"127.0.0.1:{port}", "--workers", "2"], port)
    unix = UnixServer(serve_bin, demo_train, str(tmp_path / "serve.sock"))
    yield tcp, unix
    tcp.stop(kill=True)
    unix.stop()


def read(url, endpoint, workers=1, **kw):
    _, it = open_stream(url, descriptor("fmnist", CFG, worker_count=workers), endpoint, **kw)
    # Copy each batch out while it is valid (shm batches live until the next).
    return [(pa_bytes(sb.rb), sb.position) for sb in it]


def pa_bytes(rb):
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rb.schema) as w:
        w.write_batch(rb)
    return sink.getvalue().to_pybytes()


def test_unix_socket_and_shm_equal_flight(servers, tmp_path, monkeypatch):
    tcp, unix = servers
    import pairflow._shm as shm

    past_slot = []  # batches whose message reaches past its slot: tensors in the ring's tensor area
    real_batch = shm.Ring.batch

    def batch(self, md, *a, **k):
        past_slot.append(int(md[shm.LENGTH]) > self.slot_bytes)
        return real_batch(self, md, *a, **k)

    monkeypatch.setattr(shm.Ring, "batch", batch)
    st = os.stat(unix.sock)
    assert st.st_mode & 0o777 == 0o600
    for ep, workers in ((0, 1), (1, 1), (3, 2)):
        want = read(tcp.url, ep, workers)
        assert len(want) > 4  # more batches than ring slots: slots are reused
        assert read(unix.url, ep, workers) == want
        assert read(unix.url, ep, workers, transport="shm") == want
        assert read(tcp.url, ep, workers, transport="shm", shm_slots=1) == want
    assert any(past_slot), "no shm batch had its tensors in the ring's tensor area"
    unix.stop()
    assert not os.path.exists(unix.sock), "the socket outlived the server"


def test_shm_unavailable_and_auto_fallback(servers, monkeypatch):
    tcp, _ = servers
    want = read(tcp.url, 0)
    import pairflow._shm as shm

    real = shm.os.stat

    def gone(path, *a, **k):
        if os.path.basename(str(path)).startswith("pairflow-ring-"):
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path, *a, **k)

    monkeypatch.setattr(shm.os, "stat", gone)  # as on another machine: no such ring here
    with pytest.raises(pairflow.ShmUnavailable, match="same user"):
        read(tcp.url, 0, transport="shm")
    assert read(tcp.url, 0, transport="auto") == want
    with pytest.raises(ValueError, match="transport"):
        read(tcp.url, 0, transport="carrier-pigeon")


def test_pair_dataset_shm_tensors_outlive_the_ring(servers):
    torch = pytest.importorskip("torch")
    from pairflow.torch import PairDataset

    tcp, unix = servers
    kw = dict(dataset="fmnist", kind="contrastive", recipe="fmnist-simclr-v1", seed=5, batch_size=64,
              rank=1, world_size=2)
    flight = list(PairDataset(tcp.url, **kw))
    kept = list(PairDataset(unix.url, transport="shm", **kw))  # all kept: more than the ring's 4 slots
    assert len(kept) == len(flight) > 4
    for a, b in zip(kept, flight):
        for k in ("view_0", "view_1", "sample_id", "epoch", "label"):
            assert torch.equal(a[k], b[k]), k
