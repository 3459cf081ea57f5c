"""Server interceptors, outermost first: access (request id, access log line, metrics), auth, admission.

gRPC runs `intercept_service` on its polling thread, before the call is handed to a worker thread,
so admission decides there: a Recommend call beyond the bound never waits in the worker pool's queue
(which is unbounded) behind the calls that were admitted; it is refused by the next free worker.

Every unary RPC gets a request id (the caller's `x-request-id` metadata, or a new one), returned in
the trailing metadata and written on its access line. The Recommend handler adds its batch size to
the call's record (`current_call`), which lives in a context variable of the RPC's thread.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc

from movierec.diagnostics import MovierecError, ResourceExhausted, Unavailable
from movierec.server.auth import TokenTable
from movierec.server.errors import status_of
from movierec.server.metrics import ServerMetrics

access_log = logging.getLogger("movierec.access")
SERVICE_PREFIX = "/movierec.v1.Recommender/"
_REQUEST_ID = re.compile(r"[\w.:@/+=-]{1,128}")  # what a caller's id may look like before we echo it


@dataclass
class CallRecord:
    """What the handlers tell the access line about one call."""

    request_id: str
    batch_size: int | None = None


current_call: ContextVar[CallRecord | None] = ContextVar("movierec_call", default=None)


def request_id_from(sent: object) -> str:
    """The caller's request id when it looks like one (it is echoed and logged), else a new one."""
    return sent if isinstance(sent, str) and _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def method_label(full_method: str) -> str:
    """ "/movierec.v1.Recommender/Recommend" -> "Recommend"; "/grpc.health.v1.Health/Check" -> "Health/Check"."""
    if full_method.startswith(SERVICE_PREFIX):
        return full_method[len(SERVICE_PREFIX) :]
    service, _, method = full_method.lstrip("/").rpartition("/")
    return f"{service.rsplit('.', 1)[-1]}/{method}"


def _wrap(
    handler: grpc.RpcMethodHandler, behavior: Callable[[Any, grpc.ServicerContext], Any]
) -> grpc.RpcMethodHandler:
    return handler._replace(unary_unary=behavior)  # type: ignore[attr-defined]  # a namedtuple in grpcio


def _counted(handler: grpc.RpcMethodHandler, leave: Callable[[], None]) -> grpc.RpcMethodHandler:
    """The handler, calling `leave()` when its call is over (however it ends)."""
    behavior = handler.unary_unary

    def call(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request, context)
        finally:
            leave()

    return _wrap(handler, call)


def _refusing(handler: grpc.RpcMethodHandler | None, error: MovierecError) -> grpc.RpcMethodHandler:
    """A handler that answers `error`'s status (the one error map) without parsing the request."""
    code, message = status_of(error), str(error)

    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, message)

    return grpc.unary_unary_rpc_method_handler(refuse) if handler is None else _wrap(handler, refuse)


