"""The HTTP/JSON API (movierec.server.http) on real servers (port 0) over the sample index, with a real
HTTP client (urllib): every endpoint, the same answers as gRPC, each error status and its body, tokens,
admission, drain, CORS, security headers, the OpenAPI document and the JSON form of the messages."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from movierec.embedding import Encoder
from movierec.server import jsonpb
from movierec.server.app import create_server
from movierec.server.auth import TokenTable
from movierec.server.http import (
    BODY_TIMEOUT_S,
    CONTENT_SECURITY_POLICY,
    ENDPOINTS,
    MAX_URL_BYTES,
    STATIC,
    STATUS,
    HttpServer,
    create_app,
    loopback_host,
)
from movierec.server.interceptors import AccessInterceptor, AdmissionInterceptor, DrainInterceptor
from movierec.server.servicer import RecommenderServicer
from movierec.server.state import ServingState
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

from processes import BIN, free_port, stored_feedback

pytestmark = pytest.mark.slow

TOY_STORY = 862
READ_TOKEN, WRITE_TOKEN = "read-token-0123456789", "write-token-0123456789"
ALLOWED_ORIGIN = "https://movies.example"


# -- a real HTTP client -------------------------------------------------------------------------------
class Reply:
    def __init__(self, status: int, headers: Any, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json", self.headers["content-type"]
        return json.loads(self.body)

    @property
    def error(self) -> tuple[str, str]:
        error = self.json["error"]
        assert set(error) == {"code", "message"}, error
        return error["code"], error["message"]


def http(
    port: int,
    method: str,
    path: str,
    body: bytes | dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Reply(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())


# -- servers ------------------------------------------------------------------------------------------
def _index_copy(sample_settings: Settings, folder: Path) -> Path:
    shutil.copytree(sample_settings.index.index_dir, folder, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    return folder


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, sample_settings: Settings, encoder: Encoder
) -> Iterator[tuple[grpc.Server, int, int, Settings]]:
    """A server of its own (feedback writes) with the HTTP API on: (server, gRPC port, HTTP port, settings)."""
    index_dir = _index_copy(sample_settings, tmp_path_factory.mktemp("http") / "index")
    settings = sample_settings.replace(index_dir=index_dir, http_port=0)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder, wait_for_index_s=60)
    assert server.http_port
    yield server, port, server.http_port, settings
    server.stop(None).wait(30)


@pytest.fixture(scope="module")
def guarded_server(
    tmp_path_factory: pytest.TempPathFactory, sample_settings: Settings, encoder: Encoder
) -> Iterator[int]:
    """A server with tokens and one CORS origin; its HTTP port."""
    folder = tmp_path_factory.mktemp("http-tokens")
    tokens = folder / "tokens"
    tokens.write_text(f"{READ_TOKEN} read\n{WRITE_TOKEN} write\n")
    settings = sample_settings.replace(
        index_dir=_index_copy(sample_settings, folder / "index"),
        http_port=0,
        tokens_path=tokens,
        http_cors_origins=[ALLOWED_ORIGIN],
    )
    server, _ = create_server(settings, "127.0.0.1:0", encoder=encoder, wait_for_index_s=60)
    yield server.http_port
    server.stop(None).wait(30)


@pytest.fixture(scope="module")
def sample_state(sample_settings: Settings, encoder: Encoder) -> Iterator[ServingState]:
    """A loaded ServingState of the sample index, for apps put together in the tests."""
    state = ServingState(sample_settings.replace(store_poll_interval_s=0), encoder=encoder)
    assert state.first_load_tried.wait(60) and state.load_error is None
    yield state
    state.close()


def serve_app(
    state: ServingState,
    servicer: RecommenderServicer | None = None,
    *,
    drainer: DrainInterceptor | None = None,
    admission: AdmissionInterceptor | None = None,
) -> HttpServer:
    app = create_app(
        state,
        servicer or RecommenderServicer(state),
        tokens=None,
        drainer=drainer or DrainInterceptor(),
        admission=admission,
        access=AccessInterceptor(state.metrics),
        workers=8,
    )
    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    return server


# -- every endpoint -------------------------------------------------------------------------------------
def test_every_endpoint_answers_json(served: tuple[grpc.Server, int, int, Settings]) -> None:
    _, _, port, _ = served
    health = http(port, "GET", "/healthz")
    assert health.status == 200 and health.json == {"status": "SERVING"}

    info = http(port, "GET", "/v1/index")
    assert info.status == 200 and info.json["movies"] > 0 and info.json["index_version"]
    assert isinstance(info.json["movies"], int)  # int64 as a JSON number, not a string

    listed = http(port, "POST", "/v1/recommend", {"prompt": "an animated movie about toys", "limit": 3})
    assert listed.status == 200 and len(listed.json["movies"]) == 3
    first = listed.json["movies"][0]
    assert isinstance(first["movie_id"], int) and isinstance(first["score"], float) and first["signals"]
    assert listed.json["understood"]["mood"]

    found = http(port, "GET", "/v1/movies?q=toy%20story&limit=2")
    assert found.status == 200 and len(found.json["movies"]) == 2
    assert found.json["movies"][0]["movie"]["movie_id"] == TOY_STORY and 0 < found.json["movies"][0]["score"] <= 1

    movie = http(port, "GET", f"/v1/movies/{TOY_STORY}")
    assert movie.status == 200 and movie.json["title"] == "Toy Story" and movie.json["year"] == 1995
    assert "John Lasseter" in movie.json["directors"]

    user = http(port, "GET", "/v1/users/1?limit=2")
    assert user.status == 200 and user.json["user_id"] == 1 and user.json["ratings"] > 2
    assert len(user.json["recent"]) == 2 and isinstance(user.json["recent"][0]["timestamp"], int)

    metrics = http(port, "GET", "/metrics")
    assert metrics.status == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'movierec_requests_total{code="OK",method="Recommend"}' in metrics.body.decode()


def test_recommend_answers_as_grpc_does(served: tuple[grpc.Server, int, int, Settings]) -> None:
    _, grpc_port, port, _ = served
    requests = [
        {"prompt": "a suspenseful detective film", "limit": 7},
        {"prompt": "something funny", "user_id": 1, "limit": 5, "with_details": True},
        {
            "prompt": "space adventure",
            "genres": ["Science Fiction"],
            "year_min": 1970,
            "year_max": 2010,
            "excluded_movie_ids": [11],
        },
        {
            "conversation": [
                {"role": "SEEKER", "text": "a heist movie"},
                {"role": "RECOMMENDER", "text": "Ocean's Eleven?"},
                {"role": "SEEKER", "text": "seen it, something older"},
            ],
            "limit": 5,
        },
    ]
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = pb_grpc.RecommenderStub(channel)
        for fields in requests:
            over_grpc = stub.Recommend(json_format.ParseDict(fields, pb.RecommendRequest()), timeout=30)
            over_http = http(port, "POST", "/v1/recommend", fields)
            assert over_http.status == 200, over_http.body
            assert [m["movie_id"] for m in over_http.json["movies"]] == [m.movie_id for m in over_grpc.movies]
            assert over_grpc.movies, fields
            assert over_http.json == jsonpb.to_dict(over_grpc)  # every field, reasons and details too


def test_feedback_is_durable_and_shows_in_the_user(served: tuple[grpc.Server, int, int, Settings]) -> None:
    _, grpc_port, port, settings = served
    rating = {"user_id": 900_001, "movie_id": TOY_STORY, "rating": 4.5, "request_id": "http-feedback-1"}
    assert http(port, "GET", "/v1/users/900001").status == 404
    stored = http(port, "POST", "/v1/feedback", rating)
    assert stored.status == 200, stored.body
    assert stored.json["duplicate"] is False and stored.json["ratings"] == 1
    assert abs(stored.json["timestamp"] - time.time()) < 60
    again = http(port, "POST", "/v1/feedback", rating)  # a retry: stored once
    assert again.status == 200 and again.json["duplicate"] is True
    user = http(port, "GET", "/v1/users/900001")
    assert user.status == 200 and user.json["ratings"] == 1
    assert [(r["movie_id"], r["rating"]) for r in user.json["recent"]] == [(TOY_STORY, 4.5)]
    assert [row for row in stored_feedback(settings.effective_store_url) if row[1] == 900_001] == [
        ("http-feedback-1", 900_001, TOY_STORY, 4.5)
    ]  # committed to the store, not only applied
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:  # the same state behind both edges
        reply = pb_grpc.RecommenderStub(channel).GetUser(pb.GetUserRequest(user_id=900_001), timeout=30)
    assert [r.movie_id for r in reply.recent] == [TOY_STORY]


def test_an_enum_goes_by_its_name_both_ways(served: tuple[grpc.Server, int, int, Settings]) -> None:
    """A feedback kind sent by name is the gRPC enum value: a SEEN mark shows in the user's marks."""
    _, _, port, _ = served
    marked = http(port, "POST", "/v1/feedback", {"user_id": 900_004, "movie_id": TOY_STORY, "kind": "SEEN"})
    assert marked.status == 200, marked.body
    user = http(port, "GET", "/v1/users/900004")
    assert user.status == 200 and user.json["seen"] == [TOY_STORY] and user.json["not_interested"] == []
    wrong = http(port, "POST", "/v1/feedback", {"user_id": 900_004, "movie_id": TOY_STORY, "kind": 2})
    assert wrong.status == 400 and "kind: expected one of" in wrong.error[1] and "'SEEN'" in wrong.error[1]


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, body, status, code, words",
    [
        ("POST", "/v1/recommend", {"prompt": "a heist", "limit": 500}, 400, "INVALID_ARGUMENT", ["limit", "500"]),
        ("GET", "/v1/movies?q=toy&limit=51", None, 400, "INVALID_ARGUMENT", ["51"]),
        ("GET", "/v1/movies/987654321", None, 404, "NOT_FOUND", ["987654321"]),
        ("GET", "/v1/users/987654321", None, 404, "NOT_FOUND", ["987654321"]),
        ("POST", "/v1/recommend", {"prompt": "x", "user_id": 987654321}, 404, "NOT_FOUND", ["987654321"]),
        ("POST", "/v1/feedback", {"user_id": 1, "movie_id": 424242424, "rating": 4.0}, 404, "NOT_FOUND", ["424242424"]),
        (
            "POST",
            "/v1/feedback",
            {"user_id": 1, "movie_id": TOY_STORY, "rating": 3.3},
            400,
            "INVALID_ARGUMENT",
            ["steps of 0.5"],
        ),
        ("POST", "/v1/recommend", b'{"prompt": "a heist",', 400, "INVALID_ARGUMENT", ["not valid JSON", "column"]),
        ("POST", "/v1/recommend", b"", 400, "INVALID_ARGUMENT", ["empty"]),
        ("POST", "/v1/recommend", b"[1, 2]", 400, "INVALID_ARGUMENT", ["expected an object"]),
        ("POST", "/v1/recommend", b'\xff\xfe{"prompt": "x"}', 400, "INVALID_ARGUMENT", ["not UTF-8", "0xff"]),
        (
            "POST",
            "/v1/recommend",
            {"promt": "a heist"},
            400,
            "INVALID_ARGUMENT",
            ["promt: unknown field", "did you mean 'prompt'"],
        ),
        (
            "POST",
            "/v1/recommend",
            {"conversation": [{"role": "SEEKER", "txt": "hi"}]},
            400,
            "INVALID_ARGUMENT",
            ["conversation[0].txt: unknown field"],
        ),
        (
            "POST",
            "/v1/recommend",
            {"prompt": "a heist", "limit": "ten"},
            400,
            "INVALID_ARGUMENT",
            ['limit: expected an integer, got the string "ten"'],
        ),
        (
            "POST",
            "/v1/recommend",
            {"prompt": "a heist", "include_rated": 1},
            400,
            "INVALID_ARGUMENT",
            ["include_rated: expected true or false"],
        ),
        (
            "POST",
            "/v1/recommend",
            {"conversation": [{"role": "CRITIC", "text": "hi"}]},
            400,
            "INVALID_ARGUMENT",
            ["conversation[0].role: expected one of", "'SEEKER'"],
        ),
        (
            "POST",
            "/v1/recommend",
            {"prompt": "a heist", "limit": 2**40},
            400,
            "INVALID_ARGUMENT",
            ["limit: out of range", "2147483647"],
        ),
        (
            "POST",
            "/v1/feedback",
            {"user_id": 1, "movie_id": TOY_STORY, "rating": "4"},
            400,
            "INVALID_ARGUMENT",
            ["rating: expected a number"],
        ),
        (
            "GET",
            "/v1/movies?q=toy&limt=3",
            None,
            400,
            "INVALID_ARGUMENT",
            ["unknown parameter 'limt'", "did you mean 'limit'"],
        ),
        ("GET", "/v1/movies/toy", None, 400, "INVALID_ARGUMENT", ["movie_id: expected an integer"]),
        ("GET", "/v1/index?verbose=1", None, 400, "INVALID_ARGUMENT", ["unknown parameter 'verbose'"]),
        ("GET", "/v1/nothing-here", None, 404, "NOT_FOUND", ["/openapi.json"]),
        ("POST", "/v1/index", b"{}", 405, "UNIMPLEMENTED", ["GET"]),
        ("PUT", "/v1/recommend", b"{}", 405, "UNIMPLEMENTED", ["PUT is not supported", "allowed: POST"]),
        ("OPTIONS", "/v1/index", None, 405, "UNIMPLEMENTED", ["OPTIONS is not supported", "GET"]),
        # proto3 JSON: a key given twice, or a field under both of its names, is refused, not guessed at.
        (
            "POST",
            "/v1/recommend",
            b'{"prompt": "a", "prompt": "b"}',
            400,
            "INVALID_ARGUMENT",
            ['the key "prompt" is given twice'],
        ),
        (
            "POST",
            "/v1/feedback",
            b'{"movie_id": 862, "rating": 4, "user_id": 1, "userId": "1"}',
            400,
            "INVALID_ARGUMENT",
            ["user_id is given twice, as user_id and userId"],
        ),
        (
            "POST",
            "/v1/recommend",
            {"prompt": "a heist", "limit": "5"},
            400,
            "INVALID_ARGUMENT",  # strings: 64-bit only
            ["limit: expected an integer"],
        ),
        (
            "POST",
            "/v1/recommend",
            {"prompt": "a heist", "userId": "１"},
            400,
            "INVALID_ARGUMENT",
            ["userId: expected an integer"],
        ),
        # Digits are ASCII's: an Arabic-Indic five or a full-width five is not the number 5.
        ("GET", "/v1/movies/%D9%A5", None, 400, "INVALID_ARGUMENT", ["movie_id: expected an integer"]),
        ("GET", "/v1/movies?q=toy&limit=%EF%BC%95", None, 400, "INVALID_ARGUMENT", ["limit: expected an integer"]),
        (
            "GET",
            "/v1/users/1?user_id=5",
            None,
            400,
            "INVALID_ARGUMENT",
            ["user_id is a path parameter", "cannot also be given in the query"],
        ),
        (
            "GET",
            "/v1/movies?q=" + "a" * (MAX_URL_BYTES + 5000),
            None,
            400,
            "INVALID_ARGUMENT",
            [f"over the limit of {MAX_URL_BYTES:,}"],
        ),
    ],
)
def test_each_error_has_its_status_and_json_body(
    served: tuple[grpc.Server, int, int, Settings],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
    words: list[str],
) -> None:
    _, _, port, _ = served
    reply = http(port, method, path, body)
    assert reply.status == status, reply.body
    got_code, message = reply.error
    assert got_code == code and all(w in message for w in words), message
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert STATUS[getattr(grpc.StatusCode, code)] == status  # the documented status of the code
    if status == 405:
        assert reply.headers["allow"] in message


