"""The Arrow contract on the Python side: schema checks, zero-copy column
conversion and the end-of-stream (completeness) check.

pyarrow does all the reading; this module only interprets what SCHEMA.md
(arrowpair/SCHEMA.md in the repository) says the columns and metadata mean.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import IncompleteStreamError, SchemaError

# Schema metadata keys (SCHEMA.md §2).
META_SCHEMA_VERSION = b"pairflow.schema_version"
META_KIND = b"pairflow.kind"
META_RECIPE = b"pairflow.recipe"

# Per-batch metadata of served streams (docs/serve.md): every batch carries
# its epoch and batch index; the last one also the stream's summary, which
# marks the stream complete.
META_EPOCH = b"pairflow.epoch"
META_BATCH = b"pairflow.batch"
META_STREAM_BATCHES = b"pairflow.stream.batches"
META_STREAM_ROWS = b"pairflow.stream.rows"
META_STREAM_CRC32 = b"pairflow.stream.crc32"
# Streams under the "skip" policy: the skips counted so far, over the run
# and in the batch's epoch (docs/serve.md, "Skip budgets").
META_SKIPPED = b"pairflow.skipped"
META_EPOCH_SKIPPED = b"pairflow.epoch_skipped"

#: Schema versions this package reads. Version 2 adds the completeness
#: summary on the last batch; version-1 streams read as "completeness unknown".
SCHEMA_VERSIONS = (1, 2)

KINDS = ("contrastive", "inpainting", "relative-patch", "rotation", "supervised", "eval")

TENSOR_EXTENSION = "arrow.fixed_shape_tensor"


@dataclass(frozen=True)
class StreamInfo:
    """What a pairflow stream's schema says about it."""

    schema: pa.Schema
    version: int
    kind: str
    recipe: Any  # the recipe JSON, decoded
    tensor_columns: tuple  # image columns (and ``mask``), in schema order
    aug_columns: tuple


def inspect_schema(schema: pa.Schema, where: str = "stream") -> StreamInfo:
    """Checks that ``schema`` is a pairflow schema this package reads.

    Raises SchemaError naming ``where`` (a path or URL) otherwise.
    """
    try:
        return _inspect_schema(schema, where)
    except SchemaError:
        raise
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as e:
        raise SchemaError(f"{where}: unreadable pairflow schema: {e}") from None


def _inspect_schema(schema: pa.Schema, where: str) -> StreamInfo:
    md = schema.metadata or {}
    raw = md.get(META_SCHEMA_VERSION)
    if raw is None:
        raise SchemaError(f"{where}: not a pairflow stream (no pairflow.schema_version in the schema metadata)")
    try:
        version = int(raw.decode())
    except ValueError:
        raise SchemaError(f"{where}: pairflow.schema_version {raw!r} is not a number") from None
    if version not in SCHEMA_VERSIONS:
        raise SchemaError(
            f"{where}: pairflow schema version {version}; this pairflow package reads versions "
            f"{', '.join(map(str, SCHEMA_VERSIONS))} (upgrade the Python package)"
        )
    kind = md.get(META_KIND, b"").decode()
    if kind not in KINDS:
        raise SchemaError(f"{where}: unknown pair kind {kind!r} (known: {', '.join(KINDS)})")
    try:
        recipe = json.loads(md.get(META_RECIPE, b"{}").decode() or "{}")
    except ValueError as e:
        raise SchemaError(f"{where}: pairflow.recipe is not JSON: {e}") from None
    tensors, augs = [], []
    for f in schema:
        if isinstance(f.type, pa.FixedShapeTensorType):
            tensors.append(f.name)
        elif f.name.endswith("_aug") and pa.types.is_struct(f.type):
            augs.append(f.name)
    for need, typ in (("sample_id", pa.uint64()), ("key", pa.utf8()), ("label", pa.int32()), ("epoch", pa.int64())):
        i = schema.get_field_index(need)
        if i < 0:
            raise SchemaError(f"{where}: pairflow schema without the {need!r} column")
        if schema.field(i).type != typ:
            raise SchemaError(f"{where}: column {need!r} is {schema.field(i).type}, the contract says {typ}")
    return StreamInfo(schema, version, kind, recipe, tuple(tensors), tuple(augs))


