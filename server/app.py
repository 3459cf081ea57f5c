"""`movierec-serve`: the gRPC server (Recommender + standard health checking + reflection), and with
`http_port` the same API over HTTP/JSON (movierec.server.http)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from movierec.diagnostics import MovierecError
from movierec.embedding import Encoder
from movierec.runtime import tune_process
from movierec.server.auth import TokenTable
from movierec.server.convert import parser
from movierec.server.errors import guarded
from movierec.server.http import HttpServer, create_app, serve_http
from movierec.server.interceptors import AccessInterceptor, AdmissionInterceptor, DrainInterceptor, TokenInterceptor
from movierec.server.logs import configure_logging
from movierec.server.metrics import ServerMetrics, serve_metrics
from movierec.server.servicer import RecommenderServicer
from movierec.server.state import ServingState
from movierec.settings import Settings, load_settings
from movierec.store import describe
from movierec.v1 import recommender_pb2 as pb

log = logging.getLogger(__name__)
SERVICE = pb.DESCRIPTOR.services_by_name["Recommender"].full_name


def _handlers(servicer: RecommenderServicer) -> grpc.GenericRpcHandler:
    """Like the generated add_RecommenderServicer_to_server, but with parsers that never raise and
    every method behind the one error map."""
    methods: dict[str, tuple[Callable[[Any, grpc.ServicerContext], Any], Any, Any]] = {
        "Recommend": (servicer.Recommend, pb.RecommendRequest, pb.RecommendResponse),
        "GetIndexInfo": (servicer.GetIndexInfo, pb.GetIndexInfoRequest, pb.IndexInfo),
        "RecordFeedback": (servicer.RecordFeedback, pb.FeedbackRequest, pb.FeedbackResponse),
        "GetUser": (servicer.GetUser, pb.GetUserRequest, pb.User),
        "SearchMovies": (servicer.SearchMovies, pb.SearchMoviesRequest, pb.SearchMoviesResponse),
        "GetMovie": (servicer.GetMovie, pb.GetMovieRequest, pb.MovieDetails),
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            name: grpc.unary_unary_rpc_method_handler(
                guarded(method),
                request_deserializer=parser(request_type),
                response_serializer=response_type.SerializeToString,
            )
            for name, (method, request_type, response_type) in methods.items()
        },
    )


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials from the settings' PEM files (mutual TLS when a client CA is given); None: plaintext."""
    if settings.server.tls_cert_path is None and settings.server.tls_key_path is None:
        if settings.server.tls_client_ca_path is not None:
            raise MovierecError("tls_client_ca_path needs tls_cert_path and tls_key_path too")
        return None
    if settings.server.tls_cert_path is None or settings.server.tls_key_path is None:
        raise MovierecError("TLS needs both tls_cert_path and tls_key_path")
    try:
        chain, key = settings.server.tls_cert_path.read_bytes(), settings.server.tls_key_path.read_bytes()
        client_ca = settings.server.tls_client_ca_path.read_bytes() if settings.server.tls_client_ca_path else None
    except OSError as e:
        raise MovierecError(f"cannot read a TLS file: {e.filename}: {e.strerror}") from None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _host(address: str) -> str:
    """ "127.0.0.1:50051" -> "127.0.0.1"; "[::]:50051" -> "::"."""
    return address.rpartition(":")[0].strip("[]")


def _is_loopback(address: str) -> bool:
    host = _host(address)
    return host in {"localhost", "::1"} or host.startswith("127.")