def test_errors_carry_the_message_grpc_gives(served: tuple[grpc.Server, int, int, Settings]) -> None:
    _, grpc_port, port, _ = served
    bad = {"prompt": "a heist", "genres": ["Westerns-that-do-not-exist"]}
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel, pytest.raises(grpc.RpcError) as refused:
        pb_grpc.RecommenderStub(channel).Recommend(json_format.ParseDict(bad, pb.RecommendRequest()), timeout=30)
    reply = http(port, "POST", "/v1/recommend", bad)
    assert reply.status == 400 and reply.error == (refused.value.code().name, refused.value.details())


def test_tokens_guard_each_endpoint_with_its_method_scope(guarded_server: int) -> None:
    port = guarded_server
    rating = {"user_id": 900_002, "movie_id": TOY_STORY, "rating": 4.0}
    missing = http(port, "GET", "/v1/index")
    assert missing.status == 401 and missing.error[0] == "UNAUTHENTICATED" and "Bearer" in missing.error[1]
    assert http(port, "GET", "/v1/index", headers={"Authorization": "Bearer not-a-token-0123"}).status == 401
    assert http(port, "GET", "/v1/index", headers={"Authorization": f"Basic {READ_TOKEN}"}).status == 401
    read = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert http(port, "GET", "/v1/index", headers=read).status == 200
    assert http(port, "POST", "/v1/recommend", {"prompt": "a heist"}, headers=read).status == 200
    denied = http(port, "POST", "/v1/feedback", rating, headers=read)
    assert denied.status == 403 and denied.error[0] == "PERMISSION_DENIED" and "'write' scope" in denied.error[1]
    assert http(port, "GET", "/v1/users/900002", headers=read).status == 404  # nothing was written
    assert http(port, "POST", "/v1/feedback", rating).status == 401
    assert http(port, "POST", "/v1/feedback", rating, headers={"Authorization": f"Bearer {WRITE_TOKEN}"}).status == 200
    assert http(port, "GET", "/v1/users/900002", headers=read).json["ratings"] == 1
    for open_path in ("/healthz", "/metrics", "/openapi.json"):  # need no token
        assert http(port, "GET", open_path).status == 200, open_path
    assert READ_TOKEN not in denied.body.decode() and WRITE_TOKEN not in denied.body.decode()


