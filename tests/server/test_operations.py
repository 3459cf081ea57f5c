"""Operating the server, against real server processes: SIGTERM drain, load shedding, TLS and tokens,
metrics and JSON access logs, a client carried across a restart, a retried rating stored once."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from movierec.clients.client import AsyncRecommenderClient, RecommenderClient
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

from processes import ServerProcess, free_port

pytestmark = pytest.mark.slow
TOY_STORY = 862
PROMPTS = [
    "a funny heist",
    "space adventure with friends",
    "a sad romance",
    "animated film for kids",
    "a tense thriller",
    "superheroes saving the world",
    "a courtroom drama",
    "a road trip comedy",
]


@pytest.fixture()
def index_copy(tmp_path: Path, sample_settings: Settings) -> Path:
    index_dir = tmp_path / "index"
    shutil.copytree(sample_settings.index.index_dir, index_dir, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    return index_dir


def plain_stub(target: str) -> tuple[grpc.Channel, pb_grpc.RecommenderStub]:
    """A bare channel without the client's retries, so that every refusal is seen."""
    channel = grpc.insecure_channel(target)
    return channel, pb_grpc.RecommenderStub(channel)


def test_sigterm_finishes_every_accepted_request_and_exits_within_the_grace_period(
    index_copy: Path, tmp_path: Path
) -> None:
    grace = 4.0
    server = ServerProcess(index_copy, tmp_path / "server.log", env={"MOVIEREC_SHUTDOWN_GRACE_S": str(grace)})
    server.start()
    calls: list[tuple[float, float, grpc.StatusCode]] = []  # (sent, answered, status)
    lock, stop = threading.Lock(), threading.Event()

    def load(worker: int) -> None:
        channel, stub = plain_stub(server.target)
        with channel:
            i = worker
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    stub.Recommend(
                        pb.RecommendRequest(prompt=PROMPTS[i % len(PROMPTS)], user_id=1 + i % 50, limit=10), timeout=10
                    )
                    code = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    code = e.code()
                with lock:
                    calls.append((sent, time.monotonic(), code))
                i += 8
                if code != grpc.StatusCode.OK:
                    time.sleep(0.02)

    workers = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 60
        while len(calls) < 40 and time.monotonic() < deadline:  # steady load, however busy the machine is
            time.sleep(0.05)
        time.sleep(0.5)  # so that the 40 answered calls were all sent well before the signal (margin below)
        signalled = time.monotonic()
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=grace + 10)
        exited = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        for w in workers:
            w.join()
    # Sent before the signal: accepted, so must succeed. The margin covers a client thread that took its
    # timestamp but was not scheduled to write the request before the signal (the machine is busy).
    accepted = [c for c in calls if c[0] < signalled - 0.25]
    failed = [c for c in accepted if c[2] != grpc.StatusCode.OK]
    in_flight = [c for c in calls if c[0] < signalled < c[1] and c[2] == grpc.StatusCode.OK]
    assert len(accepted) >= 40 and not failed, f"{len(failed)} of {len(accepted)} accepted calls failed: {failed[:3]}"
    assert in_flight, "no call sent before the signal was answered after it: the drain was not exercised"
    later = {c[2] for c in calls if c[0] > signalled + 0.05}
    assert later <= {grpc.StatusCode.UNAVAILABLE}, f"calls after the signal got {later}"
    around = [
        (round(c[0] - signalled, 3), round(c[1] - signalled, 3), c[2].name)
        for c in calls
        if abs(c[0] - signalled) < 0.25 and c[2] != grpc.StatusCode.OK
    ]
    assert not [c for c in around if c[2] != "UNAVAILABLE"], around
    assert exited - signalled <= grace + 1.0, f"exited {exited - signalled:.2f} s after SIGTERM"
    assert server.process.returncode == 0
    assert "draining" in server.log.read_text()


