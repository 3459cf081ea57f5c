"""The HTTP/JSON API beside gRPC: the Recommender's RPCs as JSON, the page, health, metrics, OpenAPI.

Each API endpoint is one RPC. Its JSON body, or its path and query parameters, becomes the RPC's
request message (movierec.server.jsonpb: pydantic models made from the proto's descriptors); the gRPC
servicer's own method answers it, behind the same error map (movierec.server.errors.guarded), on the
same ServingState (batcher, index, store); the response message goes back in its JSON form. So the two
edges share validation, conversion and every answer, and cannot drift apart. What the gRPC
interceptors do around a call is done here with the same objects: the drain (a draining server
refuses new calls on both edges and waits for both), the tokens (the RPC's scope), admission (one
bound for the Recommend calls of both edges), the metrics and the access lines.

A call's body is read and parsed before it counts for the drain or takes an admission slot, and must
arrive within BODY_TIMEOUT_S: a client that sends it slowly, or never, holds its own connection and
nothing the other calls need.

Errors are `{"error": {"code": "NOT_FOUND", "message": "..."}}`, the code and message gRPC gives, with
the HTTP status of errors.HTTP_STATUS (and of EDGE_STATUS, for what only HTTP has: a method a path does
not take); every error body is made by `error_body`, even the one uvicorn sends for a request it cannot
parse. A server listening on a loopback address answers only requests addressed to a loopback name
(the Host header), so that a page whose name an attacker points at 127.0.0.1 (DNS rebinding) cannot
use a server that trusts its machine. Starlette on uvicorn: uvicorn runs in a thread of its own with
its own event loop (HttpServer), and each RPC runs on a worker thread, as a gRPC call does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

import grpc
import uvicorn
from google.protobuf.message import Message
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from movierec import __version__
from movierec.diagnostics import InvalidArgument, MovierecError, Unavailable
from movierec.server import jsonpb
from movierec.server.auth import METHOD_SCOPES, TokenTable
from movierec.server.errors import HTTP_STATUS, INTERNAL_MESSAGE, guarded, http_status, status_of
from movierec.server.interceptors import (
    SERVICE_PREFIX,
    AccessInterceptor,
    AdmissionInterceptor,
    CallRecord,
    DrainInterceptor,
    current_call,
    request_id_from,
)
from movierec.server.servicer import RecommenderServicer
from movierec.server.state import ServingState
from movierec.v1 import recommender_pb2 as pb

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
SERVICE = pb.DESCRIPTOR.services_by_name["Recommender"]
# The page may load only its own script and style (no inline script), be framed by no one, and post
# nowhere else; the API's JSON carries the same header, harmless there. Its forms are handled by its
# script, never submitted: `form-action 'none'` keeps a form sent before the script has loaded (Enter
# in the token field, say) from putting what was typed into a URL.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
]
JSON = "application/json"
# How long a request's body may take to arrive once its headers have: long enough for any client that
# is sending, short enough that a stalled one lets go of its connection soon.
BODY_TIMEOUT_S = 5.0
# The longest URL uvicorn's parser (httptools) takes: it keeps 16-bit offsets, so this cannot be raised.
MAX_URL_BYTES = 65_535
# Statuses of this edge alone, beside the one error map's: a method a path does not take is gRPC's
# UNIMPLEMENTED (a method the server does not have), answered 405 with an Allow header.
EDGE_STATUS: dict[grpc.StatusCode, int] = {grpc.StatusCode.UNIMPLEMENTED: 405}
STATUS: dict[grpc.StatusCode, int] = {**HTTP_STATUS, **EDGE_STATUS}
# What a server listening on a loopback address takes in the Host header (HttpApp.loopback_only).
LOOPBACK_HOSTS = "localhost, 127.x.x.x or [::1] (any port)"


@dataclass(frozen=True)
class Endpoint:
    """One RPC over HTTP: where it is, and where its request's fields come from."""

    http_method: Literal["GET", "POST"]
    path: str
    rpc: str  # the Recommender method it calls
    # Parameters (path ones are `{name}` in the path, the others from the query) -> request fields, for
    # a GET; a POST reads its request from a JSON body.
    params: dict[str, str] = field(default_factory=dict)
    # Error statuses besides those every RPC can give (400, 401, 403, 500, 503).
    errors: tuple[int, ...] = ()

    @property
    def full_method(self) -> str:
        return SERVICE_PREFIX + self.rpc

    @property
    def request_type(self) -> type[Message]:
        return cast(type[Message], getattr(pb, SERVICE.methods_by_name[self.rpc].input_type.name))

    @property
    def response_type(self) -> type[Message]:
        return cast(type[Message], getattr(pb, SERVICE.methods_by_name[self.rpc].output_type.name))

    @property
    def path_params(self) -> list[str]:
        return [p for p in self.params if "{" + p + "}" in self.path]