def test_admission_bounds_http_recommend_calls_with_429(sample_state: ServingState) -> None:
    release = threading.Event()

    class Blocked(RecommenderServicer):
        def Recommend(self, request: pb.RecommendRequest, context: grpc.ServicerContext) -> pb.RecommendResponse:
            release.wait(20)
            return pb.RecommendResponse(index_version="blocked")

    admission = AdmissionInterceptor(limit=1)
    server = serve_app(sample_state, Blocked(sample_state), admission=admission)
    try:
        first: list[Reply] = []
        caller = threading.Thread(
            target=lambda: first.append(http(server.port, "POST", "/v1/recommend", {"prompt": "a heist"}))
        )
        caller.start()
        deadline = time.monotonic() + 10
        while admission.in_server < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert admission.in_server == 1
        refused = http(server.port, "POST", "/v1/recommend", {"prompt": "a heist"})
        assert refused.status == 429 and refused.error[0] == "RESOURCE_EXHAUSTED" and "at capacity" in refused.error[1]
        assert refused.headers["retry-after"] == "1"
        assert http(server.port, "GET", "/v1/movies/862").status == 200  # other methods are not counted
        release.set()
        caller.join(20)
        assert first[0].status == 200 and first[0].json["index_version"] == "blocked"
        assert admission.in_server == 0
    finally:
        release.set()
        server.stop()


