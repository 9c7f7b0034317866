"""PairDataset's client logic against tests/fake_serve.py (the serve wire
contract over pairstream output): ranks, DataLoader workers, resume,
errors. The same checks against the real serve are in test_serve_e2e.py."""

from __future__ import annotations

import multiprocessing as mp
import time
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

import pairflow  # noqa: E402
from pairflow.torch import PairDataset  # noqa: E402
from conftest import free_port, run_pairstream  # noqa: E402

BATCH, EPOCHS, WORLD, SEED = 100, 2, 2, 7
CFG = dict(dataset="fmnist", kind="contrastive", recipe="fmnist-simclr-v1", seed=SEED, batch_size=BATCH)


@pytest.fixture(scope="module")
def rank_files(pairstream, demo_train, tmp_path_factory):
    d = tmp_path_factory.mktemp("ranks")
    return {r: run_pairstream(pairstream, d / f"rank{r}.arrows", demo_train, "--batch", str(BATCH),
                              "--epochs", str(EPOCHS), "--seed", str(SEED), "--recipe", "fmnist-simclr-v1",
                              "--rank", str(r), "--world-size", str(WORLD))
            for r in range(WORLD)}


def reference(path):
    """The rank's batches as pairstream wrote them: [(epoch, index, batch dict)]."""
    out, counts = [], {}
    with pairflow.read_ipc(path) as r:
        for b in r:
            e = int(b["epoch"][0])
            out.append((e, counts.get(e, 0), b))
            counts[e] = counts.get(e, 0) + 1
    return out


def loader(ds, workers):
    """A DataLoader over ds. Workers come from a fork server: the pytest
    process has used Flight already, and gRPC does not survive fork()."""
    if not workers:
        return DataLoader(ds, batch_size=None)
    return DataLoader(ds, batch_size=None, num_workers=workers, multiprocessing_context=FORKSERVER)


def collect(ds, workers):
    return list(loader(ds, workers))


def run_epochs(srv, rank, workers, **kw):
    """All EPOCHS of a rank: one pass without workers, or one pass per
    epoch (set_epoch) with them."""
    if not workers:
        return collect(PairDataset(srv.url, rank=rank, world_size=WORLD, epochs=EPOCHS, **CFG, **kw), 0)
    ds = PairDataset(srv.url, rank=rank, world_size=WORLD, epochs=1, **CFG, **kw)
    out = []
    for e in range(EPOCHS):
        ds.set_epoch(e)
        out += collect(ds, workers)
    return out


FORKSERVER = mp.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["torch", "pairflow.torch"])


@pytest.mark.parametrize("workers", [0, 2, 3])  # 3: shares of 7, 7 and 6 batches
def test_ranks_and_workers(fake_server, rank_files, workers):
    """Two ranks, W workers each: every rank gets its stream in order, once,
    identical to pairstream's; ranks are disjoint and cover each epoch."""
    srv = fake_server(rank_files)
    per_epoch_ids = {}
    counts = []
    for r in range(WORLD):
        got = run_epochs(srv, r, workers)
        ref = reference(rank_files[r])
        assert [(b["batch_epoch"], b["batch_index"]) for b in got] == [(e, i) for e, i, _ in ref]
        for b, (_, _, want) in zip(got, ref):
            assert torch.equal(b["view_0"], torch.from_numpy(want["view_0"].copy()))
            assert torch.equal(b["view_1"], torch.from_numpy(want["view_1"].copy()))
            assert np.array_equal(b["sample_id"].numpy().view(np.uint64), want["sample_id"])
            assert b["view_0"].dtype == torch.float32 and tuple(b["view_0"].shape) == (BATCH, 1, 28, 28)
            per_epoch_ids.setdefault((r, b["batch_epoch"]), []).extend(b["sample_id"].tolist())
        counts.append(len(got))
    assert counts[0] == counts[1]
    for e in range(EPOCHS):
        a, b = set(per_epoch_ids[(0, e)]), set(per_epoch_ids[(1, e)])
        assert not a & b
        assert a | b == set(range(2000))


