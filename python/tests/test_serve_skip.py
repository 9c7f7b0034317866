"""Skip budgets across resumes, against the real ``serve``: a PairDataset
state under the "skip" policy carries the skip counts of its last batch, so
that the resumed stream fails where the uninterrupted one does
(docs/serve.md, "Skip budgets")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import pairflow  # noqa: E402
from pairflow.client import descriptor, open_stream  # noqa: E402
from pairflow.torch import PairDataset  # noqa: E402
from conftest import Server, free_port  # noqa: E402

SEED, BATCH = 3, 100  # 2,000 demo images: 20 batches per epoch


def serve_on(serve_bin, data: Path) -> Server:
    port = free_port()
    return Server([serve_bin, "--dataset", f"fmnist={data}", "--listen", f"127.0.0.1:{port}", "--workers", "2"], port)


@pytest.fixture(scope="module")
def bad_serve(serve_bin, demo_train, tmp_path_factory):
    """serve over a copy of the demo shards with two corrupt records, in
    batches 1 and 3 of epoch 0 (so two bad records in every epoch)."""
    data = tmp_path_factory.mktemp("skip") / "train"
    shutil.copytree(demo_train, data)
    s = serve_on(serve_bin, data)
    try:
        cfg = {"kind": "contrastive", "recipe": "fmnist-simclr-v1", "seed": SEED, "batch_size": BATCH, "epochs": 1}
        _, it = open_stream(s.url, descriptor("fmnist", cfg), 0, timeout=30)
        batches = [sb.rb.column("key").to_pylist() for sb in it]
    finally:
        s.stop(kill=True)
    for key in (batches[1][5], batches[3][0]):
        k = key.encode()
        for f in sorted(data.glob("*.pfs")):
            b = bytearray(f.read_bytes())
            i = b.find(k)
            if i >= 0:
                b[i + len(k) - 1] ^= 0x40  # the record no longer matches its checksum
                f.write_bytes(bytes(b))
                break
        else:
            pytest.fail(f"key {key} not found in the shards")
    s = serve_on(serve_bin, data)
    yield s
    s.stop(kill=True)


def dataset(url) -> PairDataset:
    return PairDataset(url, dataset="fmnist", kind="contrastive", recipe="fmnist-simclr-v1", seed=SEED,
                       batch_size=BATCH, epochs=2, config={"skip": {"policy": "skip", "max_count": 3}})


def read(ds, limit=None):
    """Reads up to limit batches: their ids, and the error that ended the pass (or None)."""
    ids, it = [], iter(ds)
    try:
        for b in it:
            ids.append(b["sample_id"].tolist())
            if limit is not None and len(ids) == limit:
                break
    except pairflow.PairflowError as e:
        return ids, e
    finally:
        it.close()
    return ids, None


def test_skip_budget_resume(bad_serve):
    full, err = read(dataset(bad_serve.url))
    # 2 skips per epoch, max_count 3: the 4th skip, in epoch 1, fails the stream.
    assert err is not None and 20 < len(full) < 40, (len(full), err)
    for k in (2, 4, 20, 21, len(full) - 1):
        first = dataset(bad_serve.url)
        got, e = read(first, k)
        assert e is None and got == full[:k]
        state = first.state_dict()
        if k <= 20:
            assert state["skips"] == [1 if k <= 3 else 2, 1 if k <= 3 else 2 if k < 20 else 0], (k, state)
        resumed = dataset(bad_serve.url)
        resumed.load_state_dict(state)
        rest, e = read(resumed)
        assert rest == full[k:], k
        assert type(e) is type(err), (k, e, err)
        if k == 20:
            # Without the counts the budget restarts: epoch 1's two skips fit.
            state.pop("skips")
            fresh = dataset(bad_serve.url)
            fresh.load_state_dict(state)
            rest, e = read(fresh)
            assert e is None and len(rest) == 20


def test_skip_state_refused(bad_serve):
    ds = dataset(bad_serve.url)
    st = ds.state_dict()
    for bad in ([1], [-1, 0], "x", [1, 2.5]):
        with pytest.raises(pairflow.StateError):
            ds.load_state_dict({**st, "skips": bad})
