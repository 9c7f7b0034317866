"""Reading pairflow's Arrow IPC streams (``pairstream`` output, the HTTP stream of ``serve``)."""

from __future__ import annotations

import os
from typing import Any, BinaryIO, Dict, Iterator, Optional, Tuple, Union

import pyarrow as pa

from ._arrow import Completeness, StreamInfo, batch_numpy, batch_position, inspect_schema
from .errors import IncompleteStreamError, SchemaError

__all__ = ["PairReader", "read_ipc"]

PathOrStream = Union[str, os.PathLike, BinaryIO, pa.NativeFile, bytes, pa.Buffer]


class PairReader:
    """An open pairflow IPC stream.

    Iterating yields one dict per record batch (see :func:`read_ipc`);
    :meth:`record_batches` yields the pyarrow batches themselves. Either
    way the stream is checked as it goes: a stream that ends in the middle
    of a message raises :class:`~pairflow.IncompleteStreamError`, and so
    does one whose end-of-stream summary disagrees with what arrived.
    After the last batch, :attr:`complete` is True when the stream carried
    a summary and it matched, None when it carries none (schema version 1
    streams: completeness unknown). A version-2 stream without its summary
    is an IncompleteStreamError.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, source: PathOrStream, *, params: bool = True, require_complete: bool = False,
                 where: Optional[str] = None):
        self.where = where or _describe(source)
        self._params = params
        self._required = require_complete
        self._own: Optional[pa.NativeFile] = None
        if isinstance(source, (str, os.PathLike)):
            try:
                self._own = pa.OSFile(os.fspath(source), "rb")
            except OSError as e:
                raise FileNotFoundError(f"pairflow: cannot open {self.where}: {e}") from e
            src: Any = self._own
        elif isinstance(source, (bytes, bytearray, memoryview)):
            src = pa.BufferReader(pa.py_buffer(source))
        elif isinstance(source, pa.Buffer):
            src = pa.BufferReader(source)
        else:
            src = source
        head = _peek(source)
        if head is not None and len(head) >= 4 and head[:4] != b"\xff\xff\xff\xff":
            self.close()
            raise SchemaError(f"{self.where}: not an Arrow IPC stream (no continuation marker at the start)")
        try:
            self._reader = pa.ipc.open_stream(src)
        except (pa.ArrowException, OSError, ValueError) as e:
            self.close()
            raise _cut_or_bad(self.where, e, "schema") from e
        except Exception:
            self.close()
            raise
        try:
            self.info: StreamInfo = inspect_schema(self._reader.schema, self.where)
        except SchemaError:
            self.close()
            raise
        # A version-2 stream must end with its summary (SCHEMA.md §5.1).
        self._required = self._required or self.info.version >= 2
        self._check = Completeness(self.where)
        self.complete: Optional[bool] = None
        self._done = False

    @property
    def schema(self) -> pa.Schema:
        return self.info.schema

    @property
    def kind(self) -> str:
        """The pair kind (``contrastive``, ``inpainting``, …)."""
        return self.info.kind

    @property
    def recipe(self) -> Any:
        """The augmentation recipe the stream was made with (decoded JSON)."""
        return self.info.recipe

    def batches_with_metadata(self) -> Iterator[Tuple[pa.RecordBatch, Optional[Dict[bytes, bytes]]]]:
        """Yields (record batch, its custom metadata or None), checking completeness."""
        if self._done:
            return
        n = 0
        while True:
            try:
                rb, md = self._reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            except (pa.ArrowException, OSError, ValueError) as e:
                raise _cut_or_bad(self.where, e, f"batch {n}") from e
            md = dict(md) if md is not None else None
            self._check.add(rb, md)
            n += 1
            yield rb, md
        self._done = True
        self.complete = self._check.finish(self._required)

    def record_batches(self) -> Iterator[pa.RecordBatch]:
        """Yields the stream's pyarrow record batches."""
        for rb, _ in self.batches_with_metadata():
            yield rb

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        for rb, md in self.batches_with_metadata():
            d = batch_numpy(rb, self.info, self._params)
            pos = batch_position(md, rb, self.where)
            if pos is not None:
                d["batch_epoch"], d["batch_index"] = pos
            yield d

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

    def __enter__(self) -> "PairReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_ipc(source: PathOrStream, *, params: bool = True, require_complete: bool = False) -> PairReader:
    """Opens a pairflow Arrow IPC stream: a path, a binary file object
    (``sys.stdin.buffer``, an HTTP response), bytes or a pyarrow buffer.

    Iterating the reader yields one dict per batch, with numpy arrays:

    - image columns (``view_0``, ``view_1``, ``masked``, ``target``, ``mask``,
      ``patch_a``, …): ``(N, *shape)`` arrays sharing the Arrow buffer, no
      copy (float32 ``(N, C, H, W)`` or uint8 ``(N, H, W, C)``, as the recipe
      chose); read-only;
    - ``sample_id`` (uint64), ``epoch`` (int64), ``label`` (int32, -1 where
      the dataset has none), ``key`` (list of str), the kind's class column
      (``position``, ``rotation``: uint8);
    - with ``params`` (default), the drawn augmentation parameters as
      ``<image>_aug.<field>`` arrays (``view_0_aug.crop.x``,
      ``view_0_aug.hflip``…; -1 / NaN where the op was not reached).

    ``pairflow.torch.to_tensors`` turns such a dict into torch tensors
    without copying the images. With ``require_complete``, a stream without
    an end-of-stream summary is an error (streams of schema version 1 carry
    none). Raises SchemaError for a stream that is not pairflow's,
    IncompleteStreamError for one cut short.
    """
    return PairReader(source, params=params, require_complete=require_complete)


def _peek(source: Any) -> Optional[bytes]:
    """The first bytes of a path or in-memory source (None for streams,
    which cannot be peeked without consuming them)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return f.read(8)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:8])
    if isinstance(source, pa.Buffer):
        return source[:8].to_pybytes()
    return None


def _describe(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    if isinstance(name, str):
        return name
    return f"<{type(source).__name__}>"


def _cut_or_bad(where: str, e: Exception, what: str) -> Exception:
    msg = str(e)
    low = msg.lower()
    if "expected to be able to read" in low or "but only read" in low or "bytes available" in low or "eof" in low or "unexpected end" in low or "truncated" in low:
        return IncompleteStreamError(f"{where}: stream cut short while reading the {what}: {msg}")
    return SchemaError(f"{where}: not a readable Arrow IPC stream ({what}): {msg}")