ENDPOINTS = (
    Endpoint("POST", "/v1/recommend", "Recommend", errors=(404, 429, 504)),
    Endpoint("GET", "/v1/movies", "SearchMovies", {"q": "query", "limit": "limit"}),
    Endpoint("GET", "/v1/movies/{movie_id}", "GetMovie", {"movie_id": "movie_id"}, errors=(404,)),
    Endpoint("POST", "/v1/feedback", "RecordFeedback", errors=(404,)),
    Endpoint("GET", "/v1/users/{user_id}", "GetUser", {"user_id": "user_id", "limit": "limit"}, errors=(404,)),
    Endpoint("GET", "/v1/index", "GetIndexInfo"),
)
COMMON_ERRORS = (400, 401, 403, 500, 503)


class ErrorDetail(BaseModel):
    """An error: the gRPC status code's name and the message gRPC gives for the same call."""

    code: Literal[tuple(code.name for code in STATUS)]  # type: ignore[valid-type]
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class Health(BaseModel):
    """SERVING once an index is loaded (status 200); NOT_SERVING before that and while draining (503)."""

    status: Literal["SERVING", "NOT_SERVING"]


# -- one call -------------------------------------------------------------------------------------------
class Aborted(Exception):
    """What `guarded` raises through an HttpContext: the call's status code and message."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code, self.details = code, details


class HttpContext:
    """The part of grpc.ServicerContext that the servicer and `guarded` use, for a call made over HTTP.
    HTTP calls carry no deadline; `abort` raises Aborted."""

    def __init__(self, peer: str, metadata: Sequence[tuple[str, str]]):
        self._peer, self._metadata = peer, tuple(metadata)

    def time_remaining(self) -> float | None:
        return None

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise Aborted(code, details)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def is_active(self) -> bool:
        return True

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass  # the request id goes out as a response header


class DaemonPool:
    """Worker threads for the RPCs, started on demand up to `max_workers`. Daemon threads, unlike
    concurrent.futures' (which the interpreter joins at exit), so a call still running cannot hold a
    process open."""

    def __init__(self, max_workers: int, name: str):
        self.max_workers, self.name = max_workers, name
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._tasks.put((future, fn, args))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if self._threads < self.max_workers:
                    self._threads += 1
                    threading.Thread(target=self._work, name=f"{self.name}-{self._threads}", daemon=True).start()
        return future

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, fn, args = task
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as e:  # noqa: B036  (handed to the caller, as concurrent.futures does)
                    future.set_exception(e)
            self._idle.release()

    def close(self) -> None:
        """Idle threads exit; busy ones after their call."""
        with self._lock:
            for _ in range(self._threads):
                self._tasks.put(None)
            self._threads = 0


def _peer(request: Request) -> str:
    client = request.client
    if client is None:
        return "unknown"
    return f"ipv6:[{client.host}]:{client.port}" if ":" in client.host else f"ipv4:{client.host}:{client.port}"


def status_for(code: grpc.StatusCode) -> int:
    """The HTTP status of a gRPC code: the one error map's, or this edge's own (EDGE_STATUS)."""
    return EDGE_STATUS.get(code) or http_status(code)


def error_body(code: grpc.StatusCode, message: str) -> bytes:
    """The body of every error response (ErrorBody)."""
    return jsonpb.dumps(ErrorBody(error=ErrorDetail(code=code.name, message=message)).model_dump())


def error_response(code: grpc.StatusCode, message: str, headers: Mapping[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        headers["retry-after"] = "1"
    return Response(error_body(code, message), status_for(code), headers, JSON)


class BodyTimedOut(InvalidArgument):
    """The request's body did not all arrive within BODY_TIMEOUT_S."""


