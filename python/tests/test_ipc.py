"""read_ipc: every pair kind the Go tests write, pairstream output, zero
copy, cut and foreign streams."""

from __future__ import annotations

import io
import json
import zlib

import numpy as np
import pyarrow as pa
import pytest

import pairflow
from pairflow._arrow import assert_inside, buffer_span
from conftest import golden_dir, run_pairstream

torch = pytest.importorskip("torch")
import pairflow.torch as pft  # noqa: E402

# The Go fixture formulas (pipeline/batch_fixture_test.go); r is the row
# index across the stream, t the tensor column's index, j the element.
GOLDEN = {
    "contrastive-u8-3views": ("contrastive", [3, 2], ["view_0", "view_1", "view_2"], None),
    "contrastive-f32-simclr": ("contrastive", [3, 2], ["view_0", "view_1"], None),
    "inpainting-u8": ("inpainting", [3, 2], ["masked", "target", "mask"], None),
    "relative-patch-f32": ("relative-patch", [4, 4], ["patch_a", "patch_b"], "position"),
    "rotation-u8": ("rotation", [4, 1], ["view"], "rotation"),
    "supervised-f32": ("supervised", [3, 2], ["view"], None),
    "eval-u8": ("eval", [2, 1], ["view"], None),
}


def fx_u8(r, t, n):
    return ((r * 31 + t * 7 + np.arange(n)) % 256).astype(np.uint8)


def fx_f32(r, t, n):
    return np.arange(n, dtype=np.float32) * np.float32(0.25) - np.float32(r) + np.float32(t) * np.float32(0.5)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_every_kind(name):
    kind, rows, tensors, cls = GOLDEN[name]
    path = golden_dir() / f"{name}.arrows"
    with pairflow.read_ipc(path) as r:
        assert r.kind == kind
        assert r.info.version in (1, 2)
        assert list(r.info.tensor_columns) == tensors
        got = list(r)
        # Version 2 (SCHEMA.md §5.1): the summary on the last batch was checked.
        # Version 1: no summary, completeness unknown.
        assert r.complete is (True if r.info.version >= 2 else None)
    assert [len(b["sample_id"]) for b in got] == rows
    row = 0
    for b in got:
        n = len(b["sample_id"])
        for i in range(n):
            rr = row + i
            assert b["sample_id"][i] == (1 << 63) + rr * 977
            assert b["key"][i] == f"dir/é_{rr:05d}.png"
            assert b["epoch"][i] == (1 << 40) + rr // 4
            want_label = -1 if (rr % 3 == 1 and kind != "supervised") else rr * 7 - 5
            assert b["label"][i] == want_label
            if cls == "position":
                assert b[cls][i] == rr % 8
            elif cls == "rotation":
                assert b[cls][i] == rr % 4
            for t, col in enumerate(tensors):
                v = b[col][i].reshape(-1)
                if kind == "inpainting" and col == "mask":
                    want = ((rr + np.arange(v.size)) % 2).astype(np.uint8)
                elif v.dtype == np.uint8:
                    want = fx_u8(rr, t, v.size)
                else:
                    want = fx_f32(rr, t, v.size)
                np.testing.assert_array_equal(v, want, err_msg=f"{name} row {rr} {col}")
        row += n
    # Layout: uint8 HWC or float32 CHW, as the schema's shape says.
    shape = got[0][tensors[0]].shape[1:]
    field = r.schema.field(tensors[0]).type
    assert list(shape) == list(field.shape)
    assert got[0][tensors[0]].dtype == (np.uint8 if "u8" in name else np.float32)


def test_golden_params():
    """The drawn parameters come out as <col>_aug.<field> arrays with the
    not-reached nulls filled (fixture fxParams: row 0 view 0 reached crop)."""
    with pairflow.read_ipc(golden_dir() / "contrastive-u8-3views.arrows") as r:
        b = next(iter(r))
    # Row 0, view 0: sel = 0 -> crop {x: 0, y: 0, w: 10, h: 20}, hflip True, no vflip op.
    assert b["view_0_aug.crop.w"][0] == 10 and b["view_0_aug.crop.h"][0] == 20
    assert b["view_0_aug.hflip"][0] == 1
    assert b["view_0_aug.vflip"][0] == -1  # not reached
    assert np.isnan(b["view_0_aug.angle"][0])
    assert b["view_0_aug.jitter.order"].shape == (3, 4)
    assert list(b["view_0_aug.jitter.order"][0]) == [0, 1, 2, 3]
    # Row 1 view 0: sel = 3 -> odd: vflip True, rot90 3; crop not reached.
    assert b["view_0_aug.vflip"][1] == 1 and b["view_0_aug.rot90"][1] == 3
    assert b["view_0_aug.crop.x"][1] == -1
    with pairflow.read_ipc(golden_dir() / "contrastive-u8-3views.arrows", params=False) as r:
        assert not any(k.endswith(".hflip") for k in next(iter(r)))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_zero_copy(name):
    """Every image tensor's memory lies inside its Arrow value buffer, for
    numpy and for torch."""
    with pairflow.read_ipc(golden_dir() / f"{name}.arrows") as r:
        tensors = r.info.tensor_columns
        for rb in r.record_batches():
            from pairflow._arrow import batch_numpy
            d = batch_numpy(rb, r.info)
            t = pft.to_tensors(d)
            for col in tensors:
                assert_inside(d[col], rb.column(col))
                addr, size = buffer_span(rb.column(col))
                p = t[col].data_ptr()
                assert addr <= p and p + t[col].numel() * t[col].element_size() <= addr + size
                assert t[col].shape == d[col].shape
            assert t["sample_id"].dtype == torch.int64
            assert np.array_equal(t["sample_id"].numpy().view(np.uint64), d["sample_id"])