@pytest.mark.parametrize("workers", [0, 2, 3])
@pytest.mark.parametrize("stop", [3, 4, 10])  # 10 = the epoch's last batch
def test_resume_identical_next_batch(fake_server, rank_files, workers, stop):
    """A state taken after `stop` batches of epoch 1: a new dataset loaded
    with it continues with the identical next batch, to the end."""
    srv = fake_server(rank_files)
    full = [b for b in collect(PairDataset(srv.url, rank=1, world_size=WORLD, epochs=EPOCHS, **CFG), 0)
            if b["batch_epoch"] == 1]
    ds = PairDataset(srv.url, rank=1, world_size=WORLD, epochs=1, epoch=1, **CFG)
    seen = []
    for b in loader(ds, workers):
        seen.append(b)
        if len(seen) == stop:
            break
    state = ds.state_dict(after=seen[-1]) if workers else ds.state_dict()
    assert (state["epoch"], state["batch"]) == (seen[-1]["batch_epoch"], seen[-1]["batch_index"] + 1)
    ds2 = PairDataset(srv.url, rank=1, world_size=WORLD, epochs=1, **CFG)
    ds2.load_state_dict(state)
    rest = collect(ds2, workers)
    assert len(seen) + len(rest) == len(full)
    for a, b in zip(seen + rest, full):
        assert (a["batch_epoch"], a["batch_index"]) == (b["batch_epoch"], b["batch_index"])
        assert torch.equal(a["view_0"], b["view_0"]) and torch.equal(a["sample_id"], b["sample_id"])


@pytest.mark.parametrize("info_metadata", [True, False])
def test_resume_across_epoch_end(fake_server, rank_files, info_metadata):
    """A state taken right after an epoch's last batch, in a two-epoch pass,
    says (0, N) and resumes at the next epoch's first batch, (1, 0): the
    client normalises it with batches_per_epoch from the stream info (or,
    from a server that does not send it, the server does)."""
    srv = fake_server(rank_files, no_info_metadata=not info_metadata)
    full = collect(PairDataset(srv.url, rank=0, world_size=WORLD, epochs=EPOCHS, **CFG), 0)
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=EPOCHS, **CFG)
    it = iter(ds)
    for _ in range(10):
        last = next(it)
    state = ds.state_dict()
    it.close()
    assert (last["batch_epoch"], last["batch_index"]) == (0, 9)
    assert (state["epoch"], state["batch"]) == (0, 10)
    ds2 = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=EPOCHS, **CFG)
    ds2.load_state_dict(state)
    rest = list(ds2)
    assert [(b["batch_epoch"], b["batch_index"]) for b in rest] == [(1, i) for i in range(10)]
    for a, b in zip(rest, full[10:]):
        assert torch.equal(a["view_0"], b["view_0"]) and torch.equal(a["sample_id"], b["sample_id"])


@pytest.mark.parametrize("workers", [0, 3])
def test_resume_after_pass_end(fake_server, rank_files, workers):
    """A state taken after the last batch of a one-epoch pass (0, N): the
    resumed pass is over (nothing, no warning, no error), and set_epoch(1)
    goes on with epoch 1."""
    srv = fake_server(rank_files)
    ds = PairDataset(srv.url, rank=1, world_size=WORLD, epochs=1, **CFG)
    seen = collect(ds, workers)
    state = ds.state_dict(after=seen[-1])
    assert (state["epoch"], state["batch"]) == (0, 10)
    ds2 = PairDataset(srv.url, rank=1, world_size=WORLD, epochs=1, **CFG)
    ds2.load_state_dict(state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert collect(ds2, workers) == []
    assert not [w for w in caught if "pairflow" in str(w.message)]
    ds2.set_epoch(1)
    assert [(b["batch_epoch"], b["batch_index"]) for b in collect(ds2, workers)] == [(1, i) for i in range(10)]


def test_resume_past_epoch_end_is_a_state_error(fake_server, rank_files):
    """(E, B) with B > N cannot come from this run: a clear StateError
    naming the position and N, before any stream is opened."""
    srv = fake_server(rank_files)
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=EPOCHS, **CFG)
    st = dict(ds.state_dict(), epoch=0, batch=11)
    ds.load_state_dict(st)
    with pytest.raises(pairflow.StateError, match=r"batch 11\) is past the end of epoch 0, which has 10 batches"):
        next(iter(ds))


def test_stream_info(fake_server, rank_files):
    """stream_info reads batches_per_epoch and the normalised start from
    the FlightInfo's app_metadata."""
    from pairflow.client import Position, descriptor, stream_info

    srv = fake_server(rank_files)
    cfg = {"kind": "contrastive", "recipe": "fmnist-simclr-v1", "seed": SEED, "batch_size": BATCH,
           "epochs": EPOCHS, "world_size": WORLD}
    info = stream_info(srv.url, descriptor("fmnist", cfg, worker_count=2, start=Position(0, 10)))
    assert (info.batches_per_epoch, info.start, info.endpoints, info.ranks, info.worker_count) == \
        (10, Position(1, 0), 4, 2, 2)