async def _body(request: Request, request_type: type[Message]) -> bytes:
    """The request's body, refused past gRPC's message limit before it is all read, or when it has not
    all arrived within BODY_TIMEOUT_S."""
    name = request_type.DESCRIPTOR.full_name
    declared = request.headers.get("content-length", "")
    if re.fullmatch(r"[0-9]+", declared) and int(declared) > jsonpb.MAX_BODY_BYTES:
        raise InvalidArgument(
            f"request is not a valid {name}: the body is {int(declared):,} bytes, over the "
            f"limit of {jsonpb.MAX_BODY_BYTES:,}"
        )
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                size += len(chunk)
                if size > jsonpb.MAX_BODY_BYTES:
                    raise InvalidArgument(
                        f"request is not a valid {name}: the body is over the limit of {jsonpb.MAX_BODY_BYTES:,} bytes"
                    )
                chunks.append(chunk)
    except TimeoutError:
        came = (
            f"{size:,} of the {int(declared):,} bytes announced"
            if re.fullmatch(r"[0-9]+", declared)
            else f"{size:,} bytes"
        )
        raise BodyTimedOut(
            f"request is not a valid {name}: the body did not arrive within {BODY_TIMEOUT_S:g} s "
            f"({came} came); send it with the headers"
        ) from None
    return b"".join(chunks)


class RpcEndpoint:
    """The handler of one Endpoint: token, parse (the body read first), drain, admission (Recommend), the
    servicer's method on a worker thread, the JSON answer; the access line and metrics whatever happened."""

    def __init__(
        self,
        endpoint: Endpoint,
        servicer: RecommenderServicer,
        pool: DaemonPool,
        *,
        tokens: TokenTable | None,
        drainer: DrainInterceptor,
        admission: AdmissionInterceptor | None,
        access: AccessInterceptor,
    ):
        self.endpoint = endpoint
        self.method = guarded(getattr(servicer, endpoint.rpc))
        self.pool, self.tokens, self.drainer, self.access = pool, tokens, drainer, access
        self.admission = admission if endpoint.rpc == "Recommend" else None  # what the gRPC bound counts too

    def _answer(self, message: Message, context: HttpContext, record: CallRecord) -> bytes:
        """On a worker thread: the servicer's answer (the call's record in reach of the batcher, as in gRPC)."""
        token = current_call.set(record)
        try:
            return jsonpb.to_json(self.method(message, cast(grpc.ServicerContext, context)))
        finally:
            current_call.reset(token)

    async def _parse(self, request: Request) -> Message:
        endpoint = self.endpoint
        if endpoint.http_method == "POST":
            # Only JSON: a form or text/plain body is what another site's page may send here without asking
            # (no CORS preflight), e.g. to post a rating to a server on the user's machine that has no tokens.
            media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if media_type != JSON:
                raise InvalidArgument(
                    f"request is not a valid {endpoint.request_type.DESCRIPTOR.full_name}: send "
                    f"the body as Content-Type: {JSON} (got {media_type or 'none'})"
                )
            return jsonpb.parse_json(await _body(request, endpoint.request_type), endpoint.request_type)
        for name in request.query_params:
            if name in endpoint.path_params:
                raise InvalidArgument(
                    f"request is not a valid {endpoint.request_type.DESCRIPTOR.full_name}: "
                    f"{name} is a path parameter ({endpoint.path}); it cannot also be given in "
                    "the query"
                )
        params = [*request.path_params.items(), *request.query_params.multi_items()]
        return jsonpb.parse_params(params, endpoint.request_type, endpoint.params)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        record = CallRecord(request_id_from(request.headers.get("x-request-id")))
        headers = {"x-request-id": record.request_id}
        leave: list[Callable[[], None]] = []
        handed_over = False
        message: Message | None = None
        code = grpc.StatusCode.OK
        try:
            if self.tokens is not None:
                self.tokens.check(self.endpoint.full_method, request.headers.get("authorization"))
            # Read and parsed first: while its body is on its way, a call holds no admission slot (the
            # bound both edges' Recommend calls share) and is not one the drain waits for.
            message = await self._parse(request)
            self.drainer.enter()
            leave.append(self.drainer.leave)
            if self.admission is not None:
                self.admission.admit()
                leave.append(self.admission.leave)
            context = HttpContext(_peer(request), [(k, v) for k, v in request.headers.items() if k != "authorization"])
            future = self.pool.submit(self._answer, message, context, record)
            # The call leaves the counts when its work ends, even if this coroutine is cancelled first.
            future.add_done_callback(lambda _: [release() for release in leave])
            handed_over = True
            return Response(await asyncio.wrap_future(future), 200, headers, JSON)
        except Aborted as e:
            code = e.code
            return error_response(code, e.details, headers)
        except BodyTimedOut as e:
            code = status_of(e)
            # Closed after the answer: what is left of the body, if it ever comes, is not a next request.
            return error_response(code, str(e), {**headers, "connection": "close"})
        except MovierecError as e:
            code = status_of(e)
            return error_response(code, str(e), headers)
        except ClientDisconnect:
            # Gone before its body was all in: no bug, and nobody to read an answer. The access line and
            # the metrics say CANCELLED, as gRPC does for a caller that went away.
            code = grpc.StatusCode.CANCELLED
            return Response(status_code=400)
        except Exception:
            log.exception("bug while handling %s %s", request.method, request.url.path)
            code = grpc.StatusCode.INTERNAL
            return error_response(code, INTERNAL_MESSAGE, headers)
        finally:
            if not handed_over:
                for release in leave:
                    release()
            self.access.observe(
                self.endpoint.rpc,
                code.name,
                time.perf_counter() - started,
                record,
                _peer(request),
                getattr(message, "prompt", None),
                transport="http",
            )


