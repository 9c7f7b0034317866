"""The real ``serve`` over TLS (``grpc+tls://`` and ``https://``) with a
bearer token, its certificate self-signed for 127.0.0.1 by this test (with
Go's own generator, ``crypto/tls/generate_cert.go``: the tests need Go
anyway, and neither openssl nor a Python crypto package)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import pairflow
from pairflow.client import descriptor, open_stream, root_certs, stream_info
from conftest import Server, _go, free_port  # noqa: E402

CFG = {"kind": "contrastive", "recipe": "fmnist-simclr-v1", "seed": 5, "batch_size": 250, "epochs": 1,
       "world_size": 2}


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    goroot = subprocess.run([_go(), "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    r = subprocess.run([_go(), "run", str(Path(goroot) / "src" / "crypto" / "tls" / "generate_cert.go"),
                        "--host", "127.0.0.1", "--ecdsa-curve", "P256", "--ca", "--duration", "2h"],
                       cwd=d, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"generating a test certificate failed:\n{r.stderr}")
    return d


@pytest.fixture(scope="module")
def tls_serve(serve_bin, demo_train, certs, tmp_path_factory):
    tok = tmp_path_factory.mktemp("tok") / "token"
    tok.write_text("s3cret-token\n")
    port, http_port = free_port(), free_port()
    s = Server([serve_bin, "--dataset", f"fmnist={demo_train}", "--listen", f"127.0.0.1:{port}",
                "--http-listen", f"127.0.0.1:{http_port}", "--workers", "2", "--token-file", str(tok),
                "--tls-cert", str(certs / "cert.pem"), "--tls-key", str(certs / "key.pem")], port, http_port)
    yield s
    s.stop(kill=True)


def read_all(url, endpoint, **kw):
    desc = descriptor("fmnist", CFG)
    _, it = open_stream(url, desc, endpoint, timeout=20, **kw)
    return [(b.position, b.rb.column("sample_id").to_pylist()) for b in it]


def test_tls_flight_and_https(tls_serve, certs):
    flight = f"grpc+tls://127.0.0.1:{tls_serve.port}"
    https = f"https://127.0.0.1:{tls_serve.http_port}"
    pem = certs / "cert.pem"
    info = stream_info(flight, descriptor("fmnist", CFG), token="s3cret-token", tls_root_certs=pem, timeout=20)
    assert info.ranks == 2 and info.batches_per_epoch == 4
    # The path and the PEM bytes are the same roots.
    got = read_all(flight, 1, token="s3cret-token", tls_root_certs=str(pem))
    assert [p for p, _ in got] == [pairflow.client.Position(0, b) for b in range(4)]
    assert got == read_all(flight, 1, token="s3cret-token", tls_root_certs=pem.read_bytes())
    # The HTTPS fallback serves the same stream.
    assert got == read_all(https, 1, token="s3cret-token", tls_root_certs=pem)


def test_tls_refusals(tls_serve, certs):
    flight = f"grpc+tls://127.0.0.1:{tls_serve.port}"
    https = f"https://127.0.0.1:{tls_serve.http_port}"
    pem = certs / "cert.pem"
    # The system's roots do not vouch for a self-signed certificate.
    for url in (flight, https):
        with pytest.raises(pairflow.PairflowError):
            stream_info(url, descriptor("fmnist", CFG), token="s3cret-token", timeout=5)
    # Plaintext to a TLS server fails.
    with pytest.raises(pairflow.PairflowError):
        stream_info(f"grpc://127.0.0.1:{tls_serve.port}", descriptor("fmnist", CFG), token="s3cret-token", timeout=5)
    # TLS without the token is refused by the server.
    for url in (flight, https):
        with pytest.raises(pairflow.AuthError):
            stream_info(url, descriptor("fmnist", CFG), tls_root_certs=pem, timeout=20)


def test_root_certs_argument(tmp_path, certs):
    pem = (certs / "cert.pem").read_bytes()
    assert root_certs(None) is None
    assert root_certs(pem) == pem and root_certs(certs / "cert.pem") == pem
    with pytest.raises(pairflow.PairflowError, match="missing.pem"):
        root_certs(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    with pytest.raises(pairflow.PairflowError, match="no PEM certificate"):
        root_certs(tmp_path / "junk.pem")


def test_tls_pair_dataset(tls_serve, certs, monkeypatch):
    pytest.importorskip("torch")
    from pairflow.torch import PairDataset

    monkeypatch.setenv("PAIRFLOW_TLS_ROOT_CERTS", str(certs / "cert.pem"))
    monkeypatch.setenv("PAIRFLOW_TOKEN", "s3cret-token")
    ds = PairDataset(f"grpc+tls://127.0.0.1:{tls_serve.port}", dataset="fmnist", kind="contrastive",
                     recipe="fmnist-simclr-v1", seed=5, batch_size=250, rank=1, world_size=2)
    ids = [b["sample_id"].tolist() for b in ds]
    assert ids == [s for _, s in read_all(f"grpc+tls://127.0.0.1:{tls_serve.port}", 1, token="s3cret-token",
                                          tls_root_certs=certs / "cert.pem")]
