"""The client side of ``serve``: descriptors, Arrow Flight and the HTTP
Arrow IPC fallback, with every failure turned into a pairflow exception and
every wait bounded by a timeout.

The wire contract (docs/serve.md): a client sends a JSON descriptor
(dataset, pipeline config, DataLoader workers per rank, start position);
``GetFlightInfo`` answers with world_size × worker_count endpoints ordered
by (rank, worker); ``DoGet`` of endpoint ``rank * workers + worker``
streams that worker's share of the rank's batches from the start position
to the end of the configured epochs, each batch carrying its epoch and
batch index, the last one the stream's summary.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import pyarrow as pa

from ._arrow import (META_EPOCH_SKIPPED, META_SKIPPED, Completeness, StreamInfo, _meta_int, batch_position,
                     inspect_schema)
from .errors import (AuthError, DescriptorError, IncompleteStreamError, PairflowError, SchemaError,
                     ServerUnavailable, ShmUnavailable, StreamTimeout)

__all__ = ["Position", "descriptor", "open_stream", "stream_info", "root_certs", "ServeInfo", "ServedBatch"]

DESCRIPTOR_VERSION = 1

# tls_root_certs: PEM bytes, or the path of a PEM file.
TLSRoots = Optional[Union[bytes, str, "os.PathLike[str]"]]
MAX_DESCRIPTOR_BYTES = 64 << 10

# Arrow Flight URL schemes: TCP, TLS and a Unix socket (serve --listen unix:///path.sock).
FLIGHT_SCHEMES = ("grpc", "grpc+tcp", "grpc+tls", "grpc+unix")
TRANSPORTS = ("flight", "shm", "auto")
_URL_ADVICE = "want grpc://host:port or grpc+unix:///path.sock (Arrow Flight) or http://host:port (HTTP stream)"


@dataclass(frozen=True, order=True)
class Position:
    """A batch of a rank's stream: the epoch and the batch index within it."""

    epoch: int
    batch: int


def descriptor(dataset: str, config: Mapping[str, Any], worker_count: int = 1,
               start: Optional[Position] = None,
               skips_spent: Optional[Mapping[int, Tuple[int, int]]] = None) -> bytes:
    """Returns the descriptor JSON that asks ``serve`` for ``dataset``
    under the pipeline ``config`` (snake_case pipeline.Config fields).

    ``skips_spent`` maps an endpoint index to the skip counts ``(total,
    epoch)`` the last batch consumed from it carried
    (:attr:`ServedBatch.skips`), so that its resumed stream counts its skip
    budget on (docs/serve.md, "Skip budgets")."""
    if not dataset:
        raise ValueError("pairflow: dataset name is empty")
    for k in ("rank", "workers", "prefetch"):
        if k in config:
            raise ValueError(f"pairflow: config.{k} is chosen by the server and the endpoint; leave it out")
    d: Dict[str, Any] = {"version": DESCRIPTOR_VERSION, "dataset": dataset, "config": dict(config),
                         "worker_count": int(worker_count)}
    if start is not None:
        d["start"] = {"epoch": int(start.epoch), "batch": int(start.batch)}
    if skips_spent:
        d["skips_spent"] = {str(int(i)): {"total": int(t), "epoch": int(e)} for i, (t, e) in skips_spent.items()}
    b = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    if len(b) > MAX_DESCRIPTOR_BYTES:
        raise ValueError(f"pairflow: descriptor of {len(b)} bytes (serve reads at most {MAX_DESCRIPTOR_BYTES})")
    return b


@dataclass(frozen=True)
class ServeInfo:
    """What ``serve`` says about a descriptor's streams: ``GetFlightInfo``'s
    ``app_metadata`` (Flight) or ``POST /v1/info`` (HTTP), docs/serve.md.

    ``batches_per_epoch`` is N, the batches in each epoch of a rank's
    stream (None from a serve too old to say); ``start`` the descriptor's
    start as the server normalised it ((E, N) -> (E + 1, 0)).
    """

    endpoints: int
    ranks: Optional[int] = None
    worker_count: Optional[int] = None
    batches_per_epoch: Optional[int] = None
    start: Optional[Position] = None
    schema_version: Optional[str] = None

    @staticmethod
    def from_json(obj: Any, endpoints: int, where: str) -> "ServeInfo":
        if obj is None:
            return ServeInfo(endpoints)
        try:
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            n = obj.get("batches_per_epoch")
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
                raise ValueError(f"batches_per_epoch {n!r}")
            st = obj.get("start")
            start = Position(int(st["epoch"]), int(st["batch"])) if st is not None else None
            return ServeInfo(endpoints, obj.get("ranks"), obj.get("worker_count"), n, start,
                             obj.get("schema_version"))
        except (ValueError, TypeError, KeyError) as e:
            raise DescriptorError(f"{where}: unreadable stream info ({e}): {json.dumps(obj)[:200]}") from None


