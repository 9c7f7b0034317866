"""pairflow for Python: read pairflow's paired-view streams and feed PyTorch.

- :func:`read_ipc` reads ``pairstream``'s Arrow IPC output (or any pairflow
  IPC stream) into numpy arrays without copying the images.
- :class:`pairflow.torch.PairDataset` (needs torch) streams batches from a
  ``serve`` data service into a PyTorch training loop: rank-aware, split
  across DataLoader workers, resumable.

pyarrow does all the Arrow reading; importing this package starts nothing.
"""

from .errors import (AuthError, DescriptorError, IncompleteStreamError, PairflowError, SchemaError,
                     ServerUnavailable, ShmUnavailable, StateError, StreamTimeout)
from .ipc import PairReader, read_ipc

__version__ = "0.1.0"

__all__ = [
    "read_ipc",
    "PairReader",
    "PairflowError",
    "ServerUnavailable",
    "ShmUnavailable",
    "AuthError",
    "DescriptorError",
    "SchemaError",
    "IncompleteStreamError",
    "StreamTimeout",
    "StateError",
]