class MovierecServer:
    """A running server: gRPC, and the HTTP/JSON API and the metrics endpoint when configured, over one
    ServingState. It owns their shutdown: `stop` drains and stops for a server in a process that goes on
    (tests, benchmarks), `release` drains for a process about to exit."""

    def __init__(
        self,
        grpc_server: grpc.Server,
        state: ServingState,
        health_servicer: health.HealthServicer,
        drainer: DrainInterceptor,
        metrics_http: Any,
        http_server: HttpServer | None,
    ):
        self.grpc_server = grpc_server
        self.state = state
        self._health = health_servicer
        self._drainer = drainer
        self._metrics_http = metrics_http
        self._http = http_server

    @property
    def metrics_port(self) -> int | None:
        """The Prometheus endpoint's port, or None without one."""
        return self._metrics_http.server_port if self._metrics_http is not None else None

    @property
    def http_port(self) -> int | None:
        """The HTTP/JSON API's port (settings.server.http_port; None: off), on the address's host."""
        return self._http.port if self._http is not None else None

    def release(self, grace: float) -> bool:
        """Drain without gRPC's stop: NOT_SERVING, new calls UNAVAILABLE, those in flight get up to `grace`
        seconds; then the batcher, the store, the metrics endpoint and the HTTP server close. True if every
        call finished. For a process about to exit: its sockets then close under the remaining calls, which
        clients see as UNAVAILABLE, where gRPC's stop would answer some CANCELLED (DrainInterceptor)."""
        self._health.enter_graceful_shutdown()  # NOT_SERVING for every service, and it stays so
        self._drainer.start()  # new calls: UNAVAILABLE from here on
        finished = self._drainer.wait_idle(grace)
        self.state.close(timeout_s=1.0)  # the calls are over: what is left in the batcher has no one waiting
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
        if self._http is not None:
            self._http.stop()
        return finished

    def stop(self, grace: float | None = None) -> threading.Event:
        """Drain, then stop gRPC and release the rest: health NOT_SERVING and new calls refused at once,
        calls in flight get `grace` seconds (None: as long as they take). The event is set when all is done."""
        self._health.enter_graceful_shutdown()
        self._drainer.start()
        started = time.monotonic()
        done = threading.Event()

        def finish() -> None:
            # gRPC's stop only once the calls in flight are done (DrainInterceptor says why).
            if grace:
                self._drainer.wait_idle(grace)
            left = None if grace is None else max(0.0, grace - (time.monotonic() - started))
            self.grpc_server.stop(left).wait()
            self.release(0.0)
            done.set()

        threading.Thread(target=finish, name="movierec-drain", daemon=True).start()
        return done


def create_server(
    settings: Settings, address: str | None = None, *, encoder: Encoder | None = None, wait_for_index_s: float = 0.0
) -> tuple[MovierecServer, int]:
    """Start a server on `address` (default: the settings' address; port 0 picks a free port).

    Returns (server, bound port). The index loads in the background: until then the health service
    says NOT_SERVING and RPCs answer UNAVAILABLE. With `wait_for_index_s`, the port opens only after
    the first load was tried (at most that long), so a restarted server is serving when clients reach
    it. `server.stop(grace)` drains: health NOT_SERVING and new calls refused at once, calls in flight
    get `grace` seconds, then the batcher, the store and the metrics endpoint close; the returned
    event is set when all of that is done. `server.metrics_port` is the metrics endpoint's port (or None),
    `server.http_port` the HTTP/JSON API's (settings.server.http_port; None: off), on the address's host.
    """
    address = address or settings.server.address
    credentials = _credentials(settings)
    tokens = TokenTable.load(settings.server.tokens_path) if settings.server.tokens_path else None
    threads = tune_process(settings.encoder.torch_threads)
    metrics = ServerMetrics()
    drainer = DrainInterceptor()
    access = AccessInterceptor(metrics, settings.logging.log_prompts)
    interceptors: list[grpc.ServerInterceptor] = [access, drainer]
    if tokens is not None:
        interceptors.append(TokenInterceptor(tokens))
    admission = None
    if settings.server.admitted_requests:
        admission = AdmissionInterceptor(settings.server.admitted_requests, on_shed=metrics.shed.inc)
        interceptors.append(admission)
    # Workers beyond the admitted calls, so a health check never waits behind them.
    workers = max(settings.server.max_workers, settings.server.admitted_requests + 16)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"), interceptors=interceptors
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def on_ready(serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE):
            health_servicer.set(name, status)

    state = ServingState(settings, encoder=encoder, on_ready=on_ready, threads=threads, metrics=metrics)
    servicer = RecommenderServicer(state)
    server.add_generic_rpc_handlers((_handlers(servicer),))
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    if wait_for_index_s > 0:
        state.first_load_tried.wait(wait_for_index_s)
    metrics_http = None
    try:
        if settings.server.metrics_address:
            metrics_http, _ = serve_metrics(metrics, settings.server.metrics_address)
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError as e:
        port, reason = 0, str(e)
    except MovierecError:
        state.close()
        if metrics_http is not None:
            metrics_http.shutdown()
        raise
    else:
        reason = "address in use or not valid"
    if port == 0:
        state.close()
        if metrics_http is not None:
            metrics_http.shutdown()
        raise MovierecError(f"cannot listen on {address}: {reason}")
    http_server = None
    if settings.server.http_port is not None:
        # The HTTP edge shares the servicer, the drain, the tokens, the admission bound and the access metrics.
        app = create_app(
            state,
            servicer,
            tokens=tokens,
            drainer=drainer,
            admission=admission,
            access=access,
            workers=workers,
            cors_origins=settings.server.http_cors_origins,
        )
        try:
            http_server = serve_http(
                app,
                _host(address),
                settings.server.http_port,
                certificate=settings.server.tls_cert_path,
                key=settings.server.tls_key_path,
                client_ca=settings.server.tls_client_ca_path,
            )
        except MovierecError:
            server.stop(None)  # never started: releases the port
            state.close()
            if metrics_http is not None:
                metrics_http.shutdown()
            raise
    if credentials is None and not _is_loopback(address):
        log.warning(
            "serving plaintext gRPC%s on %s: anyone who reaches it can read the traffic%s; "
            "set tls_cert_path and tls_key_path",
            " and HTTP" if http_server else "",
            address,
            " and replay tokens" if tokens else " and, without tokens_path, write ratings",
        )
    server.start()
    return MovierecServer(server, state, health_servicer, drainer, metrics_http, http_server), port