# -- the rest of the site ---------------------------------------------------------------------------------
class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (pure ASGI: no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(
        grpc.StatusCode.NOT_FOUND,
        f"nothing at {request.method} {request.url.path}; the API is described at /openapi.json",
    )


def _method_not_allowed(request: Request, exc: Exception) -> Response:
    allowed = cast(HTTPException, exc).headers or {}
    return error_response(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{request.method} is not supported at {request.url.path}; allowed: {allowed.get('Allow', '')}",
        allowed,
    )


def openapi_document(tokens: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document, generated: the schemas are the request and response messages' models
    (jsonpb, from the proto's descriptors), the paths are ENDPOINTS, the texts the proto's comments."""
    # A request's schema is what is read (validation: a 64-bit integer as a number or a decimal string),
    # a response's what is written (serialization: numbers).
    modes: dict[type[BaseModel], Literal["validation", "serialization"]] = {}
    for message in sorted(
        {m for e in ENDPOINTS for m in (e.request_type, e.response_type)}, key=lambda m: m.DESCRIPTOR.name
    ):
        requested = any(e.request_type is message for e in ENDPOINTS)
        modes[jsonpb.model_for(message)] = "validation" if requested else "serialization"
    modes |= {ErrorBody: "serialization", Health: "serialization"}
    keyed, schemas = models_json_schema(list(modes.items()), ref_template="#/components/schemas/{model}")
    ref = {model: keyed[(model, mode)] for model, mode in modes.items()}

    def json_content(model: type[BaseModel]) -> dict[str, Any]:
        return {JSON: {"schema": ref[model]}}

    def error(status: int) -> dict[str, Any]:
        codes = ", ".join(code.name for code, s in STATUS.items() if s == status)
        return {"description": codes, "content": json_content(ErrorBody)}

    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        request_model = jsonpb.model_for(endpoint.request_type)
        comment = jsonpb.COMMENTS.get(SERVICE.methods_by_name[endpoint.rpc].full_name, endpoint.rpc)
        scope = METHOD_SCOPES.get(endpoint.full_method)
        operation: dict[str, Any] = {
            "operationId": endpoint.rpc,
            "summary": comment.split("\n")[0],
            "description": f"The gRPC method `{endpoint.full_method}`"
            + (f" (token scope `{scope}` when the server has tokens)" if scope else "")
            + ".\n\n"
            + comment,
            "responses": {
                "200": {
                    "description": endpoint.response_type.DESCRIPTOR.full_name,
                    "content": json_content(jsonpb.model_for(endpoint.response_type)),
                },
                **{str(s): error(s) for s in sorted({*COMMON_ERRORS, *endpoint.errors})},
            },
        }
        if endpoint.http_method == "GET":
            properties = request_model.model_json_schema()["properties"]
            operation["parameters"] = [
                {
                    "name": param,
                    "in": "path" if param in endpoint.path_params else "query",
                    "required": param in endpoint.path_params,
                    "description": properties[name].get("description", name),
                    "schema": {k: v for k, v in properties[name].items() if k not in ("title", "description")},
                }
                for param, name in endpoint.params.items()
            ]
        else:
            operation["requestBody"] = {
                "required": True,
                "content": json_content(request_model),
                "description": f"{endpoint.request_type.DESCRIPTOR.full_name} in proto3 JSON: each field "
                "under the name shown or its lowerCamelCase JSON name; 64-bit integers as "
                "numbers or decimal strings.",
            }
        if tokens and scope:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(endpoint.path, {})[endpoint.http_method.lower()] = operation
    paths["/healthz"] = {
        "get": {
            "operationId": "Health",
            "summary": "Whether the server answers: SERVING once an index is loaded.",
            "responses": {
                "200": {"description": "SERVING", "content": json_content(Health)},
                "503": {"description": "NOT_SERVING (no index yet, or draining)", "content": json_content(Health)},
            },
        }
    }
    paths["/metrics"] = {
        "get": {
            "operationId": "Metrics",
            "summary": "Prometheus metrics (the gRPC and HTTP calls together).",
            "responses": {
                "200": {
                    "description": "the text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "OpenApi",
            "summary": "This document.",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}},
        }
    }
    paths["/"] = {
        "get": {
            "operationId": "Page",
            "summary": "The movie-night page (its files under /static/).",
            "responses": {
                "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
                "404": {"description": "NOT_FOUND (no page installed)", "content": json_content(ErrorBody)},
            },
        }
    }
    components: dict[str, Any] = {
        "schemas": schemas.get("$defs", {}),
        "responses": {
            "MethodNotAllowed": {
                "description": "UNIMPLEMENTED: a method the path does not take (any path; OpenAPI has no operation to "
                "hang it on); the Allow header lists those it takes.",
                "headers": {"Allow": {"description": "The methods the path takes.", "schema": {"type": "string"}}},
                "content": json_content(ErrorBody),
            }
        },
    }
    if tokens:
        components["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token of the server's tokens_path, with the read scope (write for RecordFeedback).",
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "movierec",
            "version": __version__,
            "description": jsonpb.COMMENTS.get(SERVICE.full_name, "Movie recommendations.")
            + "\n\nEvery /v1 endpoint is a method of the gRPC service movierec.v1.Recommender; bodies are "
            "its messages in proto3 JSON. A request's fields go under their proto names (shown here) "
            "or their lowerCamelCase JSON names, 64-bit integers as numbers or decimal strings, enums "
            "by name; an unknown field, a key given twice and a field given under both names are "
            "errors. Answers use the proto names, enums by name and 64-bit integers as numbers."
            "\n\nErrors are an ErrorBody: the gRPC status code's name and message, with the HTTP "
            "status of each operation's responses; a method a path does not take is 405 "
            "(#/components/responses/MethodNotAllowed), a URL over "
            f"{MAX_URL_BYTES:,} bytes 400, and a body that has not all arrived {BODY_TIMEOUT_S:g} s "
            "after its headers 400. A server listening on a loopback address answers only requests "
            f"whose Host is {LOOPBACK_HOSTS}, and 400 to any other.",
        },
        "paths": paths,
        "components": components,
    }


_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\[\]:]+))(?::[0-9]{1,5})?")


def loopback_host(host: str) -> bool:
    """Whether a Host header names this machine by a loopback name or address: LOOPBACK_HOSTS."""
    matched = _HOST.fullmatch(host)
    if matched is None:
        return False
    name, v6 = matched.group("name"), matched.group("v6")
    if name is not None and name.lower() == "localhost":
        return True
    try:
        return (ipaddress.IPv6Address(v6) if v6 is not None else ipaddress.IPv4Address(name)).is_loopback
    except ValueError:
        return False


class HttpApp:
    """The ASGI app: the site behind SecurityHeaders, outermost so that even Starlette's own error pages
    carry them, and, when `loopback_only`, behind the Host check. `close()` ends its worker threads."""

    def __init__(self, site: Starlette, pool: DaemonPool):
        self.site, self.pool = site, pool
        # Set by HttpServer when it listens on a loopback address. A page on another site can make the
        # browser send requests here by pointing its own name at 127.0.0.1 (DNS rebinding), and then read
        # the answers as its own; the browser still names that site in the Host header. A request with no
        # Host at all comes from no browser, and is answered.
        self.loopback_only = False
        self._app = SecurityHeaders(self._checked)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.loopback_only and scope["type"] == "http":
            hosts = [value.decode("latin-1") for name, value in scope["headers"] if name == b"host"]
            refused = next((host for host in hosts if not loopback_host(host)), None)
            if refused is not None:
                shown = refused if len(refused) <= 100 else refused[:100] + "..."
                response = error_response(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"this server listens on a loopback address and answers requests to "
                    f"{LOOPBACK_HOSTS} only; the Host header says {shown!r}",
                )
                await response(scope, receive, send)
                return
        await self.site(scope, receive, send)

    def close(self) -> None:
        self.pool.close()


def _internal(request: Request, exc: Exception) -> Response:
    # Starlette raises the exception on after this answer, and uvicorn logs it with its traceback.
    return error_response(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)


def create_app(
    state: ServingState,
    servicer: RecommenderServicer,
    *,
    tokens: TokenTable | None,
    drainer: DrainInterceptor,
    admission: AdmissionInterceptor | None,
    access: AccessInterceptor,
    workers: int,
    cors_origins: Sequence[str] = (),
    static_dir: Path = STATIC,
) -> HttpApp:
    """The ASGI app of the API, the page, health, metrics and the OpenAPI document; the RPCs run on up to
    `workers` threads."""
    pool = DaemonPool(workers, "http-rpc")
    openapi = jsonpb.dumps(openapi_document(tokens is not None))

    async def healthz(request: Request) -> Response:
        try:
            state.recommender()
            serving = not drainer.draining
        except Unavailable:
            serving = False
        body = Health(status="SERVING" if serving else "NOT_SERVING")
        return Response(jsonpb.dumps(body.model_dump()), 200 if serving else 503, media_type=JSON)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type=JSON)

    async def page(request: Request) -> Response:
        index = static_dir / "index.html"
        if not index.is_file():
            return _not_found(request, HTTPException(404))
        return FileResponse(index, media_type="text/html")

    routes: list[Route | Mount] = [
        Route(
            e.path,
            RpcEndpoint(e, servicer, pool, tokens=tokens, drainer=drainer, admission=admission, access=access).handle,
            methods=[e.http_method],
        )
        for e in ENDPOINTS
    ]
    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static"),
    ]
    middleware = []
    if cors_origins:  # otherwise no CORS headers at all: browsers keep other origins' pages out
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            )
        )
    site = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: _not_found, 405: _method_not_allowed, Exception: _internal},
    )
    return HttpApp(site, pool)


# -- serving ----------------------------------------------------------------------------------------------
def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), bound here so that a port in use is an error
    at once and the port is known before the server runs."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in ("", "::"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "[::]" takes IPv4 too, as gRPC does
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        raise MovierecError(f"cannot serve HTTP on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools), answering a request it cannot parse with our error body
    and headers instead of its plain text. A client that speaks HTTP meets it only with a URL longer than
    MAX_URL_BYTES (a long query string), which no app code sees."""

    def send_400_response(self, msg: str) -> None:
        url = getattr(self, "url", b"")  # the URL as far as it was read; it is reset at each request
        if len(url) > MAX_URL_BYTES:
            message = f"the URL is {len(url):,} bytes, over the limit of {MAX_URL_BYTES:,}; send a shorter query"
        else:
            message = "the request is not valid HTTP/1.1"
        body = error_body(grpc.StatusCode.INVALID_ARGUMENT, message)
        headers = [
            *self.server_state.default_headers,
            (b"content-type", JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *SECURITY_HEADERS,
        ]
        self.transport.write(
            b"".join(
                [
                    b"HTTP/1.1 400 Bad Request\r\n",
                    *(name + b": " + value + b"\r\n" for name, value in headers),
                    b"\r\n",
                    body,
                ]
            )
        )
        self.transport.close()


class HttpServer:
    """uvicorn serving `app` on a thread of its own (a daemon, with its own event loop); `port` is bound
    at construction. TLS when a certificate is given (client certificates required with a CA). On a
    loopback address the app answers only requests addressed to a loopback name (HttpApp.loopback_only)."""

    def __init__(
        self,
        app: HttpApp,
        host: str,
        port: int,
        *,
        certificate: Path | None = None,
        key: Path | None = None,
        client_ca: Path | None = None,
    ):
        self.app = app
        self.socket = _bind(host, port)
        self.port: int = self.socket.getsockname()[1]
        app.loopback_only = ipaddress.ip_address(self.socket.getsockname()[0]).is_loopback
        tls: dict[str, Any] = {}
        if certificate is not None and key is not None:
            tls = {"ssl_certfile": str(certificate), "ssl_keyfile": str(key)}
            if client_ca is not None:
                tls |= {"ssl_ca_certs": str(client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        # log_config None: the server's logging stays as configured; uvicorn says only what goes wrong.
        # No proxy headers: the peer on an access line is the one that connected.
        config = uvicorn.Config(
            app,
            http=HttpProtocol,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=2,
            **tls,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, name="movierec-http", daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._server.started:
            self.stop()
            raise MovierecError(f"the HTTP server on port {self.port} did not start (see the log)")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the listener and the connections (a call still running gets up to 2 s), then the workers."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.socket.close()
        self.app.close()


def serve_http(app: HttpApp, host: str, port: int, **tls: Any) -> HttpServer:
    server = HttpServer(app, host, port, **tls)
    server.start()
    return server
