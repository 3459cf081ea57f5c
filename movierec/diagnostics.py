"""The domain errors raised by movierec's core code.

Core code raises only these; the server maps them to gRPC status codes in one place
(`movierec.server.errors`). Anything else escaping a request is a bug.
"""

from __future__ import annotations


class MovierecError(Exception):
    """Base class of every error movierec raises on purpose."""


class InvalidArgument(MovierecError):
    """The caller asked for something malformed (maps to INVALID_ARGUMENT)."""


class NotFound(MovierecError):
    """The caller named a user or movie that does not exist (maps to NOT_FOUND)."""


class Unavailable(MovierecError):
    """The service cannot answer right now, e.g. no index is loaded (maps to UNAVAILABLE)."""


class NotRecorded(Unavailable):
    """Feedback the store did not (or may not have) stored; the message says that a retry with the same
    request_id is safe (maps to UNAVAILABLE)."""


class DeadlineExceeded(MovierecError):
    """The caller's deadline passed before the answer was ready (maps to DEADLINE_EXCEEDED)."""


class ResourceExhausted(MovierecError):
    """The server is at capacity and refuses the call rather than queue it (maps to RESOURCE_EXHAUSTED)."""


class Unauthenticated(MovierecError):
    """The call carries no valid credentials (maps to UNAUTHENTICATED)."""


class PermissionDenied(MovierecError):
    """The caller's credentials do not allow this call (maps to PERMISSION_DENIED)."""


class DataError(MovierecError):
    """An input data file cannot be used.

    The message names the file and, where known, the line and column.
    """

    def __init__(self, path: object, problem: str, *, line: int | None = None, column: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")


class ArtifactError(MovierecError):
    """An index artifact folder is missing, incomplete or corrupt."""