def _stalled_post(port: int) -> socket.socket:
    """A connection that sends a Recommend POST's headers and the first byte of its 20-byte body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST /v1/recommend HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 20\r\n\r\n{".encode()
    )
    return sock


def _raw_reply(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the answer on `sock`, read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_stalled_bodies_take_no_admission_slot_from_either_edge(
    tmp_path: Path, sample_settings: Settings, encoder: Encoder
) -> None:
    """Clients that send headers and never all of their body hold no admission slot (shared by both
    edges' Recommend calls): gRPC and HTTP calls are answered meanwhile, and each stalled one gets a
    JSON 400 once BODY_TIMEOUT_S has passed, on a connection then closed."""
    settings = sample_settings.replace(
        index_dir=_index_copy(sample_settings, tmp_path / "index"),
        http_port=0,
        max_queued_requests=1,
        batch_lanes=1,
        batch_max_size=1,
    )
    assert settings.server.admitted_requests == 2
    server, grpc_port = create_server(settings, "127.0.0.1:0", encoder=encoder, wait_for_index_s=60)
    port = server.http_port
    stalled = [_stalled_post(port) for _ in range(3 * settings.server.admitted_requests)]
    try:
        started = time.monotonic()
        time.sleep(0.5)  # time for the stalled calls to reach the handler, where they used to take a slot
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            reply = pb_grpc.RecommenderStub(channel).Recommend(
                pb.RecommendRequest(prompt="a heist", limit=3), timeout=30
            )
        assert len(reply.movies) == 3
        listed = http(port, "POST", "/v1/recommend", {"prompt": "a heist", "limit": 3})
        assert listed.status == 200, listed.body
        assert time.monotonic() - started < BODY_TIMEOUT_S  # answered while the stalled calls still wait

        status, headers, body = _raw_reply(stalled[0])
        assert BODY_TIMEOUT_S - 1 < time.monotonic() - started < BODY_TIMEOUT_S + 10
        assert status == 400 and headers["content-type"] == "application/json" and headers["connection"] == "close"
        error = json.loads(body)["error"]
        assert error["code"] == "INVALID_ARGUMENT" and "did not arrive within" in error["message"]
        assert "1 of the 20 bytes announced came" in error["message"]
    finally:
        for sock in stalled:
            sock.close()
        server.stop(None).wait(30)


def test_a_loopback_server_answers_only_requests_for_a_loopback_host(sample_state: ServingState) -> None:
    """DNS rebinding: a page whose name points at 127.0.0.1 sends its own name as the Host; refused."""
    server = serve_app(sample_state)
    try:
        for host in (
            "localhost",
            f"localhost:{server.port}",
            "LocalHost:80",
            "127.0.0.1",
            f"127.0.0.1:{server.port}",
            "127.1.2.3:8080",
            "[::1]",
            f"[::1]:{server.port}",
        ):
            assert http(server.port, "GET", "/healthz", headers={"Host": host}).status == 200, host
        for path in ("/v1/index", "/", "/healthz", "/openapi.json", "/metrics"):
            refused = http(server.port, "GET", path, headers={"Host": f"rebound.example:{server.port}"})
            assert refused.status == 400, path
            code, message = refused.error
            assert code == "INVALID_ARGUMENT" and "localhost, 127.x.x.x or [::1]" in message
            assert "rebound.example" in message
            assert refused.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        posted = http(
            server.port,
            "POST",
            "/v1/feedback",
            {"user_id": 1, "movie_id": TOY_STORY, "kind": "SEEN"},
            headers={"Host": "rebound.example"},
        )
        assert posted.status == 400 and "Host" in posted.error[1]
    finally:
        server.stop()
    # A server on every address is reached by other names on purpose: no check there.
    app = create_app(
        sample_state,
        RecommenderServicer(sample_state),
        tokens=None,
        drainer=DrainInterceptor(),
        admission=None,
        access=AccessInterceptor(sample_state.metrics),
        workers=2,
    )
    everywhere = HttpServer(app, "0.0.0.0", 0)
    everywhere.start()
    try:
        assert http(everywhere.port, "GET", "/healthz", headers={"Host": "movies.example"}).status == 200
    finally:
        everywhere.stop()


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("localhost", True),
        ("localhost:65535", True),
        ("127.0.0.1", True),
        ("127.255.0.9:1", True),
        ("[::1]", True),
        ("[0:0:0:0:0:0:0:1]:80", True),
        ("", False),
        ("localhost.example", False),
        ("127.0.0.1.example", False),
        ("evil.localhost.example", False),
        ("::1", False),
        ("[::2]", False),
        ("[::1]x", False),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("localhost:http", False),
        ("127.0.0.1:", False),
        ("127.0.0.1@evil.example", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert loopback_host(host) is loopback


def test_a_bug_is_500_with_the_generic_message_and_logged(
    sample_state: ServingState, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(RecommenderServicer):
        def GetIndexInfo(self, request: pb.GetIndexInfoRequest, context: grpc.ServicerContext) -> pb.IndexInfo:
            raise KeyError("a secret detail")

    server = serve_app(sample_state, Broken(sample_state))
    try:
        with caplog.at_level(logging.ERROR):
            reply = http(server.port, "GET", "/v1/index")
        assert reply.status == 500
        assert reply.error == ("INTERNAL", "internal error; the server log has the details")
        assert "secret" not in reply.body.decode()
        assert any("bug while handling GetIndexInfo" in r.getMessage() and r.exc_info for r in caplog.records)
    finally:
        server.stop()


def test_draining_and_no_index_answer_503(
    sample_state: ServingState, sample_settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    drainer = DrainInterceptor()
    server = serve_app(sample_state, drainer=drainer)
    try:
        assert http(server.port, "GET", "/healthz").status == 200
        drainer.start()
        assert http(server.port, "GET", "/healthz").json == {"status": "NOT_SERVING"}
        refused = http(server.port, "POST", "/v1/recommend", {"prompt": "a heist"})
        assert refused.status == 503 and refused.error[0] == "UNAVAILABLE" and "shutting down" in refused.error[1]
    finally:
        server.stop()
    empty = ServingState(sample_settings.replace(index_dir=tmp_path, store_poll_interval_s=0), encoder=encoder)
    server = serve_app(empty)
    try:
        assert empty.first_load_tried.wait(30)
        health = http(server.port, "GET", "/healthz")
        assert health.status == 503 and health.json == {"status": "NOT_SERVING"}
        info = http(server.port, "GET", "/v1/index")
        assert info.status == 503 and info.error[0] == "UNAVAILABLE" and "no index loaded" in info.error[1]
    finally:
        server.stop()
        empty.close()


# -- the browser's side: CORS, headers, the page, data that stays data -----------------------------------
def test_cors_is_off_by_default_and_on_for_a_configured_origin(
    served: tuple[grpc.Server, int, int, Settings], guarded_server: int
) -> None:
    _, _, port, _ = served
    preflight = {
        "Origin": ALLOWED_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    plain = http(port, "GET", "/v1/index", headers={"Origin": ALLOWED_ORIGIN})
    assert plain.status == 200 and not any(h.lower().startswith("access-control-") for h in plain.headers)
    assert not any(
        h.lower().startswith("access-control-")
        for h in http(port, "OPTIONS", "/v1/recommend", headers=preflight).headers
    )

    allowed = http(guarded_server, "OPTIONS", "/v1/recommend", headers=preflight)
    assert allowed.status == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    answered = http(
        guarded_server, "GET", "/v1/index", headers={"Origin": ALLOWED_ORIGIN, "Authorization": f"Bearer {READ_TOKEN}"}
    )
    assert answered.status == 200 and answered.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = http(
        guarded_server,
        "GET",
        "/v1/index",
        headers={"Origin": "https://elsewhere.example", "Authorization": f"Bearer {READ_TOKEN}"},
    )
    assert "access-control-allow-origin" not in other.headers
    assert (
        http(
            guarded_server, "OPTIONS", "/v1/recommend", headers={**preflight, "Origin": "https://elsewhere.example"}
        ).status
        == 400
    )


def test_a_body_must_be_sent_as_json(served: tuple[grpc.Server, int, int, Settings]) -> None:
    """A form or text/plain POST, which another site's page can send without a preflight, writes nothing."""
    _, _, port, _ = served
    rating = {"user_id": 900_003, "movie_id": TOY_STORY, "rating": 4.0}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        reply = http(port, "POST", "/v1/feedback", rating, headers={"Content-Type": content_type})
        assert reply.status == 400 and "Content-Type: application/json" in reply.error[1], content_type
    assert http(port, "GET", "/v1/users/900003").status == 404
    charset = http(port, "POST", "/v1/feedback", rating, headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status == 200, charset.body


def test_markup_in_a_request_comes_back_as_inert_json_data(served: tuple[grpc.Server, int, int, Settings]) -> None:
    _, _, port, _ = served
    script = "<script>alert(1)</script>"
    refused = http(port, "POST", "/v1/recommend", {"prompt": "a heist", "genres": [script]})
    assert refused.status == 400 and script in refused.error[1]  # data, read back by a JSON parser
    listed = http(port, "POST", "/v1/recommend", {"prompt": f"{script} a heist movie", "limit": 3})
    assert listed.status == 200 and listed.json["movies"]
    for reply in (refused, listed):
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert b"<" not in reply.body and b">" not in reply.body  # escaped: inert even if taken for HTML
    assert "\\u003cscript\\u003e" in refused.body.decode()


def test_the_page_and_its_files_are_served_with_security_headers(
    served: tuple[grpc.Server, int, int, Settings],
) -> None:
    _, _, port, _ = served
    page = http(port, "GET", "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.body == (STATIC / "index.html").read_bytes()
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    same = http(port, "GET", "/static/index.html")
    assert same.status == 200 and same.body == page.body and same.headers["x-content-type-options"] == "nosniff"
    for escape in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/nothing.js"):
        reply = http(port, "GET", escape)
        assert reply.status == 404 and b"import" not in reply.body, escape


def test_request_ids_access_lines_and_metrics_cover_http_calls(
    served: tuple[grpc.Server, int, int, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    _, _, port, _ = served

    def recommend_count() -> float:
        lines = http(port, "GET", "/metrics").body.decode().splitlines()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in lines
            if line.startswith('movierec_requests_total{code="OK",method="Recommend"}')
        )

    before = recommend_count()
    with caplog.at_level(logging.INFO, logger="movierec.access"):
        reply = http(port, "POST", "/v1/recommend", {"prompt": "a heist"}, headers={"X-Request-Id": "trace-http-7"})
        missing = http(port, "GET", "/v1/movies/987654321")
    assert reply.status == 200 and reply.headers["x-request-id"] == "trace-http-7"
    assert len(missing.headers["x-request-id"]) == 32  # a new id when the caller sent none
    assert recommend_count() == before + 1
    lines = [r.access for r in caplog.records if r.name == "movierec.access"]  # type: ignore[attr-defined]
    mine = next(line for line in lines if line["request_id"] == "trace-http-7")
    assert mine["method"] == "Recommend" and mine["code"] == "OK" and mine["transport"] == "http"
    assert mine["batch_size"] >= 1 and mine["latency_ms"] > 0 and mine["peer"].startswith("ipv4:127.0.0.1:")
    assert any(line["method"] == "GetMovie" and line["code"] == "NOT_FOUND" for line in lines)


# -- the OpenAPI document and the models behind it -----------------------------------------------------------
def test_the_openapi_document_is_valid_and_lists_every_endpoint(
    served: tuple[grpc.Server, int, int, Settings], guarded_server: int
) -> None:
    from openapi_spec_validator import validate

    _, _, port, _ = served
    document = http(port, "GET", "/openapi.json").json
    validate(document)
    operations = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    assert operations == {
        *((e.path, e.http_method) for e in ENDPOINTS),
        ("/healthz", "GET"),
        ("/metrics", "GET"),
        ("/openapi.json", "GET"),
        ("/", "GET"),
    }
    schemas = document["components"]["schemas"]
    for endpoint in ENDPOINTS:  # every field of every request and response message, as the proto has it
        for message in (endpoint.request_type, endpoint.response_type):
            assert set(schemas[message.DESCRIPTOR.name]["properties"]) == set(message.DESCRIPTOR.fields_by_name)
    recommend = document["paths"]["/v1/recommend"]["post"]
    assert set(recommend["responses"]) >= {"200", "400", "404", "429", "503"}
    assert "security" not in recommend and "securitySchemes" not in document["components"]
    search = {p["name"]: p for p in document["paths"]["/v1/movies"]["get"]["parameters"]}
    assert search["limit"]["schema"]["type"] == "integer" and search["q"]["in"] == "query"
    assert schemas["Turn"]["properties"]["role"]["enum"] == ["ROLE_UNSPECIFIED", "SEEKER", "RECOMMENDER"]
    # the proto's comments
    assert "feels like watching" in schemas["RecommendRequest"]["properties"]["prompt"]["description"]
    # what is read: a 64-bit integer as a number or a decimal string; what is written: a number
    user_id = schemas["RecommendRequest"]["properties"]["user_id"]["anyOf"]
    assert {"type": "string", "pattern": "^-?[0-9]+$"} in user_id and {"type": "null"} in user_id
    assert any(s.get("type") == "integer" and s.get("format") == "int64" for s in user_id)
    assert schemas["ScoredMovie"]["properties"]["movie_id"]["type"] == "integer"
    assert "lowerCamelCase" in document["info"]["description"]
    assert "lowerCamelCase" in recommend["requestBody"]["description"]
    # every error code the server answers, with its status, 405 included
    assert schemas["ErrorDetail"]["properties"]["code"]["enum"] == [code.name for code in STATUS]
    assert "UNIMPLEMENTED" in document["components"]["responses"]["MethodNotAllowed"]["description"]
    assert "405" in document["info"]["description"]

    guarded = http(guarded_server, "GET", "/openapi.json").json
    validate(guarded)
    assert guarded["paths"]["/v1/feedback"]["post"]["security"] == [{"bearer": []}]
    assert "'write'" in guarded["paths"]["/v1/feedback"]["post"]["description"].replace("`", "'")


def test_the_models_follow_the_descriptors() -> None:
    """A field added to the proto is a field of its model with no change to the code."""
    for descriptor in pb.DESCRIPTOR.message_types_by_name.values():
        model = jsonpb.model_for(descriptor)
        assert set(model.model_json_schema()["properties"]) == set(descriptor.fields_by_name), descriptor.name
    schema = jsonpb.model_for(pb.RecommendRequest).model_json_schema()["properties"]
    assert schema["limit"]["format"] == "int32" and schema["limit"]["maximum"] == 2**31 - 1
    assert {"type": "null"} in schema["user_id"]["anyOf"]  # `optional`: may be null
    assert schema["genres"]["type"] == "array"


def _int64_as_numbers(value: Any, descriptor: Any) -> Any:
    """json_format's dict with its 64-bit integers (strings there) turned into numbers."""
    for field in descriptor.fields:
        if field.name not in value:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            inner = field.message_type.fields_by_name["value"].message_type
            if inner is not None:
                for item in value[field.name].values():
                    _int64_as_numbers(item, inner)
        elif field.message_type is not None:
            for item in value[field.name] if field.is_repeated else [value[field.name]]:
                _int64_as_numbers(item, field.message_type)
        elif field.cpp_type in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
            got = value[field.name]
            value[field.name] = [int(v) for v in got] if field.is_repeated else int(got)
    return value


def test_the_json_form_is_proto3_json_with_int64_numbers() -> None:
    response = pb.RecommendResponse(index_version="v1", group_strategy="fair")
    response.understood.mood = "a heist"
    response.understood.year_min = 1990
    response.understood.named_movies.add(reading="liked", turn=2).movie.movie_id = 2**40
    movie = response.movies.add(
        movie_id=680, title="Pulp Fiction", year=1994, genres=["Crime"], score=0.1, reason="Because"
    )
    movie.signals.update({"prompt": 0.3, "taste": -1.25})
    movie.member_fit.update({7: 0.5, 2**35: 1.0})
    movie.details.vote_count = 2**33
    response.movies.add(movie_id=13, title="Forrest Gump")
    turn = pb.Turn(role=pb.Turn.SEEKER, text="hi")
    for message in (response, turn, pb.IndexInfo(movies=4800, users=671), pb.User(user_id=5)):
        expected = json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        assert jsonpb.to_dict(message) == _int64_as_numbers(expected, message.DESCRIPTOR), type(message).__name__
    out = json.loads(jsonpb.to_json(response))
    assert out["movies"][0]["score"] == 0.1 and out["movies"][0]["member_fit"] == {"7": 0.5, str(2**35): 1.0}
    assert out["understood"]["named_movies"][0]["movie"]["movie_id"] == 2**40
    assert "details" not in out["movies"][1] and "year_max" not in out["understood"]  # unset presence: absent
    assert jsonpb.to_dict(turn)["role"] == "SEEKER"


READ_BACK = [
    pb.RecommendRequest(
        prompt="x",
        user_id=5,
        genres=["Comedy"],
        year_min=1990,
        group_user_ids=[2**40, 7],
        with_details=True,
        conversation=[pb.Turn(role=pb.Turn.SEEKER, text="hi", user_id=3)],
    ),
    pb.FeedbackRequest(user_id=1, movie_id=862, rating=4.5, request_id="r1"),
    pb.GetUserRequest(user_id=2**40, limit=3),
]


@pytest.mark.parametrize("message", READ_BACK)
def test_a_message_reads_back_from_its_json(message: Message) -> None:
    assert jsonpb.parse_json(jsonpb.to_json(message), type(message)) == message


@pytest.mark.parametrize("message", READ_BACK)
@pytest.mark.parametrize("proto_names", [True, False])
def test_a_message_reads_back_from_protobufs_own_json(message: Message, proto_names: bool) -> None:
    """What json_format writes (64-bit integers as strings; lowerCamelCase names unless told otherwise)."""
    text = json_format.MessageToJson(message, preserving_proto_field_name=proto_names)
    assert ('"user_id": "' if proto_names else '"userId": "') in text
    assert jsonpb.parse_json(text.encode(), type(message)) == message


def test_protobufs_own_json_is_taken_over_http(served: tuple[grpc.Server, int, int, Settings]) -> None:
    _, _, port, _ = served
    rating = pb.FeedbackRequest(user_id=900_005, movie_id=TOY_STORY, rating=3.5, request_id="http-feedback-5")
    stored = http(port, "POST", "/v1/feedback", json_format.MessageToJson(rating).encode())
    assert stored.status == 200, stored.body
    assert http(port, "GET", "/v1/users/900005").json["recent"][0]["movie_id"] == TOY_STORY
    listed = http(
        port, "POST", "/v1/recommend", {"prompt": "a heist", "userId": "1", "excludedMovieIds": ["11"], "limit": 2}
    )
    assert listed.status == 200, listed.body
    assert isinstance(listed.json["movies"][0]["movie_id"], int)  # written as numbers, whatever was read


def test_with_tls_the_http_api_speaks_https_only(sample_settings: Settings, encoder: Encoder, tmp_path: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    settings = sample_settings.replace(
        index_dir=_index_copy(sample_settings, tmp_path / "index"),
        http_port=0,
        tls_cert_path=tmp_path / "cert.pem",
        tls_key_path=tmp_path / "key.pem",
    )
    server, _ = create_server(settings, "127.0.0.1:0", encoder=encoder, wait_for_index_s=60)
    port = server.http_port
    try:
        trusted = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/v1/movies/{TOY_STORY}", context=trusted, timeout=30
        ) as reply:
            assert reply.status == 200 and json.loads(reply.read())["title"] == "Toy Story"
        with pytest.raises(OSError):
            http(port, "GET", "/healthz", timeout=5)  # plaintext is not answered
        with pytest.raises(urllib.error.URLError):  # nor is a client that does not trust the certificate
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ssl.create_default_context(), timeout=5)
    finally:
        server.stop(None).wait(30)


# -- the command line -------------------------------------------------------------------------------------
def test_movierec_serve_takes_an_http_port(sample_settings: Settings, tmp_path: Path) -> None:
    index_dir = _index_copy(sample_settings, tmp_path / "index")
    grpc_port, http_port = free_port(), free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                BIN / "movierec-serve",
                "--index-dir",
                index_dir,
                "--port",
                str(grpc_port),
                "--http-port",
                str(http_port),
                "--metrics-address",
                "",
            ],
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if http(http_port, "GET", "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert http(http_port, "GET", f"/v1/movies/{TOY_STORY}").json["title"] == "Toy Story"
        assert f"HTTP API on http://127.0.0.1:{http_port}/" in log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    with pytest.raises(OSError):  # the port closed with the process
        http(http_port, "GET", "/healthz", timeout=2)


def test_each_endpoint_is_checked_with_its_grpc_method_scope(tmp_path: Path) -> None:
    """The HTTP edge checks the table gRPC loads, with each endpoint's gRPC method name."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{READ_TOKEN} read\n")
    table = TokenTable.load(tokens)
    for endpoint in ENDPOINTS:
        if endpoint.rpc == "RecordFeedback":
            with pytest.raises(Exception, match="write"):
                table.check(endpoint.full_method, f"Bearer {READ_TOKEN}")
        else:
            table.check(endpoint.full_method, f"Bearer {READ_TOKEN}")
    assert {e.http_method for e in ENDPOINTS if e.rpc in ("Recommend", "RecordFeedback")} == {"POST"}