def stream_info(url: str, desc: bytes, *, token: Optional[str] = None, timeout: float = 30.0,
                tls_root_certs: TLSRoots = None) -> ServeInfo:
    """Asks the server at ``url`` about the streams ``desc`` describes,
    without opening one: over Flight ``GetFlightInfo`` (its
    ``app_metadata``), over HTTP ``POST /v1/info``. ``tls_root_certs``: see
    :func:`open_stream`."""
    scheme = urllib.parse.urlsplit(url).scheme
    roots = root_certs(tls_root_certs)
    if scheme in FLIGHT_SCHEMES:
        import pyarrow.flight as fl

        client, opts = _flight_client(url, token, timeout, roots)
        try:
            try:
                info = client.get_flight_info(fl.FlightDescriptor.for_command(desc), opts)
            except Exception as e:
                raise _flight_error(url, "GetFlightInfo", e) from e
            raw = info.app_metadata
            raw = raw.to_pybytes() if hasattr(raw, "to_pybytes") else bytes(raw or b"")
            try:
                obj = json.loads(raw) if raw else None
            except ValueError as e:
                raise DescriptorError(f"{url}: GetFlightInfo: unreadable app_metadata ({e}): {raw[:80]!r}") from None
            return ServeInfo.from_json(obj, len(info.endpoints), url)
        finally:
            client.close()
    if scheme in ("http", "https"):
        u = url.rstrip("/") + "/v1/info"
        resp = _http_post(u, desc, token, timeout, "application/json", roots)
        try:
            raw = resp.read(1 << 24)
        except Exception as e:
            raise ServerUnavailable(f"{u}: reading the answer: {type(e).__name__}: {e}") from e
        finally:
            resp.close()
        try:
            obj = json.loads(raw)
        except ValueError as e:
            raise DescriptorError(f"{u}: unreadable answer ({e}): {raw[:80]!r}") from None
        eps = obj.get("endpoints") if isinstance(obj, dict) else None
        return ServeInfo.from_json(obj, len(eps) if isinstance(eps, list) else 0, u)
    raise ValueError(f"pairflow: {url!r}: {_URL_ADVICE}")


@dataclass
class ServedBatch:
    rb: pa.RecordBatch
    position: Position
    # (total, epoch): the skips the endpoint's stream has counted against its
    # skip budget up to this batch (streams under the "skip" policy), else None.
    skips: Optional[Tuple[int, int]] = None


