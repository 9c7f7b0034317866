"""End to end against the real ``serve`` (tools/serve, built by the
session fixture or taken from PAIRFLOW_SERVE), on 127.0.0.1."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

import pairflow  # noqa: E402
from pairflow.torch import PairDataset, to_tensors  # noqa: E402
from conftest import Server, free_port, run_pairstream  # noqa: E402

BATCH, WORLD, SEED = 100, 2, 11
CFG = dict(dataset="fmnist", kind="contrastive", recipe="fmnist-simclr-v1", seed=SEED, batch_size=BATCH)

FORKSERVER = mp.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["torch", "pairflow.torch"])


def start_serve(serve_bin, demo_train, *extra, http=False) -> Server:
    port = free_port()
    http_port = free_port() if http else None
    cmd = [serve_bin, "--dataset", f"fmnist={demo_train}", "--listen", f"127.0.0.1:{port}", "--workers", "2", *extra]
    if http:
        cmd += ["--http-listen", f"127.0.0.1:{http_port}"]
    return Server(cmd, port, http_port)


@pytest.fixture
def serve(serve_bin, demo_train):
    started = []

    def start(*extra, http=False):
        s = start_serve(serve_bin, demo_train, *extra, http=http)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop(kill=True)


def pairstream_rank(pairstream, demo_train, tmp_path, rank, epochs=1):
    out = run_pairstream(pairstream, tmp_path / f"r{rank}.arrows", demo_train, "--batch", str(BATCH),
                         "--seed", str(SEED), "--recipe", "fmnist-simclr-v1", "--epochs", str(epochs),
                         "--rank", str(rank), "--world-size", str(WORLD))
    with pairflow.read_ipc(out) as r:
        return [to_tensors(b) for b in r]


def same(a, b):
    for k in ("view_0", "view_1", "sample_id", "epoch", "label"):
        if not torch.equal(a[k], b[k]):
            return False
    return True


def test_two_ranks_two_workers_match_pairstream(serve, pairstream, demo_train, tmp_path):
    """World size 2, 2 DataLoader workers per rank: each rank's batches are
    in order, identical to pairstream's for the same config; ranks are
    disjoint, cover the epoch and get equal counts."""
    srv = serve()
    ids, counts = [], []
    for r in range(WORLD):
        ds = PairDataset(srv.url, rank=r, world_size=WORLD, **CFG)
        got = list(DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=FORKSERVER))
        ref = pairstream_rank(pairstream, demo_train, tmp_path, r)
        assert len(got) == len(ref) == 2000 // WORLD // BATCH
        assert [b["batch_index"] for b in got] == list(range(len(ref)))
        for g, w in zip(got, ref):
            assert same(g, w)
            assert g["view_0"].dtype == torch.float32 and tuple(g["view_0"].shape) == (BATCH, 1, 28, 28)
        ids.append(set(torch.cat([b["sample_id"] for b in got]).tolist()))
        counts.append(len(got))
    assert counts[0] == counts[1]
    assert not ids[0] & ids[1] and ids[0] | ids[1] == set(range(2000))


@pytest.mark.parametrize("workers,stop", [(0, 3), (2, 4), (2, 3), (3, 7)])
def test_resume_mid_epoch(serve, workers, stop):
    """state_dict mid-epoch -> a new dataset continues with the identical next batch."""
    srv = serve()
    full = list(PairDataset(srv.url, rank=1, world_size=WORLD, **CFG))
    ds = PairDataset(srv.url, rank=1, world_size=WORLD, **CFG)
    kw = dict(num_workers=workers, multiprocessing_context=FORKSERVER) if workers else {}
    seen = []
    for b in DataLoader(ds, batch_size=None, **kw):
        seen.append(b)
        if len(seen) == stop:
            break
    state = ds.state_dict(after=seen[-1])
    ds2 = PairDataset(srv.url, rank=1, world_size=WORLD, **CFG)
    ds2.load_state_dict(state)
    rest = list(DataLoader(ds2, batch_size=None, **kw))
    assert [(b["batch_epoch"], b["batch_index"]) for b in seen + rest] == \
        [(b["batch_epoch"], b["batch_index"]) for b in full]
    assert all(same(a, b) for a, b in zip(seen + rest, full))


@pytest.mark.parametrize("http", [False, True])
def test_resume_at_epoch_end(serve, http):
    """A state taken right after an epoch's last batch, (0, N), resumes on
    the identical next batch, (1, 0), and the rest of the run (over Flight
    and over HTTP); a batch past N is a StateError."""
    srv = serve(http=True)
    url = srv.http_url if http else srv.url
    per = 2000 // WORLD // BATCH
    full = list(PairDataset(url, rank=0, world_size=WORLD, epochs=2, **CFG))
    assert len(full) == 2 * per
    ds = PairDataset(url, rank=0, world_size=WORLD, epochs=2, **CFG)
    it = iter(ds)
    for _ in range(per):
        last = next(it)
    state = ds.state_dict()
    it.close()
    assert (last["batch_epoch"], last["batch_index"]) == (0, per - 1)
    assert (state["epoch"], state["batch"]) == (0, per)
    ds2 = PairDataset(url, rank=0, world_size=WORLD, epochs=2, **CFG)
    ds2.load_state_dict(state)
    rest = list(ds2)
    assert [(b["batch_epoch"], b["batch_index"]) for b in rest] == [(1, i) for i in range(per)]
    assert all(same(a, b) for a, b in zip(rest, full[per:]))
    ds3 = PairDataset(url, rank=0, world_size=WORLD, epochs=2, **CFG)
    ds3.load_state_dict(dict(state, batch=per + 1))
    with pytest.raises(pairflow.StateError, match=f"which has {per} batches"):
        next(iter(ds3))


def test_stream_info_flight_and_http_agree(serve):
    """serve's FlightInfo.app_metadata and POST /v1/info say the same:
    batches_per_epoch, and the start normalised ((0, N) -> (1, 0))."""
    from pairflow.client import Position, descriptor, stream_info

    srv = serve(http=True)
    per = 2000 // WORLD // BATCH
    cfg = {"kind": "contrastive", "recipe": "fmnist-simclr-v1", "seed": SEED, "batch_size": BATCH,
           "epochs": 2, "world_size": WORLD}
    d = descriptor("fmnist", cfg, worker_count=3, start=Position(0, per))
    a, b = stream_info(srv.url, d), stream_info(srv.http_url, d)
    assert a == b
    assert (a.batches_per_epoch, a.start, a.endpoints, a.ranks, a.worker_count) == \
        (per, Position(1, 0), WORLD * 3, WORLD, 3)
    with pytest.raises(pairflow.DescriptorError, match="past the end of its epoch"):
        stream_info(srv.url, descriptor("fmnist", cfg, start=Position(0, per + 1)))


def test_server_killed_mid_stream_then_resumed(serve):
    """SIGKILL the server mid-stream: a clear pairflow exception, promptly;
    a new server process continues with the identical next batch."""
    srv = serve()
    epochs = 20
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=epochs, timeout=10, read_timeout=30, **CFG)
    got = []
    t0 = time.monotonic()
    with pytest.raises((pairflow.IncompleteStreamError, pairflow.ServerUnavailable)) as ei:
        for b in ds:
            got.append(b)
            if len(got) == 3:
                srv.stop(kill=True)
    assert time.monotonic() - t0 < 30
    assert "after" in str(ei.value)
    assert 3 <= len(got) < epochs * 10
    srv2 = serve()
    ref = PairDataset(srv2.url, rank=0, world_size=WORLD, epochs=epochs, **CFG)
    ref_it = iter(ref)
    want = [next(ref_it) for _ in range(len(got) + 1)]
    ref_it.close()
    ds2 = PairDataset(srv2.url, rank=0, world_size=WORLD, epochs=epochs, **CFG)
    ds2.load_state_dict(ds.state_dict())
    nxt = next(iter(ds2))
    assert same(nxt, want[len(got)])
    assert all(same(a, b) for a, b in zip(got, want))


def test_http_fallback_equals_flight(serve):
    srv = serve(http=True)
    a = list(PairDataset(srv.url, rank=0, world_size=WORLD, **CFG))
    b = list(PairDataset(srv.http_url, rank=0, world_size=WORLD, **CFG))
    assert len(a) == len(b) > 0
    assert all(same(x, y) and x["batch_index"] == y["batch_index"] for x, y in zip(a, b))


def test_auth_and_bad_requests(serve, tmp_path):
    tok = tmp_path / "token"
    tok.write_text("s3cret-token-xyz\n")
    srv = serve("--token-file", str(tok), http=True)
    for url in (srv.url, srv.http_url):
        with pytest.raises(pairflow.AuthError):
            next(iter(PairDataset(url, **CFG)))
        with pytest.raises(pairflow.AuthError):
            next(iter(PairDataset(url, token="wrong", **CFG)))
        assert next(iter(PairDataset(url, token="s3cret-token-xyz", **CFG)))["batch_index"] == 0
        with pytest.raises(pairflow.DescriptorError, match="nope"):
            next(iter(PairDataset(url, token="s3cret-token-xyz", **dict(CFG, dataset="nope"))))
        with pytest.raises(pairflow.DescriptorError, match="no-such-recipe"):
            next(iter(PairDataset(url, token="s3cret-token-xyz", **dict(CFG, recipe="no-such-recipe"))))


def test_stream_limit_is_a_clear_error(serve):
    srv = serve("--max-streams", "1", http=True)
    it = iter(PairDataset(srv.url, epochs=5, **CFG))
    next(it)  # holds the server's only stream slot
    try:
        for url in (srv.url, srv.http_url):
            with pytest.raises(pairflow.ServerUnavailable, match="stream limit"):
                next(iter(PairDataset(url, **CFG)))
    finally:
        it.close()
