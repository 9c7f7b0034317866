"""The exceptions pairflow raises.

Every error is a :class:`PairflowError`; each kind also derives from the
built-in exception a caller would expect (``ConnectionError``,
``PermissionError``, ``ValueError``, ``TimeoutError``, ``OSError``), so
``except ConnectionError`` keeps working around pairflow code.
"""

from __future__ import annotations

__all__ = [
    "PairflowError",
    "ServerUnavailable",
    "AuthError",
    "DescriptorError",
    "SchemaError",
    "IncompleteStreamError",
    "StreamTimeout",
    "StateError",
]


class PairflowError(Exception):
    """Base class of every pairflow error."""


class ServerUnavailable(PairflowError, ConnectionError):
    """The server could not be reached, or went away in the middle of a stream."""


class AuthError(PairflowError, PermissionError):
    """The server refused the request's credentials (missing or wrong token)."""


class DescriptorError(PairflowError, ValueError):
    """The server refused what was asked for (unknown dataset, bad config, bad start)."""


class SchemaError(PairflowError, ValueError):
    """The stream is not a pairflow stream, or of a schema version this package does not read."""


class IncompleteStreamError(PairflowError, OSError):
    """The stream ended before its end marker, or its end marker disagrees with what arrived."""


class StreamTimeout(PairflowError, TimeoutError):
    """No answer or no next batch arrived within the timeout."""


class StateError(PairflowError, ValueError):
    """A state_dict is malformed or belongs to another dataset/config."""


class ShmUnavailable(ServerUnavailable):
    """The shared-memory transport cannot be used here: the client is not on
    the server's machine (or not its user), or the platform lacks it. Read
    the stream over Flight instead (``transport="flight"``; ``"auto"`` falls
    back by itself)."""
