"""Where this process sits in a data-parallel run: its rank, the world size,
and (inside a DataLoader worker) its worker slot."""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple, Optional

__all__ = ["World", "world", "worker", "endpoint_index", "worker_batches"]


class World(NamedTuple):
    rank: int
    size: int


def _env_int(env: Mapping[str, str], name: str) -> Optional[int]:
    v = env.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"pairflow: environment variable {name}={v!r} is not an integer") from None


def world(rank: Optional[int] = None, size: Optional[int] = None,
          env: Optional[Mapping[str, str]] = None) -> World:
    """Returns (rank, world size): the arguments when given; else
    ``torch.distributed``'s when a process group is initialised; else the
    ``RANK`` / ``WORLD_SIZE`` environment variables (torchrun's); else 0 of 1.
    """
    if (rank is None) != (size is None):
        raise ValueError("pairflow: give both rank and world_size, or neither")
    if rank is None:
        w = _from_torch()
        if w is None:
            e = os.environ if env is None else env
            r, s = _env_int(e, "RANK"), _env_int(e, "WORLD_SIZE")
            if (r is None) != (s is None):
                raise ValueError("pairflow: RANK and WORLD_SIZE must be set together (torchrun sets both)")
            w = World(0, 1) if r is None else World(r, s)
        rank, size = w
    if size < 1:
        raise ValueError(f"pairflow: world size {size} (want >= 1)")
    if not 0 <= rank < size:
        raise ValueError(f"pairflow: rank {rank} outside 0..{size - 1}")
    return World(rank, size)


def _from_torch() -> Optional[World]:
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return None


def worker() -> World:
    """(worker id, number of workers) of the current DataLoader worker, or
    (0, 1) in the main process."""
    try:
        from torch.utils.data import get_worker_info
    except ImportError:
        return World(0, 1)
    info = get_worker_info()
    if info is None:
        return World(0, 1)
    return World(info.id, info.num_workers)


def endpoint_index(rank: int, worker_id: int, workers: int) -> int:
    """The serve endpoint of (rank, worker): rank * workers + worker."""
    if not 0 <= worker_id < workers:
        raise ValueError(f"worker {worker_id} outside 0..{workers - 1}")
    return rank * workers + worker_id


def worker_batches(batches_per_epoch: int, slot: int, workers: int, start: int = 0) -> range:
    """The batch indices that worker slot ``slot`` of ``workers`` gets in one
    epoch from batch ``start`` under serve's split: b >= start with
    b % workers == slot. PairDataset gives DataLoader worker i the slot
    (i + start) % workers, so that torch's round-robin over the workers
    yields the rank's order. A reference for tests and for reasoning about
    resumes."""
    if not 0 <= slot < workers:
        raise ValueError(f"slot {slot} outside 0..{workers - 1}")
    first = start + (slot - start) % workers
    return range(first, batches_per_epoch, workers)
