"""The same-host shared-memory transport of ``serve`` (docs/serve.md,
"Same host"): the server writes each batch's Arrow IPC message into a slot
of a ring file in /dev/shm and sends, over a Flight DoExchange, only where
it lies; the client maps the ring, reads each batch from it without a copy
and tells the server, through the same exchange, which slots it may reuse.

Lifetimes: a batch yielded by the iterator points into its slot. The slot
is released when the iterator is asked for the next batch (or closed), after
which the server may overwrite it: a consumer that keeps a batch longer must
copy it (``PairDataset`` does, for the tensors it hands out).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Dict, Iterator, Optional, Tuple

import pyarrow as pa

from ._arrow import Completeness, StreamInfo, inspect_schema
from .errors import IncompleteStreamError, ServerUnavailable, ShmUnavailable, StreamTimeout

REQUEST_VERSION = 1
MAGIC = b"PFSHMRNG"
HEADER_BYTES = 4096
MAX_SLOTS = 64
PREFIX = "pairflow.shm."
RING, RING_BYTES, SLOTS, SLOT_BYTES, NONCE = (PREFIX + k for k in ("ring", "ring_bytes", "slots", "slot_bytes", "nonce"))
SEQ, OFFSET, LENGTH = PREFIX + "seq", PREFIX + "offset", PREFIX + "length"
RING_FAILED = "cannot create the shared-memory ring"  # serve's Unavailable message


def request(ticket: bytes, slots: int = 0) -> bytes:
    """The DoExchange request for ``ticket`` (the CMD of its first message)."""
    if not 0 <= slots <= MAX_SLOTS:
        raise ValueError(f"pairflow: shm_slots={slots} (0..{MAX_SLOTS}; 0 for the server's default)")
    r = {"version": REQUEST_VERSION, "ticket": base64.b64encode(ticket).decode()}
    if slots:
        r["slots"] = int(slots)
    return json.dumps(r).encode()


class Ring:
    """A ring file mapped read-only (pyarrow's memory map: buffers read from
    it keep the mapping alive after close)."""

    def __init__(self, md: Dict[str, str], where: str):
        try:
            self.path = md[RING]
            self.size = int(md[RING_BYTES])
            self.slots = int(md[SLOTS])
            self.slot_bytes = int(md[SLOT_BYTES])
            nonce = bytes.fromhex(md[NONCE])
        except (KeyError, ValueError) as e:
            raise IncompleteStreamError(f"{where}: unreadable shm ring announcement ({e}): {md}") from None
        if not (1 <= self.slots <= MAX_SLOTS and self.slot_bytes > 0 and len(nonce) == 16
                and self.size >= HEADER_BYTES + self.slots * self.slot_bytes):  # the slots, then maybe a tensor area
            raise IncompleteStreamError(f"{where}: inconsistent shm ring announcement: {md}")
        try:
            st = os.stat(self.path)
            if st.st_size != self.size:
                raise OSError(f"{st.st_size} bytes, announced {self.size}")
            self.map = pa.memory_map(self.path, "r")
        except OSError as e:
            raise ShmUnavailable(f"{where}: cannot open the shared-memory ring {self.path} ({e}); is this client on "
                                 f"the server's machine, as the same user? Use transport='flight' (or 'auto', "
                                 f"which falls back by itself)") from None
        head = self.map.read_at(48, 0)
        if (head[:8] != MAGIC or head[8:24] != nonce or int.from_bytes(head[24:28], "little") != self.slots
                or int.from_bytes(head[32:40], "little") != self.slot_bytes
                or int.from_bytes(head[40:48], "little") != self.size):
            self.map.close()
            raise ShmUnavailable(f"{where}: {self.path} is not the ring the server announced (another machine's "
                                 f"file?); use transport='flight'")

    def batch(self, md: Dict[str, str], want_seq: int, schema: pa.Schema, where: str) -> pa.RecordBatch:
        """The record batch a slot message points to, read in place after
        checking its place against the ring: it starts at its slot and may
        reach past it, into the ring's tensor area, never past the ring."""
        try:
            seq, off, n = int(md[SEQ]), int(md[OFFSET]), int(md[LENGTH])
        except (KeyError, ValueError) as e:
            raise IncompleteStreamError(f"{where}: unreadable shm slot message ({e})") from None
        slot_off = HEADER_BYTES + (want_seq % self.slots) * self.slot_bytes
        if seq != want_seq or off != slot_off or n < 8 or off + n > self.size:
            raise IncompleteStreamError(f"{where}: shm batch {seq} at [{off}, +{n}): want batch {want_seq} starting "
                                        f"at its slot {slot_off} (slots of {self.slot_bytes}) within a "
                                        f"{self.size}-byte ring")
        try:
            self.map.seek(off)
            msg = pa.ipc.read_message(self.map.read_buffer(n))  # a slice of the mapping: no copy
            return pa.ipc.read_record_batch(msg, schema)
        except (pa.ArrowInvalid, OSError) as e:
            raise IncompleteStreamError(f"{where}: shm batch {seq}: unreadable IPC message ({e})") from None

    def close(self) -> None:
        self.map.close()