class AccessInterceptor(grpc.ServerInterceptor):
    """Request ids, one access log line per call (INFO for the Recommender, DEBUG for health and
    reflection) and the request metrics. Prompts are logged only when `log_prompts`."""

    def __init__(self, metrics: ServerMetrics, log_prompts: bool = False):
        self.metrics = metrics
        self.log_prompts = log_prompts

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods (UNIMPLEMENTED) and streams (health Watch, reflection) pass as they are
        behavior, method = handler.unary_unary, details.method  # type: ignore[attr-defined]
        label, ours = method_label(method), method.startswith(SERVICE_PREFIX)
        sent = next((v for k, v in details.invocation_metadata or () if k == "x-request-id"), None)  # type: ignore[attr-defined]

        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            record = CallRecord(request_id_from(sent))
            token = current_call.set(record)
            context.set_trailing_metadata((("x-request-id", record.request_id),))
            try:
                return behavior(request, context)
            finally:
                current_call.reset(token)
                code = (context.code() or grpc.StatusCode.OK).name  # type: ignore[attr-defined]
                self.observe(
                    label,
                    code,
                    time.perf_counter() - started,
                    record,
                    context.peer(),
                    getattr(request, "prompt", None),
                    ours=ours,
                )

        return _wrap(handler, observed)

    def observe(
        self,
        label: str,
        code: str,
        seconds: float,
        record: CallRecord,
        peer: str,
        prompt: str | None,
        *,
        ours: bool = True,
        transport: str | None = None,
    ) -> None:
        """Count one finished call in the metrics and write its access line (also for the HTTP edge,
        which names its `transport`; the metrics count both edges' calls together)."""
        self.metrics.requests.labels(label, code).inc()
        self.metrics.latency.labels(label, code).observe(seconds)
        if ours or access_log.isEnabledFor(logging.DEBUG):
            fields: dict[str, Any] = {
                "method": label,
                "code": code,
                "latency_ms": round(1000 * seconds, 2),
                "request_id": record.request_id,
                "peer": peer,
            }
            if transport is not None:
                fields["transport"] = transport
            if record.batch_size is not None:
                fields["batch_size"] = record.batch_size
            if self.log_prompts and prompt:
                fields["prompt"] = prompt
            access_log.log(logging.INFO if ours else logging.DEBUG, "%s %s", label, code, extra={"access": fields})


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses calls whose bearer token lacks the method's scope (movierec.server.auth)."""

    def __init__(self, tokens: TokenTable):
        self.tokens = tokens

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        metadata = details.invocation_metadata or ()  # type: ignore[attr-defined]
        authorization = next((v for k, v in metadata if k == "authorization"), None)
        try:
            self.tokens.check(details.method, authorization if isinstance(authorization, str) else None)  # type: ignore[attr-defined]
        except MovierecError as e:
            # The request is never parsed: the refusal does not depend on what it says.
            return _refusing(continuation(details), e)
        return continuation(details)


class AdmissionInterceptor(grpc.ServerInterceptor):
    """Bounds the Recommend calls in the server at once (in the worker pool's queue, waiting for a
    batch, or being computed) to `limit`; beyond it a call answers RESOURCE_EXHAUSTED without being
    parsed. Health checks, reflection and the other methods are not counted and never refused, so
    they keep answering under overload. `in_server` is the current count."""

    def __init__(self, limit: int, on_shed: Callable[[], None] = lambda: None):
        self.limit = limit
        self.in_server = 0
        self._lock = threading.Lock()
        self._on_shed = on_shed

    def admit(self) -> None:
        """Count one Recommend call in, or raise ResourceExhausted at the bound. The HTTP edge calls this
        too: one bound for the calls of both edges, which share the batcher."""
        with self._lock:
            admitted = self.in_server < self.limit
            if admitted:
                self.in_server += 1
        if not admitted:
            self._on_shed()
            raise ResourceExhausted(
                f"the server is at capacity ({self.limit} requests in progress); retry with backoff"
            )

    def leave(self) -> None:
        with self._lock:
            self.in_server -= 1

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None or details.method != SERVICE_PREFIX + "Recommend":  # type: ignore[attr-defined]
            return handler
        try:
            self.admit()
        except ResourceExhausted as e:
            return _refusing(handler, e)
        return _counted(handler, self.leave)


class DrainInterceptor(grpc.ServerInterceptor):
    """Counts the Recommender calls in the server, and once `start()` is called refuses new ones with
    UNAVAILABLE (which clients retry, on another replica when they have one) while those in flight
    finish. The server is stopped only after that (`wait_idle`): gRPC's own stop cancels the calls it
    has received but not yet handed to a handler, with CANCELLED, which clients do not retry
    (grpc/grpc#41785); by then there are none left to cancel but the ones being refused."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False
        self._idle = threading.Condition()

    def start(self) -> None:
        with self._idle:
            self.draining = True

    def wait_idle(self, timeout_s: float) -> bool:
        """Until no Recommender call is in the server (True), or `timeout_s` (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self.in_flight == 0, timeout_s)

    def enter(self) -> None:
        """Count one Recommender call in, or raise Unavailable once draining (the HTTP edge's calls too, so
        a drain waits for them as well)."""
        with self._idle:
            refused = self.draining
            if not refused:
                self.in_flight += 1
        if refused:
            raise Unavailable("the server is shutting down; retry (another replica answers if there is one)")

    def leave(self) -> None:
        with self._idle:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.notify_all()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None or not details.method.startswith(SERVICE_PREFIX):  # type: ignore[attr-defined]
            return handler
        try:
            self.enter()
        except Unavailable as e:
            return _refusing(handler, e)
        return _counted(handler, self.leave)
