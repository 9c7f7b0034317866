"""PyTorch integration: :class:`PairDataset` streams batches from ``serve``
into a training loop; :func:`to_tensors` turns any pairflow batch dict
(``read_ipc``'s too) into tensors without copying the images.

Needs ``torch`` (an optional dependency of the package)::

    import torch, pairflow.torch
    ds = pairflow.torch.PairDataset("grpc://127.0.0.1:8815", dataset="fmnist", kind="contrastive",
                                    recipe="fmnist-simclr-v1", seed=1, batch_size=512)
    for batch in torch.utils.data.DataLoader(ds, batch_size=None):
        x0, x1 = batch["view_0"], batch["view_1"]      # float32 (N, C, H, W)
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import IterableDataset

from ._arrow import batch_numpy
from .client import TRANSPORTS, Position, TLSRoots, descriptor, open_stream, root_certs, stream_info
from .errors import StateError
from .world import endpoint_index, world, worker

__all__ = ["PairDataset", "to_tensors", "STATE_VERSION"]

#: Version of the dict that PairDataset.state_dict returns.
STATE_VERSION = 1


def _tensor(a: np.ndarray) -> torch.Tensor:
    if a.dtype == np.uint64:  # torch has no uint64: sample ids are < 2**63, reinterpret
        a = a.view(np.int64)
    if not a.flags.writeable:
        # Arrow buffers are immutable to numpy; torch warns that writing to
        # such a tensor is undefined. The tensor shares the Arrow buffer (no
        # copy): treat it as read-only, or .clone() before writing in place.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(a)
    return torch.from_numpy(a)


def to_tensors(batch: Mapping[str, Any]) -> Dict[str, Any]:
    """Converts a pairflow batch dict (numpy arrays, as ``read_ipc`` yields)
    to torch tensors. Image columns share the Arrow buffers: no copy is made.
    ``sample_id`` becomes int64 (same bits), lists (``key``) and ints stay."""
    out: Dict[str, Any] = {}
    for k, v in batch.items():
        out[k] = _tensor(v) if isinstance(v, np.ndarray) else v
    return out


Recipe = Union[str, Mapping[str, Any], Sequence[Union[str, Mapping[str, Any]]]]


class PairDataset(IterableDataset):
    """A ``serve`` stream as a PyTorch IterableDataset: each item is one
    batch, a dict of tensors (use ``DataLoader(ds, batch_size=None)``).

    Items: the image columns (``view_0``, ``view_1``… for contrastive;
    ``masked``/``target``/``mask``, ``patch_a``/``patch_b``, ``view``),
    zero-copy views of the received Arrow buffers in the contract's layout
    (float32 ``(N, C, H, W)``, or uint8 ``(N, H, W, C)`` when the recipe
    asks for uint8 output); ``sample_id`` (int64), ``epoch`` (int64),
    ``label`` (int32, -1 where unknown), the kind's class column, ``key``
    (list of str), the drawn augmentation parameters as
    ``<image>_aug.<field>`` tensors (``params=False`` leaves them out), and
    ``batch_epoch`` / ``batch_index`` (ints): where the batch sits in the
    rank's stream.

    One pass (one ``iter()``) streams the epochs ``epoch`` … ``epoch +
    epochs - 1`` of this rank, from the resume position if a state was
    loaded. For one pass per epoch, keep ``epochs=1`` and call
    :meth:`set_epoch` before each pass, as with ``DistributedSampler``.

    Ranks: ``rank``/``world_size``, else ``torch.distributed`` (when
    initialised), else ``RANK``/``WORLD_SIZE``. DataLoader workers split the
    rank's stream: worker w of W gets the batches whose index b has
    ``b % W == w``, and the DataLoader's round-robin hands them on in the
    rank's order. pairflow needs no DataLoader workers (the augmentation
    runs in ``serve``); with workers, batches reach the main process through
    shared memory (one copy).

    ``transport``: ``"flight"`` (the default: the URL's Flight connection,
    ``grpc://``, ``grpc+tls://`` or ``grpc+unix:///path.sock``), ``"shm"``
    (the same-host shared-memory ring of docs/serve.md; each batch's tensors
    are copied out of the ring once, so they live as long as you keep them)
    or ``"auto"`` (shm where the ring can be opened, else Flight).

    Resuming: :meth:`state_dict` is ``{epoch, batch}`` of the next batch
    not yet consumed, counted from the epoch and batch index every batch
    carries. Without DataLoader workers call it on the dataset; with
    workers call ``ds.state_dict(after=batch)`` with the last batch the loop
    consumed (the main process's copy never iterates), or use torchdata's
    ``StatefulDataLoader``, which calls ``state_dict`` / ``load_state_dict``
    in each worker (it needs torch >= 2.3; the tests here run Debian's
    torch 1.13). A dataset given the state with :meth:`load_state_dict`
    continues with the identical next batch. A state taken right after an
    epoch's last batch says ``(E, N)``, N the rank's batches per epoch
    (which serve reports): it resumes at ``(E + 1, 0)``; a batch past N is
    a ``StateError``. Under a ``"skip"`` policy the state also holds the
    skip counts of the last batch (``skips``), which the resumed stream
    counts its ``max_count`` / ``max_fraction`` budget on from, as the
    uninterrupted stream would (and so do the passes after
    :meth:`set_epoch`); ``state_dict(after=batch)`` from the main process
    of a DataLoader with workers cannot know them (each worker's stream
    counts its own): such a resume starts a fresh budget.

    TLS (``grpc+tls://``, ``https://``): the server's certificate must chain
    to the system's roots, or to ``tls_root_certs`` (PEM bytes or a PEM
    file's path; default ``$PAIRFLOW_TLS_ROOT_CERTS``) for a private CA or
    a self-signed certificate. The bearer ``token`` (default
    ``$PAIRFLOW_TOKEN``) should only travel over TLS.

    Errors are pairflow exceptions (``pairflow.ServerUnavailable``,
    ``AuthError``, ``DescriptorError``, ``IncompleteStreamError``,
    ``StreamTimeout``); no call waits longer than ``timeout`` (request) or
    ``read_timeout`` (next batch).
    """

    def __init__(self, url: str, *, dataset: str, kind: str, recipe: Recipe, batch_size: int, seed: int = 0,
                 epochs: int = 1, epoch: int = 0, views: Optional[int] = None,
                 config: Optional[Mapping[str, Any]] = None, rank: Optional[int] = None,
                 world_size: Optional[int] = None, token: Optional[str] = None, timeout: float = 30.0,
                 read_timeout: float = 120.0, params: bool = True, tls_root_certs: TLSRoots = None,
                 transport: str = "flight"):
        super().__init__()
        if transport not in TRANSPORTS:
            raise ValueError(f"pairflow: transport={transport!r} (want one of {', '.join(TRANSPORTS)})")
        self.transport = transport
        if epochs < 1:
            raise ValueError(f"pairflow: epochs={epochs} (want >= 1)")
        if batch_size < 1:
            raise ValueError(f"pairflow: batch_size={batch_size} (want >= 1)")
        self.url = url
        self.dataset = dataset
        self.world = world(rank, world_size)
        cfg: Dict[str, Any] = {"kind": kind, "batch_size": int(batch_size), "recipe": recipe, "seed": int(seed)}
        if views is not None:
            cfg["views"] = int(views)
        for k, v in (config or {}).items():
            if k in ("epoch", "epochs", "world_size"):
                raise ValueError(f"pairflow: give {k} as PairDataset's own argument, not in config")
            cfg[k] = v
        if self.world.size > 1:
            cfg["world_size"] = self.world.size
        self._cfg = cfg
        self.epochs = int(epochs)
        self._epoch = int(epoch)  # first epoch of the next pass
        self._next: Optional[Position] = None  # resume position inside the pass
        # Skip counts (total, epoch) after the last batch consumed, under the
        # "skip" policy: sent back on resume so that the budget counts on.
        self._spent: Optional[tuple] = None
        # Worker slots (see _open): the batch the slot rotation counts from,
        # from a per-worker state (StatefulDataLoader), and of the running pass.
        self._slot_base: Optional[int] = None
        self._slot_workers: Optional[int] = None
        self._iter_slot: Optional[tuple] = None
        self.token = token if token is not None else os.environ.get("PAIRFLOW_TOKEN") or None
        roots = tls_root_certs if tls_root_certs is not None else os.environ.get("PAIRFLOW_TLS_ROOT_CERTS") or None
        self.tls_root_certs = root_certs(roots)  # read now: a bad path fails here, not in a worker
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.params = params

    # ---- the stream ----

    def _config(self) -> Dict[str, Any]:
        c = dict(self._cfg)
        c["epoch"] = self._epoch
        c["epochs"] = self.epochs
        return c

    def fingerprint(self) -> str:
        """A digest of what fixes the stream (dataset name, config without
        the epoch window, world size): states are refused across configs."""
        d = json.dumps({"dataset": self.dataset, "config": self._cfg}, sort_keys=True).encode()
        return hashlib.sha256(d).hexdigest()[:16]

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        w = worker()
        if w.size > 1 and self.epochs > 1:
            raise ValueError(
                "pairflow: with DataLoader workers, give PairDataset epochs=1 and call set_epoch(e) before "
                "each pass: serve splits each epoch's batches over the workers (b % workers), and across an "
                "epoch end the DataLoader's round-robin would take them out of order")
        start = self._next
        if start is not None and start.epoch >= self._epoch + self.epochs:
            warnings.warn(f"pairflow: PairDataset pass over epochs {self._epoch}..{self._epoch + self.epochs - 1} "
                          f"is already consumed; call set_epoch(next_epoch) before each pass", stacklevel=2)
            return
        if start is not None and start.batch > 0:
            start = self._next = self._normal_start(start)
            if start.epoch >= self._epoch + self.epochs:
                return  # resumed after the pass's last batch: the pass is over
        base = start.batch if start is not None else 0
        if self._slot_base is not None and self._slot_workers == w.size:
            base = self._slot_base  # a worker's own state: keep its slot
        self._iter_slot = (base, w.size)
        info, batches = self._open(start, w, base)
        try:
            for sb in batches:
                d = to_tensors(batch_numpy(sb.rb, info, self.params))
                if self.transport != "flight":
                    # shm batches live in a ring slot that is reused once the
                    # next batch is read: hand out tensors of their own (one
                    # copy, still cheaper than a socket's two).
                    d = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in d.items()}
                d["batch_epoch"], d["batch_index"] = sb.position.epoch, sb.position.batch
                # Counted before the yield: once the consumer holds this batch
                # it has consumed it (StatefulDataLoader snapshots here too).
                self._next = Position(sb.position.epoch, sb.position.batch + 1)
                if sb.skips is not None:
                    self._spent = sb.skips
                yield d
            self._next = Position(self._epoch + self.epochs, 0)
        finally:
            batches.close()

    def _open(self, start: Optional[Position], w, base: int):
        """Opens this (rank, worker)'s stream from start.

        serve gives worker slot s of W the batches b with b % W == s (per
        epoch) and torch's DataLoader takes one batch from worker 0, 1, …
        in turn: DataLoader worker i reads slot (i + base) % W, base being
        the pass's start batch, so that worker 0 yields the start batch,
        worker 1 the next, and the main process sees the rank's order from
        any resume position. A worker restored from its own state (torchdata's
        StatefulDataLoader) keeps the base, so it keeps its slot.
        """
        slot = (w.rank + base) % w.size
        ep = endpoint_index(self.world.rank, slot, w.size)
        spent = None
        if self._spent is not None:
            # The epoch count goes with its epoch: none at an epoch's start.
            at_start = start is None or start.batch == 0
            spent = {ep: (self._spent[0], 0 if at_start else self._spent[1])}
        desc = descriptor(self.dataset, self._config(), worker_count=w.size, start=start, skips_spent=spent)
        return open_stream(self.url, desc, ep, token=self.token, timeout=self.timeout,
                           read_timeout=self.read_timeout, tls_root_certs=self.tls_root_certs,
                           transport=self.transport)

    def _normal_start(self, start: Position) -> Position:
        """A state taken right after an epoch's last batch says (E, N), N
        the rank's batches per epoch: that is (E + 1, 0). serve reads it so
        too, but the worker slots (see _open) count from the start batch, so
        the client normalises it first, with N from the server's stream
        info. A batch past N cannot come from this run: StateError."""
        info = stream_info(self.url, descriptor(self.dataset, self._config()), token=self.token,
                           timeout=self.timeout, tls_root_certs=self.tls_root_certs)
        n = info.batches_per_epoch
        if n is None:
            return start  # a serve that does not say N normalises (or refuses) itself
        if start.batch > n:
            raise StateError(f"pairflow: the resume position (epoch {start.epoch}, batch {start.batch}) is past the "
                             f"end of epoch {start.epoch}, which has {n} batches on this rank (0..{n - 1}); "
                             f"the state does not belong to this run")
        if start.batch == n:
            self._slot_base = self._slot_workers = None  # a new epoch: slots count from batch 0
            return Position(start.epoch + 1, 0)
        return start

    def set_epoch(self, epoch: int) -> None:
        """Makes the next pass start at ``epoch`` (batch 0)."""
        self._epoch = int(epoch)
        self._next = None
        self._slot_base = self._slot_workers = None

    # ---- state ----

    def state_dict(self, after: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The resume state: the next batch not yet consumed.

        ``after``: the last batch the training loop consumed (a dict this
        dataset yielded); needed when DataLoader workers do the iterating.
        Called inside a DataLoader worker (as StatefulDataLoader does), the
        state is that worker's: its next batch and its slot.
        """
        if after is not None:
            try:
                nxt = Position(int(after["batch_epoch"]), int(after["batch_index"]) + 1)
            except KeyError:
                raise StateError("pairflow: state_dict(after=...) wants a batch this dataset yielded "
                                 "(it has batch_epoch and batch_index)") from None
        else:
            nxt = self._next if self._next is not None else Position(self._epoch, 0)
        st = {"version": STATE_VERSION, "fingerprint": self.fingerprint(), "pass_epoch": self._epoch,
              "epochs": self.epochs, "epoch": nxt.epoch, "batch": nxt.batch}
        # The skip counts are this dataset's stream's after its last batch:
        # they belong to the state only when that batch is the one before nxt.
        if self._spent is not None and (after is None or nxt == self._next):
            st["skips"] = list(self._spent)
        if after is None and self._iter_slot is not None and self._iter_slot[1] > 1:
            st["slot_base"], st["workers"] = self._iter_slot
        return st

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continues from ``state`` (from :meth:`state_dict`): the next pass
        starts with the identical next batch."""
        try:
            version = state["version"]
            fp, pass_epoch, e, b = state["fingerprint"], state["pass_epoch"], state["epoch"], state["batch"]
        except (KeyError, TypeError):
            raise StateError(f"pairflow: not a PairDataset state: {state!r:.200}") from None
        if version != STATE_VERSION:
            raise StateError(f"pairflow: state version {version}; this package reads {STATE_VERSION}")
        if fp != self.fingerprint():
            raise StateError("pairflow: the state belongs to another dataset or config "
                             f"(fingerprint {fp}, this dataset {self.fingerprint()})")
        if not (isinstance(e, int) and isinstance(b, int) and b >= 0 and e >= pass_epoch):
            raise StateError(f"pairflow: bad position epoch={e!r} batch={b!r}")
        self._epoch = int(pass_epoch)
        self.epochs = int(state.get("epochs", self.epochs))
        skips = state.get("skips")
        if skips is not None and not (isinstance(skips, (list, tuple)) and len(skips) == 2
                                      and all(isinstance(x, int) and x >= 0 for x in skips)):
            raise StateError(f"pairflow: bad skip counts {skips!r} in the state")
        self._next = Position(e, b)
        self._spent = tuple(skips) if skips is not None else None
        self._slot_base = state.get("slot_base")
        self._slot_workers = state.get("workers")