def main(argv: list[str] | None = None) -> int:
    parser_ = argparse.ArgumentParser(prog="movierec-serve", description=__doc__)
    parser_.add_argument(
        "--index-dir", type=Path, help="folder with CURRENT and the index versions (setting index_dir)"
    )
    parser_.add_argument("--address", help="host:port to listen on (setting address; default 127.0.0.1:50051)")
    parser_.add_argument("--port", type=int, help="port on the configured host")
    parser_.add_argument("--metrics-address", help="host:port for Prometheus /metrics (setting metrics_address)")
    parser_.add_argument(
        "--http-port",
        type=int,
        help="also serve the HTTP/JSON API and the page on this port of the address's host "
        "(0: a free one; setting http_port)",
    )
    parser_.add_argument("--config", type=Path, help="TOML settings file")
    args = parser_.parse_args(argv)
    try:
        settings = load_settings(
            args.config,
            index_dir=args.index_dir,
            address=args.address,
            metrics_address=args.metrics_address,
            http_port=args.http_port,
        )
        if args.port is not None:
            settings = settings.replace(address=f"{settings.server.address.rsplit(':', 1)[0]}:{args.port}")
        configure_logging(settings.logging.log_format, settings.logging.log_level)
        # The port opens once the current index is loaded (or its load failed), so clients that
        # wait for the port across a restart find a server that answers.
        server, port = create_server(settings, wait_for_index_s=600)
    except (MovierecError, ValueError, OSError) as e:
        print(f"movierec-serve: {e}", file=sys.stderr)
        return 1
    log.info(
        "listening on %s (port %d%s), index dir %s, ratings store %s%s%s",
        settings.server.address,
        port,
        ", TLS" if settings.server.tls_cert_path else "",
        settings.index.index_dir,
        describe(settings.effective_store_url),
        f", metrics on http://{settings.server.metrics_address}/metrics" if settings.server.metrics_address else "",
        f", HTTP API on {'https' if settings.server.tls_cert_path else 'http'}://"
        f"{settings.server.address.rsplit(':', 1)[0]}:{server.http_port}/"
        if server.http_port is not None
        else "",
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    grace = settings.server.shutdown_grace_s
    log.info("draining: refusing new calls, giving those in flight %.1f s", grace)
    finished = server.release(grace)
    log.info("stopped%s", "" if finished else " (some work was still running at the end of the grace period)")
    # Exit without gRPC's stop (server.release says why): the listening socket and the connections close
    # with the process.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