def test_workers_need_one_epoch_passes(fake_server, rank_files):
    srv = fake_server(rank_files)
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=2, **CFG)
    with pytest.raises(Exception, match="set_epoch"):
        collect(ds, 2)


def test_state_checks(fake_server, rank_files):
    ds = PairDataset("grpc://127.0.0.1:1", rank=0, world_size=WORLD, epochs=EPOCHS, **CFG)
    st = ds.state_dict()
    assert (st["epoch"], st["batch"]) == (0, 0)
    other = PairDataset("grpc://127.0.0.1:1", rank=0, world_size=WORLD, epochs=EPOCHS, **dict(CFG, seed=8))
    with pytest.raises(pairflow.StateError, match="another dataset or config"):
        other.load_state_dict(st)
    with pytest.raises(pairflow.StateError):
        ds.load_state_dict({"epoch": 1})
    with pytest.raises(pairflow.StateError, match="version"):
        ds.load_state_dict(dict(st, version=9))
    with pytest.raises(pairflow.StateError, match="yielded"):
        ds.state_dict(after={"view_0": 1})
    ds.set_epoch(1)
    assert ds.state_dict()["epoch"] == 1
    with pytest.raises(ValueError, match="server"):
        PairDataset("grpc://127.0.0.1:1", config={"workers": 2}, **CFG).__iter__().__next__()


def test_set_epoch_passes(fake_server, rank_files):
    """epochs=1 and set_epoch per pass give the same batches as one two-epoch pass."""
    srv = fake_server(rank_files)
    both = collect(PairDataset(srv.url, rank=0, world_size=WORLD, epochs=EPOCHS, **CFG), 0)
    passes = run_epochs(srv, 0, 2)
    assert [(b["batch_epoch"], b["batch_index"]) for b in passes] == [(b["batch_epoch"], b["batch_index"]) for b in both]


def test_unreachable_server_is_quick_and_clear():
    port = free_port()  # nothing listens there
    ds = PairDataset(f"grpc://127.0.0.1:{port}", timeout=5, **CFG)
    t0 = time.monotonic()
    with pytest.raises(pairflow.ServerUnavailable, match="unreachable|gone|timed|answer") as ei:
        next(iter(ds))
    assert time.monotonic() - t0 < 10
    assert str(port) in str(ei.value)
    with pytest.raises(pairflow.ServerUnavailable, match="unreachable"):
        next(iter(PairDataset(f"http://127.0.0.1:{port}", timeout=5, **CFG)))
    with pytest.raises(ValueError, match="grpc://"):
        next(iter(PairDataset(f"ftp://127.0.0.1:{port}", **CFG)))


def test_auth(fake_server, rank_files):
    srv = fake_server(rank_files, token="s3cret")
    with pytest.raises(pairflow.AuthError, match="token"):
        next(iter(PairDataset(srv.url, rank=0, world_size=WORLD, **CFG)))
    with pytest.raises(pairflow.AuthError):
        next(iter(PairDataset(srv.url, rank=0, world_size=WORLD, token="wrong", **CFG)))
    b = next(iter(PairDataset(srv.url, rank=0, world_size=WORLD, token="s3cret", **CFG)))
    assert b["batch_index"] == 0


def test_bad_descriptor(fake_server, rank_files):
    srv = fake_server(rank_files)
    with pytest.raises(pairflow.DescriptorError, match="unknown dataset"):
        next(iter(PairDataset(srv.url, rank=0, world_size=WORLD, **dict(CFG, dataset="nope"))))
    with pytest.raises(pairflow.DescriptorError, match="world_size"):
        next(iter(PairDataset(srv.url, **CFG)))  # world size 1 against a 2-rank server


def test_server_dies_mid_stream(fake_server, rank_files):
    srv = fake_server(rank_files, die_after=4)
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=EPOCHS, timeout=5, read_timeout=20, **CFG)
    got = []
    t0 = time.monotonic()
    with pytest.raises((pairflow.IncompleteStreamError, pairflow.ServerUnavailable)) as ei:
        for b in DataLoader(ds, batch_size=None):
            got.append(b)
    assert time.monotonic() - t0 < 20
    assert len(got) == 4 and "after 4 batches" in str(ei.value)
    # A new server resumes where the loop stopped.
    srv2 = fake_server(rank_files)
    ds2 = PairDataset(srv2.url, rank=0, world_size=WORLD, epochs=EPOCHS, **CFG)
    ds2.load_state_dict(ds.state_dict())
    assert next(iter(ds2))["batch_index"] == 4