def tensor_numpy(col: pa.Array) -> np.ndarray:
    """Returns a fixed_shape_tensor column as an (N, *shape) array that
    shares the Arrow buffer (no copy). The array is read-only."""
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks != 1:
            raise ValueError("tensor_numpy wants one chunk")
        col = col.chunk(0)
    a = col.to_numpy_ndarray()
    assert_inside(a, col)
    return a


def buffer_span(col: pa.Array) -> tuple:
    """(address, size) of the value buffer behind a fixed_shape_tensor column."""
    values = col.storage.values
    buf = values.buffers()[1]
    return buf.address, buf.size


def assert_inside(a: np.ndarray, col: pa.Array) -> None:
    """Raises AssertionError unless ``a``'s memory lies inside the Arrow
    value buffer of ``col`` (the zero-copy promise)."""
    if a.size == 0:
        return
    addr, size = buffer_span(col)
    lo = a.__array_interface__["data"][0]
    hi = lo + a.nbytes
    if not (addr <= lo and hi <= addr + size):
        raise AssertionError(f"tensor memory [{lo:#x}, {hi:#x}) is not inside the Arrow buffer [{addr:#x}, {addr + size:#x})")


def _fill_numeric(arr: pa.Array) -> np.ndarray:
    """A nullable numeric/bool leaf as numpy: nulls become -1 (integers,
    widened so -1 fits), NaN (floats) or -1 (bools, as int8)."""
    t = arr.type
    if pa.types.is_floating(t):
        return pc.fill_null(arr, float("nan")).to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(t):
        return pc.fill_null(pc.cast(arr, pa.int8()), -1).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(t):
        wide = pa.int32() if t.bit_width < 32 or t == pa.int32() else pa.int64()
        return pc.fill_null(pc.cast(arr, wide), -1).to_numpy(zero_copy_only=False)
    raise TypeError(f"not a numeric leaf: {t}")


def _flatten_aug(prefix: str, arr: pa.Array, out: Dict[str, np.ndarray]) -> None:
    t = arr.type
    if pa.types.is_struct(t):
        for i, child in enumerate(arr.flatten()):  # flatten() merges the parent's nulls
            _flatten_aug(f"{prefix}.{t.field(i).name}", child, out)
    elif pa.types.is_fixed_size_list(t):
        n, k = len(arr), t.list_size
        flat = pc.list_flatten(pc.fill_null(arr, pa.scalar([None] * k, type=t)))
        out[prefix] = _fill_numeric(flat).reshape(n, k)
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        # Variable length (erased boxes): left to Arrow; see the docs.
        return
    else:
        out[prefix] = _fill_numeric(arr)


def batch_numpy(rb: pa.RecordBatch, info: StreamInfo, params: bool = True) -> Dict[str, Any]:
    try:
        return _batch_numpy(rb, info, params)
    except SchemaError:
        raise
    except (pa.ArrowException, UnicodeDecodeError, ValueError, TypeError) as e:
        raise SchemaError(f"a batch does not follow the pairflow schema: {type(e).__name__}: {e}") from None


def _batch_numpy(rb: pa.RecordBatch, info: StreamInfo, params: bool = True) -> Dict[str, Any]:
    """Converts one record batch to a dict of numpy arrays.

    Image columns are zero-copy views of the Arrow buffers (read-only);
    ``sample_id`` (uint64) and ``epoch`` (int64) too. ``label`` is int32
    with -1 where the dataset has no label; ``key`` is a list of str. With
    ``params``, each augmentation column's numeric fields come as
    ``<column>.<field>[.<subfield>]`` arrays (nulls -1, NaN for floats;
    the variable-length ``erased`` list is left out).
    """
    out: Dict[str, Any] = {}
    tensors = set(info.tensor_columns)
    augs = set(info.aug_columns)
    for name, col in zip(rb.schema.names, rb.columns):
        if name in tensors:
            out[name] = tensor_numpy(col)
        elif name in augs:
            if params:
                _flatten_aug(name, col, out)
        elif name == "key":
            out[name] = col.to_pylist()
        elif name == "label":
            out[name] = _fill_numeric(col) if col.null_count else col.to_numpy(zero_copy_only=False)
        else:
            a = col.to_numpy(zero_copy_only=False)  # zero-copy where the type allows
            if a.dtype.kind not in "biuf" or a.dtype in (np.uint16, np.uint32):
                raise SchemaError(f"column {name!r} of type {col.type} is not in the pairflow contract")
            out[name] = a
    return out