def test_overload_is_shed_with_resource_exhausted_while_health_checks_answer(index_copy: Path, tmp_path: Path) -> None:
    # One request per batch and at most two waiting: a burst of 48 concurrent calls cannot all queue.
    server = ServerProcess(
        index_copy, tmp_path / "server.log", env={"MOVIEREC_MAX_QUEUED_REQUESTS": "2", "MOVIEREC_BATCH_MAX_SIZE": "1"}
    )
    server.start()

    async def burst() -> tuple[list[grpc.StatusCode], list[float]]:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub, health = pb_grpc.RecommenderStub(channel), health_pb2_grpc.HealthStub(channel)

            async def call(i: int) -> grpc.StatusCode:
                try:
                    await stub.Recommend(
                        pb.RecommendRequest(prompt=PROMPTS[i % len(PROMPTS)] + f" {i}", limit=10), timeout=30
                    )
                    return grpc.StatusCode.OK
                except grpc.aio.AioRpcError as e:
                    return e.code()

            async def check() -> list[float]:
                waits = []
                for _ in range(10):
                    started = time.monotonic()
                    reply = await health.Check(
                        health_pb2.HealthCheckRequest(service="movierec.v1.Recommender"), timeout=2
                    )
                    assert reply.status == health_pb2.HealthCheckResponse.SERVING
                    waits.append(time.monotonic() - started)
                    await asyncio.sleep(0.02)
                return waits

            results = await asyncio.gather(check(), *(call(i) for i in range(3 * 48)))
            return list(results[1:]), results[0]  # type: ignore[return-value]

    try:
        codes, health_waits = asyncio.run(burst())
        metrics_log = server.log.read_text()
    finally:
        server.stop()
    seen = {c: codes.count(c) for c in set(codes)}
    assert set(seen) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, seen
    assert seen.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0) > 0 and seen.get(grpc.StatusCode.OK, 0) > 0, seen
    assert max(health_waits) < 1.0, health_waits
    assert "INTERNAL" not in metrics_log


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate it signed for 127.0.0.1, and an unrelated CA (openssl)."""
    folder = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    for ca in ("ca", "other-ca"):
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{ca}.key",
            "-out",
            f"{ca}.pem",
            "-days",
            "2",
            "-subj",
            f"/CN=movierec test {ca}",
        )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=a movierec client",
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "2",
    )
    return {name: folder / f"{name}.pem" for name in ("ca", "other-ca", "server", "client")} | {
        "key": folder / "server.key",
        "client-key": folder / "client.key",
    }


READ_TOKEN, WRITE_TOKEN = "reader-0123456789abcdef", "writer-0123456789abcdef"


def test_tls_tokens_metrics_and_json_access_log(index_copy: Path, tmp_path: Path, pki: dict[str, Path]) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# token scope\n{READ_TOKEN} read\n{WRITE_TOKEN} write\n")
    metrics_port = free_port()
    server = ServerProcess(
        index_copy,
        tmp_path / "server.log",
        env={
            "MOVIEREC_TLS_CERT_PATH": str(pki["server"]),
            "MOVIEREC_TLS_KEY_PATH": str(pki["key"]),
            "MOVIEREC_TOKENS_PATH": str(tokens),
            "MOVIEREC_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
            "MOVIEREC_LOG_FORMAT": "json",
        },
    )
    server.start(tls_ca=pki["ca"])
    try:
        # TLS: plaintext, and TLS trusting another CA, cannot connect; the right CA can.
        for options in ({}, {"tls_ca": pki["other-ca"]}):
            with RecommenderClient(
                server.target, timeout_s=3, wait_for_ready=False, token=READ_TOKEN, **options
            ) as client:  # type: ignore[arg-type]
                with pytest.raises(grpc.RpcError) as refused:
                    client.index_info()
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with RecommenderClient(server.target, tls_ca=pki["ca"], token=READ_TOKEN) as client:
            assert client.index_info().movies > 0

        # Tokens: each refusal has its own status, and no refused call writes a rating.
        def feedback(token: str | None) -> grpc.StatusCode:
            with RecommenderClient(server.target, tls_ca=pki["ca"], token=token or "") as client:
                try:
                    client.record_feedback(777_001, TOY_STORY, 4.5)
                    return grpc.StatusCode.OK
                except grpc.RpcError as e:
                    return e.code()

        assert feedback(None) == grpc.StatusCode.UNAUTHENTICATED
        assert feedback("not-a-token-0123456789") == grpc.StatusCode.UNAUTHENTICATED
        assert feedback(READ_TOKEN) == grpc.StatusCode.PERMISSION_DENIED
        with RecommenderClient(server.target, tls_ca=pki["ca"], token="") as client:
            with pytest.raises(grpc.RpcError) as refused:
                client.recommend("a funny heist")
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert client.serving()  # health checks need no token
        with sqlite3.connect(index_copy / "feedback.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM feedback WHERE user_id = 777001").fetchone()[0] == 0
        assert feedback(WRITE_TOKEN) == grpc.StatusCode.OK
        with sqlite3.connect(index_copy / "feedback.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM feedback WHERE user_id = 777001").fetchone()[0] == 1

        # A request id sent by the caller comes back in the trailing metadata and lands on a JSON access line.
        credentials = grpc.ssl_channel_credentials(pki["ca"].read_bytes())
        with grpc.secure_channel(server.target, credentials) as channel:
            stub = pb_grpc.RecommenderStub(channel)
            for i in range(3):
                _, call = stub.Recommend.with_call(
                    pb.RecommendRequest(prompt="a secret prompt about pirates", limit=5),
                    timeout=30,
                    metadata=(("authorization", f"Bearer {READ_TOKEN}"), ("x-request-id", f"trace-{i}-abc")),
                )
                assert ("x-request-id", f"trace-{i}-abc") in call.trailing_metadata()

        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as reply:
            metrics = reply.read().decode()
    finally:
        server.stop()

    def value(line_start: str) -> float:
        lines = [line for line in metrics.splitlines() if line.startswith(line_start)]
        assert lines, f"no {line_start} in /metrics"
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    assert value('movierec_requests_total{code="OK",method="Recommend"}') >= 3
    assert value('movierec_requests_total{code="UNAUTHENTICATED",method="RecordFeedback"}') == 2
    assert value('movierec_requests_total{code="PERMISSION_DENIED",method="RecordFeedback"}') == 1
    assert value('movierec_request_duration_seconds_count{code="OK",method="Recommend"}') >= 3
    for name in (
        "movierec_batch_size_count",
        "movierec_encode_seconds_count",
        "movierec_rank_seconds_count",
        'movierec_feedback_writes_total{result="stored"}',
        "movierec_index_load_seconds",
        "process_resident_memory_bytes",
    ):
        assert value(name) > 0, name
    assert value("movierec_index_info{") == 1 and "movierec_queue_depth " in metrics

    log_lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    access = {entry["request_id"]: entry for entry in log_lines if entry["logger"] == "movierec.access"}
    for i in range(3):
        entry = access[f"trace-{i}-abc"]
        assert entry["method"] == "Recommend" and entry["code"] == "OK" and entry["batch_size"] >= 1
        assert entry["latency_ms"] > 0
    refused_entries = [e for e in access.values() if e["code"] in ("UNAUTHENTICATED", "PERMISSION_DENIED")]
    assert len(refused_entries) >= 3
    text = server.log.read_text()
    assert "pirates" not in text, "a prompt was logged without log_prompts"
    assert READ_TOKEN not in text and WRITE_TOKEN not in text, "a token was logged"


def test_mutual_tls_refuses_a_client_without_a_certificate(
    sample_settings: Settings, encoder: object, pki: dict[str, Path]
) -> None:
    from movierec.server.app import create_server

    settings = sample_settings.replace(
        tls_cert_path=pki["server"], tls_key_path=pki["key"], tls_client_ca_path=pki["ca"]
    )
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)  # type: ignore[arg-type]
    try:
        with RecommenderClient(f"127.0.0.1:{port}", timeout_s=3, tls_ca=pki["ca"], wait_for_ready=False) as client:
            with pytest.raises(grpc.RpcError) as refused:
                client.index_info()
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with RecommenderClient(
            f"127.0.0.1:{port}", tls_ca=pki["ca"], tls_cert=pki["client"], tls_key=pki["client-key"]
        ) as client:
            assert client.wait_until_serving(60) and client.index_info().movies > 0
    finally:
        server.stop(None).wait(10)


def test_a_client_call_is_carried_across_a_server_restart(index_copy: Path, tmp_path: Path) -> None:
    server = ServerProcess(index_copy, tmp_path / "server.log", env={"MOVIEREC_SHUTDOWN_GRACE_S": "2"})
    server.start()
    results: list[tuple[float, float, str]] = []  # (sent, answered, status)
    stop = threading.Event()

    def steady() -> None:  # caller code with no retry of its own
        with RecommenderClient(server.target, timeout_s=60) as client:
            i = 0
            while not stop.is_set():
                started = time.monotonic()
                try:
                    client.recommend(PROMPTS[i % len(PROMPTS)], user_id=1 + i % 30, limit=5)
                    results.append((started, time.monotonic(), "OK"))
                except grpc.RpcError as e:
                    results.append((started, time.monotonic(), e.code().name))
                i += 1
                time.sleep(0.05)

    worker = threading.Thread(target=steady)
    worker.start()
    try:
        time.sleep(1.0)
        server.stop()  # SIGTERM, drained
        down = time.monotonic()
        time.sleep(0.5)
        server.start(wait=False)
        server.wait_serving()
        up = time.monotonic()
        # A count of answers, not a time: on a busy machine a call can take half a second.
        deadline = up + 30
        while (len(results) <= 10 or results[-1][0] < up) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join()
    try:
        failures = [r for r in results if r[2] != "OK"]
        assert not failures, f"{len(failures)} calls failed: {failures[:3]}"
        across = [r for r in results if r[0] < up and r[1] > down + 0.2]  # waiting while no server was there
        assert across, "no call was in progress while the server was down"
        assert len(results) > 10

        # Async client, same server: the same methods answer.
        async def ask() -> tuple[int, bool]:
            async with AsyncRecommenderClient(server.target) as client:
                result = await client.recommend("a funny heist", user_id=1, limit=5)
                return len(result.movies), await client.serving()

        assert asyncio.run(ask()) == (5, True)
    finally:
        server.stop()


class ReplyDroppingProxy:
    """A TCP proxy; after `drop_next_reply()`, the server's next bytes are swallowed and the connection
    is then cut, as when a reply is lost on the network after the server acted on the request."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rsplit(":", 1)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.target = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self._drop = threading.Event()
        self.swallowed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_reply(self) -> None:
        self._drop.set()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.upstream[0], int(self.upstream[1])))
            threading.Thread(target=self._pump, args=(downstream, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, downstream, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                if replies and self._drop.is_set():
                    self.swallowed += len(data)
                    time.sleep(0.3)  # let the rest of the reply arrive (and be lost), then cut the connection
                    self._drop.clear()
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_feedback_whose_reply_is_lost_is_retried_by_grpc_and_stored_once(index_copy: Path, tmp_path: Path) -> None:
    server = ServerProcess(index_copy, tmp_path / "server.log")
    server.start()
    proxy = ReplyDroppingProxy(server.target)
    try:
        with RecommenderClient(proxy.target, timeout_s=20) as client:
            before = client.user(5).ratings
            proxy.drop_next_reply()
            ack = client.record_feedback(5, TOY_STORY, 3.5)  # no request_id given: the client makes one
            assert proxy.swallowed > 0, "the reply was not dropped"
            assert ack.duplicate, "the retry was not recognised as the same rating"
            assert ack.ratings == before + 1 == client.user(5).ratings
    finally:
        proxy.close()
        server.stop()
    with sqlite3.connect(index_copy / "feedback.sqlite") as db:
        rows = db.execute("SELECT request_id FROM feedback WHERE user_id = 5 AND movie_id = ?", (TOY_STORY,)).fetchall()
    assert len(rows) == 1 and rows[0][0].startswith("auto-")