def test_reads_file_objects_and_bytes():
    path = golden_dir() / "rotation-u8.arrows"
    data = path.read_bytes()
    for src in (io.BytesIO(data), data, pa.py_buffer(data), str(path)):
        with pairflow.read_ipc(src) as r:
            assert sum(len(b["sample_id"]) for b in r) == 5


def test_cut_streams():
    data = (golden_dir() / "supervised-f32.arrows").read_bytes()
    # A cut is an IncompleteStreamError, never a silent short read. (A
    # version-1 stream cut exactly between messages reads as shorter,
    # complete=None; version 2's summary closes that: every cut that loses
    # a batch is caught.)
    v2 = pairflow.read_ipc(data).info.version >= 2
    rows = []
    for n in range(1, len(data), 37):
        try:
            with pairflow.read_ipc(data[:n]) as r:
                rows.append(sum(len(b["sample_id"]) for b in r))
                assert r.complete is (True if v2 else None)
        except pairflow.IncompleteStreamError as e:
            assert "cut short" in str(e) or "end marker" in str(e)
    assert len(rows) < 5  # nearly every cut is caught
    if v2:
        assert all(n == 5 for n in rows)  # only cuts after the last batch read, whole
    with pytest.raises(pairflow.SchemaError):
        pairflow.read_ipc(b"")
    with pytest.raises(pairflow.SchemaError):
        pairflow.read_ipc(b"not arrow at all")


def _stream(batches, metas, schema):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        for rb, md in zip(batches, metas):
            w.write_batch(rb, custom_metadata=md)
    return sink.getvalue()


def _summary(batches):
    crc, rows = 0, 0
    for rb in batches:
        rows += rb.num_rows
        for c in ("sample_id", "epoch"):
            crc = zlib.crc32(rb.column(c).to_numpy().astype("<u8").tobytes(), crc)
    return {"pairflow.stream.batches": str(len(batches)), "pairflow.stream.rows": str(rows),
            "pairflow.stream.crc32": f"{crc:08x}"}


def test_end_marker():
    """A stream whose last batch carries the summary reads as complete; a
    wrong summary, a batch after it, or (when required) no summary is an
    IncompleteStreamError."""
    with pairflow.read_ipc(golden_dir() / "supervised-f32.arrows") as r:
        batches = list(r.record_batches())
        schema = r.schema
    good = _summary(batches)
    with pairflow.read_ipc(_stream(batches, [None, good], schema)) as r:
        list(r)
        assert r.complete is True
    bad = dict(good, **{"pairflow.stream.crc32": "00000000"})
    with pytest.raises(pairflow.IncompleteStreamError, match="checksum"):
        list(pairflow.read_ipc(_stream(batches, [None, bad], schema)))
    lost = _summary(batches[1:])  # the writer counted one batch, two arrived
    with pytest.raises(pairflow.IncompleteStreamError, match="batches"):
        list(pairflow.read_ipc(_stream(batches, [None, lost], schema)))
    with pytest.raises(pairflow.IncompleteStreamError, match="after the end"):
        list(pairflow.read_ipc(_stream(batches + batches[:1], [None, good, None], schema)))
    with pytest.raises(pairflow.IncompleteStreamError, match="without its end marker"):
        list(pairflow.read_ipc(_stream(batches, [None, None], schema), require_complete=True))