def _meta_int(md: Mapping[bytes, bytes], key: bytes, where: str) -> int:
    try:
        return int(md[key].decode())
    except (ValueError, UnicodeDecodeError):
        raise IncompleteStreamError(f"{where}: batch metadata {key.decode()}={md[key]!r} is not a number") from None


@dataclass
class Completeness:
    """Checks a stream against the summary its last batch carries.

    The summary (``pairflow.stream.batches``, ``.rows``, ``.crc32``) counts
    the stream's batches and rows and holds the CRC-32 (IEEE) of, batch by
    batch, the ``sample_id`` values then the ``epoch`` values as
    little-endian 8-byte integers.
    """

    where: str
    batches: int = 0
    rows: int = 0
    crc: int = 0
    ended: bool = False  # a summary arrived (and matched)
    _summary: Optional[tuple] = field(default=None, repr=False)

    def add(self, rb: pa.RecordBatch, md: Optional[Mapping[bytes, bytes]]) -> None:
        """Counts a received batch (after validating it: buffers that do
        not cover their lengths, offsets out of range and bad UTF-8 are
        refused here, before anything reads the values)."""
        try:
            rb.validate(full=True)
        except (pa.ArrowInvalid, pa.ArrowException) as e:
            raise IncompleteStreamError(f"{self.where}: batch {self.batches} is corrupt: {e}") from None
        if self.ended:
            raise IncompleteStreamError(
                f"{self.where}: a batch arrived after the end-of-stream summary (batch {self.batches + 1})"
            )
        self.batches += 1
        self.rows += rb.num_rows
        for name in ("sample_id", "epoch"):
            a = rb.column(name).to_numpy(zero_copy_only=False)
            self.crc = zlib.crc32(np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False)).view(np.uint8), self.crc)
        if md is not None and META_STREAM_BATCHES in md:
            want_b = _meta_int(md, META_STREAM_BATCHES, self.where)
            want_r = _meta_int(md, META_STREAM_ROWS, self.where) if META_STREAM_ROWS in md else None
            want_c = md.get(META_STREAM_CRC32, b"").decode()
            if want_b != self.batches or (want_r is not None and want_r != self.rows):
                raise IncompleteStreamError(
                    f"{self.where}: the end marker counts {want_b} batches / {want_r} rows, "
                    f"but {self.batches} batches / {self.rows} rows arrived"
                )
            if want_c and want_c.lower() != f"{self.crc:08x}":
                raise IncompleteStreamError(
                    f"{self.where}: stream checksum mismatch (end marker crc32 {want_c}, "
                    f"received {self.crc:08x}): batches were lost, reordered or corrupted"
                )
            self.ended = True

    def finish(self, required: bool) -> Optional[bool]:
        """Call at the end of the stream: True when a summary arrived and
        matched, None when the stream carries none (completeness unknown).
        With ``required``, a missing summary raises IncompleteStreamError."""
        if self.ended:
            return True
        if required and self.batches > 0:
            # An empty stream has no batch to carry a summary (a DataLoader
            # worker can have no batch left); it reads as complete-unknown.
            raise IncompleteStreamError(
                f"{self.where}: the stream ended after {self.batches} batches without its end marker "
                f"(the server or the writer stopped early)"
            )
        return None


def batch_position(md: Optional[Mapping[bytes, bytes]], rb: pa.RecordBatch, where: str) -> Optional[tuple]:
    """(epoch, batch index) of a served batch from its metadata, or None
    when the batch carries none (pairstream output)."""
    if md is None or META_BATCH not in md:
        return None
    b = _meta_int(md, META_BATCH, where)
    if META_EPOCH in md:
        e = _meta_int(md, META_EPOCH, where)
    else:
        e = int(rb.column("epoch")[0].as_py()) if rb.num_rows else 0
    return e, b