def open_stream(url: str, desc: bytes, endpoint: int, *, token: Optional[str] = None,
                timeout: float = 30.0, read_timeout: float = 120.0,
                tls_root_certs: TLSRoots = None, transport: str = "flight",
                shm_slots: int = 0) -> Tuple[StreamInfo, Iterator[ServedBatch]]:
    """Opens endpoint ``endpoint`` of the stream ``desc`` describes on the
    server at ``url`` (``grpc://host:port``, ``grpc+tls://…``,
    ``grpc+unix:///path.sock``, or ``http://host:port`` / ``https://…`` for
    the HTTP fallback).

    Returns the stream's schema info and an iterator of its batches. The
    iterator checks the stream's end marker and raises
    IncompleteStreamError when the stream stops without it.
    ``timeout`` bounds connecting and the request; ``read_timeout`` bounds
    the wait for each next batch. ``tls_root_certs`` (PEM bytes, or the
    path of a PEM file) are the certificates a ``grpc+tls://`` or
    ``https://`` server's certificate must chain to, for a server whose
    certificate the system's roots do not vouch for (a private CA, a
    self-signed certificate); None trusts the system's roots.

    ``transport="shm"`` (Flight URLs only) reads the batches from a
    shared-memory ring the server writes (docs/serve.md, "Same host"): no
    copy through the kernel, for a client on the server's machine. Each
    batch's buffers point into the ring and stay valid only until the
    iterator is asked for the next batch (or closed): copy what must live
    longer. ``ShmUnavailable`` says the ring cannot be opened here;
    ``transport="auto"`` then falls back to plain Flight by itself.
    ``shm_slots`` is the ring's size in batches (0: the server's default, 4).
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"pairflow: transport={transport!r} (want one of {', '.join(TRANSPORTS)})")
    scheme = urllib.parse.urlsplit(url).scheme
    roots = root_certs(tls_root_certs)
    if scheme in FLIGHT_SCHEMES:
        if transport == "flight":
            return _open_flight(url, desc, endpoint, token, timeout, read_timeout, roots)
        from ._shm import open_shm

        try:
            return open_shm(url, desc, endpoint, token, timeout, read_timeout, shm_slots, roots)
        except ShmUnavailable:
            if transport == "shm":
                raise
            return _open_flight(url, desc, endpoint, token, timeout, read_timeout, roots)
    if scheme in ("http", "https"):
        if transport == "shm":
            raise ValueError(f"pairflow: {url!r}: the shm transport needs a Flight URL (grpc://… or grpc+unix://…)")
        return _open_http(url, desc, endpoint, token, timeout, read_timeout, roots)
    raise ValueError(f"pairflow: {url!r}: {_URL_ADVICE}")


# ---- Flight ----------------------------------------------------------------


def _flight_error(url: str, what: str, e: Exception) -> PairflowError:
    import pyarrow.flight as fl

    msg = str(e).strip()
    # gRPC's text is long; keep its first line, which holds the server's message.
    first = msg.splitlines()[0] if msg else type(e).__name__
    if isinstance(e, fl.FlightUnauthenticatedError) or isinstance(e, fl.FlightUnauthorizedError):
        return AuthError(f"{url}: {what}: the server refused the credentials ({first}); "
                         f"pass token=... or set PAIRFLOW_TOKEN to the token serve was started with")
    if isinstance(e, pa.ArrowCapacityError) or "resource exhausted" in msg.lower() or "resourceexhausted" in msg.lower():
        return ServerUnavailable(f"{url}: {what}: the server is at its stream limit (--max-streams): {first}")
    if isinstance(e, fl.FlightTimedOutError):
        return StreamTimeout(f"{url}: {what}: no answer in time ({first})")
    if isinstance(e, fl.FlightUnavailableError):
        return ServerUnavailable(f"{url}: {what}: server unreachable or gone ({first}); "
                                 f"is serve running and listening there?")
    if isinstance(e, (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowNotImplementedError, pa.ArrowTypeError)):
        return DescriptorError(f"{url}: {what}: the server refused the request: {first}")
    if isinstance(e, fl.FlightCancelledError):
        return ServerUnavailable(f"{url}: {what}: the stream was cancelled ({first})")
    if isinstance(e, fl.FlightError):
        return ServerUnavailable(f"{url}: {what}: {type(e).__name__}: {first}")
    return ServerUnavailable(f"{url}: {what}: {type(e).__name__}: {first}")


class _Watchdog:
    """Cancels a stream that makes no progress for ``limit`` seconds."""

    def __init__(self, cancel, limit: float):
        self._cancel = cancel
        self._limit = limit
        self._last = time.monotonic()
        self._stop = threading.Event()
        self.fired = False
        self._t = threading.Thread(target=self._run, name="pairflow-watchdog", daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(min(self._limit, 1.0) / 4):
            if time.monotonic() - self._last > self._limit:
                self.fired = True
                try:
                    self._cancel()
                except Exception:
                    pass
                return

    def tick(self) -> None:
        self._last = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


# The process that first used Flight. gRPC's state does not survive fork():
# a child forked after its parent used Flight can hang forever in its first
# call (seen here with pyarrow 25, even with a call deadline), so such a
# child gets a clear error instead.
_FLIGHT_PID: Optional[int] = None

FORK_ADVICE = ("pass multiprocessing_context='forkserver' (or 'spawn') to the DataLoader, or do not use a "
               "PairDataset / Flight in the main process before its workers start")


def root_certs(v: TLSRoots) -> Optional[bytes]:
    """The PEM bytes of a ``tls_root_certs`` argument: bytes as they are, a
    str or path read from that file (None stays None)."""
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        pem = bytes(v)
        where = "tls_root_certs"
    else:
        where = os.fspath(v)
        try:
            with open(where, "rb") as f:
                pem = f.read(1 << 20)
        except OSError as e:
            raise PairflowError(f"pairflow: tls_root_certs {where!r}: {e.strerror or e}") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise PairflowError(f"pairflow: {where}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
    return pem


def _new_flight_client(url, roots: Optional[bytes]):
    import pyarrow.flight as fl

    if roots is not None:
        return fl.FlightClient(url, tls_root_certs=roots)
    return fl.FlightClient(url)


def _auth_headers(token):
    """The gRPC headers that carry token (none without one)."""
    return [(b"authorization", f"Bearer {token}".encode())] if token else []


def _flight_client(url, token, timeout, roots: Optional[bytes] = None):
    """A FlightClient for url and the call options of a request."""
    import pyarrow.flight as fl

    global _FLIGHT_PID
    if _FLIGHT_PID is not None and _FLIGHT_PID != os.getpid():
        raise PairflowError(f"{url}: this process was forked from process {_FLIGHT_PID}, which had already "
                            f"used Arrow Flight; gRPC cannot be used after fork() (it hangs): {FORK_ADVICE}")
    _FLIGHT_PID = os.getpid()
    return _new_flight_client(url, roots), fl.FlightCallOptions(timeout=timeout, headers=_auth_headers(token))


def _flight_endpoint(url, desc, endpoint, token, timeout, roots):
    """Connects to url, asks GetFlightInfo for desc and returns (client, its
    auth headers, the endpoint asked for); the client is closed on error."""
    import pyarrow.flight as fl

    client, opts = _flight_client(url, token, timeout, roots)
    try:
        info = client.get_flight_info(fl.FlightDescriptor.for_command(desc), opts)
    except Exception as e:
        client.close()
        raise _flight_error(url, "GetFlightInfo", e) from e
    eps = info.endpoints
    if not 0 <= endpoint < len(eps):
        client.close()
        raise DescriptorError(f"{url}: the server offers {len(eps)} endpoints; endpoint {endpoint} asked for "
                              f"(world_size × DataLoader workers must match the descriptor)")
    return client, _auth_headers(token), eps[endpoint]


def _open_flight(url, desc, endpoint, token, timeout, read_timeout, roots=None):
    import pyarrow.flight as fl

    client, headers, ep = _flight_endpoint(url, desc, endpoint, token, timeout, roots)
    stream_opts = fl.FlightCallOptions(headers=headers)  # no deadline: the watchdog bounds each read
    # Any location can serve the ticket; the one we asked comes last as the fallback.
    locations = [loc.uri.decode() if isinstance(loc.uri, bytes) else str(loc.uri) for loc in ep.locations]
    locations = [u for u in locations if not u.startswith("arrow-flight-reuse-connection")]
    candidates = [u for u in locations if u != url] + [url]
    last_err: Optional[Exception] = None
    reader = used = None
    for u in candidates:
        c = client if u == url else _new_flight_client(u, roots)
        try:
            reader = c.do_get(ep.ticket, stream_opts)
            used = c
            break
        except Exception as e:
            last_err = e
            if c is not client:
                c.close()
    if reader is None:
        client.close()
        raise _flight_error(url, f"DoGet of endpoint {endpoint}", last_err)
    where = f"{url} endpoint {endpoint}"
    dog = _Watchdog(reader.cancel, read_timeout)
    try:
        try:
            schema = reader.schema  # reads the schema message
        except Exception as e:
            if dog.fired:
                raise StreamTimeout(f"{where}: no schema within {read_timeout:g} s") from e
            raise _flight_error(url, f"endpoint {endpoint} schema", e) from e
        dog.tick()
        si = inspect_schema(schema, where)
    except BaseException:
        dog.stop()
        for c in {client, used}:
            c.close()
        raise

    def batches() -> Iterator[ServedBatch]:
        check = Completeness(where)
        try:
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    break
                except Exception as e:
                    if dog.fired:
                        raise StreamTimeout(f"{where}: no batch for {read_timeout:g} s after batch "
                                            f"{check.batches}; the stream was cancelled") from e
                    err = _flight_error(url, f"endpoint {endpoint} after {check.batches} batches", e)
                    if isinstance(err, ServerUnavailable):
                        raise IncompleteStreamError(f"{where}: stream cut short after {check.batches} batches: {err}") from e
                    raise err from e
                dog.tick()
                if chunk.data is None:
                    continue  # metadata-only message
                yield _served(chunk.data, _app_metadata(chunk.app_metadata, where), check, where)
            check.finish(required=True)
        finally:
            dog.stop()
            try:
                reader.cancel()
            except Exception:
                pass
            for c in {client, used}:
                c.close()

    return si, batches()


def _app_metadata(buf, where: str) -> Optional[Dict[bytes, bytes]]:
    """Flight carries the per-batch pairs in app_metadata, as a JSON object
    of string values (pyarrow cannot read IPC custom metadata over Flight)."""
    if buf is None or buf.size == 0:
        return None
    try:
        obj = json.loads(buf.to_pybytes())
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        return {str(k).encode(): str(v).encode() for k, v in obj.items()}
    except ValueError as e:
        raise IncompleteStreamError(f"{where}: unreadable batch app_metadata ({e}): {buf.to_pybytes()[:80]!r}") from None


def _served(rb, md, check: Completeness, where: str) -> ServedBatch:
    md = dict(md) if md is not None else None
    check.add(rb, md)
    pos = batch_position(md, rb, where)
    if pos is None:
        raise IncompleteStreamError(f"{where}: batch {check.batches - 1} carries no pairflow.batch metadata "
                                    f"(is this a pairflow serve stream?)")
    skips = None
    if md is not None and META_SKIPPED in md:
        skips = (_meta_int(md, META_SKIPPED, where), _meta_int(md, META_EPOCH_SKIPPED, where))
    return ServedBatch(rb, Position(*pos), skips)


# ---- HTTP ------------------------------------------------------------------


def _http_post(u, desc, token, timeout, accept, roots: Optional[bytes] = None):
    """POSTs a descriptor; HTTP and connection errors become pairflow errors."""
    req = urllib.request.Request(u, data=desc, method="POST",
                                 headers={"Content-Type": "application/json", "Accept": accept})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    ctx = None
    if roots is not None and u.startswith("https:"):
        ctx = ssl.create_default_context(cadata=roots.decode("ascii", "replace"))
    try:
        return urllib.request.urlopen(req, timeout=timeout, context=ctx)
    except urllib.error.HTTPError as e:
        body = e.read(4096).decode("utf-8", "replace").strip()
        if e.code in (401, 403):
            raise AuthError(f"{u}: HTTP {e.code}: {body}; pass token=... or set PAIRFLOW_TOKEN") from e
        if e.code == 429:
            raise ServerUnavailable(f"{u}: HTTP 429: the server is at its stream limit (--max-streams): {body}") from e
        if 400 <= e.code < 500:
            raise DescriptorError(f"{u}: HTTP {e.code}: {body}") from e
        raise ServerUnavailable(f"{u}: HTTP {e.code}: {body}") from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError) or "timed out" in str(e.reason):
            raise StreamTimeout(f"{u}: no answer within {timeout:g} s") from e
        raise ServerUnavailable(f"{u}: server unreachable ({e.reason}); is serve running with --http-listen there?") from e
    except TimeoutError as e:
        raise StreamTimeout(f"{u}: no answer within {timeout:g} s") from e


def _open_http(url, desc, endpoint, token, timeout, read_timeout, roots=None):
    u = url.rstrip("/") + f"/v1/stream?endpoint={int(endpoint)}"
    where = f"{url} endpoint {endpoint}"
    resp = _http_post(u, desc, token, min(timeout, read_timeout) if read_timeout else timeout,
                      "application/vnd.apache.arrow.stream", roots)
    # Later reads wait at most read_timeout each (the socket's timeout).
    try:
        resp.fp.raw._sock.settimeout(read_timeout)  # type: ignore[attr-defined]
    except AttributeError:
        pass
    try:
        rbr = pa.ipc.open_stream(resp)
        si = inspect_schema(rbr.schema, where)
    except SchemaError:
        resp.close()
        raise
    except Exception as e:
        resp.close()
        raise _http_read_error(where, e, 0, read_timeout) from e

    def batches() -> Iterator[ServedBatch]:
        check = Completeness(where)
        try:
            while True:
                try:
                    rb, md = rbr.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                except Exception as e:
                    raise _http_read_error(where, e, check.batches, read_timeout) from e
                yield _served(rb, md, check, where)
            check.finish(required=True)
        finally:
            resp.close()

    return si, batches()


def _http_read_error(where: str, e: Exception, n: int, read_timeout: float) -> PairflowError:
    text = f"{type(e).__name__}: {e}"
    if isinstance(e, TimeoutError) or "timed out" in text:
        return StreamTimeout(f"{where}: no data for {read_timeout:g} s after batch {n}")
    return IncompleteStreamError(f"{where}: stream cut short after {n} batches ({text})")
