"""The one error map: domain errors -> gRPC status codes (and those -> HTTP statuses). Only true bugs become
INTERNAL, and get logged."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import grpc

from movierec.diagnostics import (
    DeadlineExceeded,
    InvalidArgument,
    MovierecError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from movierec.server.convert import UnparsableRequest

log = logging.getLogger(__name__)

STATUS: dict[type[MovierecError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}


# The same codes over HTTP (movierec.server.http): the JSON error body carries the code's name and the
# same message; anything not listed (INTERNAL) is 500.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
INTERNAL_MESSAGE = "internal error; the server log has the details"


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


def status_of(error: MovierecError) -> grpc.StatusCode:
    for kind, code in STATUS.items():
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.UNAVAILABLE  # e.g. an ArtifactError while serving: the service cannot answer


def guarded(method: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
    """Wrap a unary handler so that every failure leaves with a precise status and message."""

    @functools.wraps(method)
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, UnparsableRequest):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request is not a valid {request.message_type} (text fields must be UTF-8): {request.reason}",
            )
        try:
            return method(request, context)
        except MovierecError as e:
            context.abort(status_of(e), str(e))
        except Exception:
            log.exception("bug while handling %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)

    return handler