def _kv(buf, where: str) -> Optional[Dict[str, str]]:
    if buf is None or buf.size == 0:
        return None
    try:
        obj = json.loads(buf.to_pybytes())
        if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
            raise ValueError("not an object of strings")
        return obj
    except ValueError as e:
        raise IncompleteStreamError(f"{where}: unreadable app_metadata ({e})") from None


def open_shm(url: str, desc: bytes, endpoint: int, token, timeout: float, read_timeout: float,
             slots: int, roots: Optional[bytes] = None) -> Tuple[StreamInfo, Iterator]:
    import pyarrow.flight as fl

    from .client import ServedBatch, _flight_endpoint, _flight_error, _served, _Watchdog

    client, headers, ep = _flight_endpoint(url, desc, endpoint, token, timeout, roots)
    where = f"{url} endpoint {endpoint} (shm)"
    req = fl.FlightDescriptor.for_command(request(ep_ticket(ep), slots))
    try:
        writer, reader = client.do_exchange(req, fl.FlightCallOptions(headers=headers))
    except Exception as e:
        client.close()
        raise _flight_error(url, f"DoExchange of endpoint {endpoint}", e) from e
    dog = _Watchdog(reader.cancel, read_timeout)
    ring: Optional[Ring] = None
    first = None

    def read_chunk():
        try:
            c = reader.read_chunk()
        except StopIteration:
            return None
        except Exception as e:
            if dog.fired:
                raise StreamTimeout(f"{where}: nothing for {read_timeout:g} s; the stream was cancelled") from e
            raise _flight_error(url, f"endpoint {endpoint} (shm)", e) from e
        dog.tick()
        return c

    def release(n: int) -> None:
        try:
            writer.write_metadata(pa.py_buffer(b'{"released":%d}' % n))
        except Exception:
            pass  # the stream is over (or failing): its reader reports why

    def shutdown() -> None:
        dog.stop()
        for f in (reader.cancel, writer.close, client.close):
            try:
                f()
            except Exception:
                pass
        if ring is not None:
            ring.close()

    try:
        try:
            schema = reader.schema
        except Exception as e:
            if dog.fired:
                raise StreamTimeout(f"{where}: no schema within {read_timeout:g} s") from e
            raise _flight_error(url, f"endpoint {endpoint} schema", e) from e
        si = inspect_schema(schema, where)
        # The ring is announced before the first batch: map it now, so that a
        # client that cannot use it knows before reading anything.
        try:
            first = read_chunk()
        except ServerUnavailable as e:
            if RING_FAILED in str(e):  # the server cannot make a ring (no /dev/shm, or a full one)
                raise ShmUnavailable(f"{where}: {e}; use transport='flight'") from e
            raise
        if first is not None and first.data is None:
            md = _kv(first.app_metadata, where)
            if md is not None and RING in md:
                ring = Ring(md, where)
                release(0)  # mapped: the server unlinks the file
                first = None
    except BaseException:
        shutdown()
        raise

    def batches() -> Iterator[ServedBatch]:
        nonlocal first
        check = Completeness(where)
        seq = 0
        try:
            while True:
                chunk = first if first is not None else read_chunk()
                first = None
                if chunk is None:
                    break
                md = _kv(chunk.app_metadata, where)
                if chunk.data is not None:  # a batch sent inline (too big for its slot)
                    yield _served(chunk.data, _bytes(md), check, where)
                    continue
                if md is None:
                    continue
                if RING in md:
                    raise IncompleteStreamError(f"{where}: a second shm ring announced")
                if ring is None:
                    raise IncompleteStreamError(f"{where}: an shm batch before the ring's announcement")
                rb = ring.batch(md, seq, schema, where)
                tags = {k: v for k, v in md.items() if not k.startswith(PREFIX)}
                sb = _served(rb, _bytes(tags), check, where)
                seq += 1
                yield sb
                del rb, sb
                release(seq)  # the consumer asked for the next batch: the slot is free
            check.finish(required=True)
        finally:
            shutdown()

    return si, batches()


def ep_ticket(ep) -> bytes:
    t = ep.ticket.ticket
    return t if isinstance(t, bytes) else bytes(t)


def _bytes(md: Optional[Dict[str, str]]) -> Optional[Dict[bytes, bytes]]:
    return None if md is None else {k.encode(): v.encode() for k, v in md.items()}