def test_foreign_and_future_schemas():
    rb = pa.record_batch([pa.array([1, 2])], names=["x"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rb.schema) as w:
        w.write_batch(rb)
    with pytest.raises(pairflow.SchemaError, match="not a pairflow stream"):
        pairflow.read_ipc(sink.getvalue())
    with pairflow.read_ipc(golden_dir() / "eval-u8.arrows") as r:
        batches = list(r.record_batches())
        md = dict(r.schema.metadata)
    md[b"pairflow.schema_version"] = b"99"
    sch = r.schema.with_metadata(md)
    data = _stream([b.replace_schema_metadata(md) for b in batches], [None] * len(batches), sch)
    with pytest.raises(pairflow.SchemaError, match="version 99"):
        pairflow.read_ipc(data)


KIND_ARGS = {
    "contrastive-f32": ["--kind", "contrastive", "--recipe", "fmnist-simclr-v1"],
    "contrastive-3views": ["--kind", "contrastive", "--views", "3"],
    "inpainting": ["--kind", "inpainting", "--recipe", "inpainting-fmnist", "--mask", "center"],
    "relative-patch": ["--kind", "relative-patch"],
    "rotation": ["--kind", "rotation"],
    "supervised": ["--kind", "supervised", "--label-fraction", "0.5"],
    "eval": ["--kind", "eval"],
}


@pytest.mark.parametrize("case", sorted(KIND_ARGS))
def test_pairstream_every_kind(case, pairstream, demo_train, tmp_path):
    """pairstream's real output for each kind reads back with the right
    shapes and dtypes, equal to pyarrow's own reading, zero-copy."""
    out = run_pairstream(pairstream, tmp_path / f"{case}.arrows", demo_train, "--batch", "32",
                         "--batches", "3", "--seed", "5", *KIND_ARGS[case])
    with pairflow.read_ipc(out) as r:
        got = []
        for rb in r.record_batches():
            from pairflow._arrow import batch_numpy
            d = batch_numpy(rb, r.info)
            for col in r.info.tensor_columns:
                assert_inside(d[col], rb.column(col))
            got.append(d)
        kind = r.kind
    assert kind == KIND_ARGS[case][1]
    assert len(got) == 3 and all(len(b["sample_id"]) == 32 for b in got)
    with pa.OSFile(str(out)) as f:
        plain = list(pa.ipc.open_stream(f))
    for d, rb in zip(got, plain):
        for col in d:
            if "." in col or col == "key":
                continue
            want = rb.column(col)
            if isinstance(want.type, pa.FixedShapeTensorType):
                np.testing.assert_array_equal(d[col], want.to_numpy_ndarray())
            elif col == "label":
                np.testing.assert_array_equal(d[col], want.fill_null(-1).to_numpy())
            else:
                np.testing.assert_array_equal(d[col], want.to_numpy())
        assert (d["sample_id"] < 2000).all()
    if case == "contrastive-f32":
        v = got[0]["view_0"]
        assert v.dtype == np.float32 and v.shape == (32, 1, 28, 28)
    if case == "contrastive-3views":
        assert {"view_0", "view_1", "view_2"} <= set(got[0])
    if case == "inpainting":
        assert got[0]["mask"].dtype == np.uint8 and got[0]["mask"].shape[-1] == 1


def test_pairstream_uint8_views(pairstream, demo_train, tmp_path):
    """A recipe with uint8_hwc output gives uint8 (N, H, W, C) tensors, unconverted."""
    recipe = {"version": 1, "name": "u8", "channels": 1, "ops": [
        {"op": "random_resized_crop", "size": 24, "scale": [0.5, 1], "ratio": [0.75, 1.3333333333333333]}],
        "output": {"format": "uint8_hwc"}}
    rp = tmp_path / "u8.json"
    rp.write_text(json.dumps(recipe))
    out = run_pairstream(pairstream, tmp_path / "u8.arrows", demo_train, "--batch", "16", "--batches", "1",
                         "--recipe", str(rp))
    with pairflow.read_ipc(out) as r:
        b = pft.to_tensors(next(iter(r)))
    assert b["view_0"].dtype == torch.uint8 and tuple(b["view_0"].shape) == (16, 24, 24, 1)


@pytest.mark.parametrize("name", ["contrastive-u8-3views", "inpainting-u8", "relative-patch-f32"])
def test_mutated_streams_fail_cleanly(name):
    """Random byte changes and cuts: read_ipc either reads the stream or
    raises a PairflowError; never another exception, never a crash."""
    data = bytearray((golden_dir() / f"{name}.arrows").read_bytes())
    rng = np.random.default_rng(1)
    outcomes = {"ok": 0, "error": 0}
    for i in range(300):
        m = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            m[rng.integers(0, len(m))] = rng.integers(0, 256)
        if i % 3 == 0:
            m = m[: rng.integers(1, len(m))]
        try:
            with pairflow.read_ipc(bytes(m)) as r:
                for b in r:
                    pft.to_tensors(b)
            outcomes["ok"] += 1
        except pairflow.PairflowError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_version1_goldens_still_read():
    """Streams written before the summary (schema version 1) read, with
    completeness unknown."""
    v1 = golden_dir() / "v1"
    paths = sorted(v1.glob("*.arrows")) if v1.is_dir() else [p for p in golden_dir().glob("*.arrows")
                                                            if pairflow.read_ipc(p).info.version == 1]
    if not paths:
        pytest.skip("SKIPPING: no version-1 fixture streams in this checkout")
    for p in paths:
        with pairflow.read_ipc(p) as r:
            assert r.info.version == 1
            assert sum(len(b["sample_id"]) for b in r) > 0
            assert r.complete is None