def test_stalled_server_times_out(fake_server, rank_files):
    srv = fake_server(rank_files, stall_after=2)
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, read_timeout=1.5, **CFG)
    t0 = time.monotonic()
    with pytest.raises(pairflow.StreamTimeout, match="no batch for 1.5 s"):
        list(ds)
    assert time.monotonic() - t0 < 15


def test_missing_end_marker(fake_server, rank_files):
    srv = fake_server(rank_files, no_marker=True)
    with pytest.raises(pairflow.IncompleteStreamError, match="without its end marker"):
        list(PairDataset(srv.url, rank=0, world_size=WORLD, **CFG))


def test_fork_after_flight_is_a_clear_error(fake_server, rank_files):
    """A DataLoader worker forked after the main process used Flight gets a
    clear error, not a gRPC hang."""
    srv = fake_server(rank_files)
    ds = PairDataset(srv.url, rank=0, world_size=WORLD, **CFG)
    next(iter(ds))  # Flight used in this process
    with pytest.raises(Exception, match="forkserver"):
        list(DataLoader(ds, batch_size=None, num_workers=1, multiprocessing_context=mp.get_context("fork"),
                        timeout=60))


@pytest.mark.parametrize("workers,stop", [(2, 3), (2, 4), (3, 5), (3, 10)])
def test_stateful_dataloader_protocol(fake_server, rank_files, monkeypatch, workers, stop):
    """Emulates torchdata's StatefulDataLoader (torch >= 2.3, not installable
    here): W dataset copies as workers, taken round-robin; each worker's
    state_dict() snapshotted after each batch it yields; on restore every
    copy gets its own snapshot and the round-robin continues with the
    worker that was next. The batches equal the uninterrupted run."""
    import copy

    import pairflow.torch as pft
    from pairflow.world import World

    srv = fake_server(rank_files)
    full = [(b["batch_epoch"], b["batch_index"]) for b in
            collect(PairDataset(srv.url, rank=0, world_size=WORLD, epochs=1, epoch=1, **CFG), 0)]
    current = [0]
    monkeypatch.setattr(pft, "worker", lambda: World(current[0], workers))

    def drive(copies, first, limit, snaps):
        gens = [iter(c) for c in copies]
        done = [False] * workers
        out, i = [], first
        while not all(done) and len(out) < limit:
            if not done[i]:
                current[0] = i
                try:
                    b = next(gens[i])
                    out.append((b["batch_epoch"], b["batch_index"]))
                    snaps[i] = copies[i].state_dict()
                except StopIteration:
                    done[i] = True
            i = (i + 1) % workers
        for g in gens:
            g.close()
        return out, i

    ds = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=1, epoch=1, **CFG)
    snaps = [ds.state_dict() for _ in range(workers)]
    copies = [copy.deepcopy(ds) for _ in range(workers)]
    seen, nxt = drive(copies, 0, stop, snaps)
    assert all("slot_base" in s for s in snaps if s["batch"] > 0)
    restored = []
    for i in range(workers):
        c = PairDataset(srv.url, rank=0, world_size=WORLD, epochs=1, epoch=1, **CFG)
        c.load_state_dict(snaps[i])
        restored.append(c)
    rest, _ = drive(restored, nxt, 10 ** 6, [None] * workers)
    assert seen + rest == full


def test_app_metadata_decoding():
    """The Flight per-batch metadata decoder takes serve's JSON object and
    refuses anything else with a pairflow error."""
    from pairflow.client import _app_metadata
    import pyarrow as pa
    got = _app_metadata(pa.py_buffer(b'{"pairflow.epoch":"1","pairflow.batch":"7"}'), "x")
    assert got == {b"pairflow.epoch": b"1", b"pairflow.batch": b"7"}
    assert _app_metadata(None, "x") is None and _app_metadata(pa.py_buffer(b""), "x") is None
    rng = np.random.default_rng(3)
    for bad in [b"[1,2]", b"{", b"\xff\xfe", b'"str"', b"null", b"1e999"] + \
            [bytes(rng.integers(0, 256, rng.integers(1, 40)).astype(np.uint8)) for _ in range(200)]:
        try:
            _app_metadata(pa.py_buffer(bad), "x")
        except pairflow.IncompleteStreamError:
            pass
