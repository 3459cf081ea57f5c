"""`movierec-serve`: the gRPC server (Recommender + standard health checking + reflection)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from movierec.diagnostics import MovierecError
from movierec.embedding import Encoder
from movierec.runtime import tune_process
from movierec.server.convert import parser
from movierec.server.errors import guarded
from movierec.server.servicer import RecommenderServicer
from movierec.server.state import ServingState
from movierec.settings import Settings, load_settings
from movierec.v1 import recommender_pb2 as pb

log = logging.getLogger(__name__)
SERVICE = pb.DESCRIPTOR.services_by_name["Recommender"].full_name


def _handlers(servicer: RecommenderServicer) -> grpc.GenericRpcHandler:
    """Like the generated add_RecommenderServicer_to_server, but with parsers that never raise and
    every method behind the one error map."""
    methods = {
        "Recommend": (servicer.Recommend, pb.RecommendRequest, pb.RecommendResponse),
        "GetIndexInfo": (servicer.GetIndexInfo, pb.GetIndexInfoRequest, pb.IndexInfo),
        "RecordFeedback": (servicer.RecordFeedback, pb.FeedbackRequest, pb.FeedbackResponse),
        "GetUser": (servicer.GetUser, pb.GetUserRequest, pb.User),
    }
    return grpc.method_handlers_generic_handler(SERVICE, {
        name: grpc.unary_unary_rpc_method_handler(
            guarded(method), request_deserializer=parser(request_type),
            response_serializer=response_type.SerializeToString)
        for name, (method, request_type, response_type) in methods.items()
    })


def create_server(settings: Settings, address: str | None = None, *,
                  encoder: Encoder | None = None) -> tuple[grpc.Server, int]:
    """Start a server on `address` (default: the settings' address; port 0 picks a free port).

    Returns (server, bound port). The index loads in the background: until then the health
    service says NOT_SERVING and RPCs answer UNAVAILABLE. `server.stop()` also stops the state.
    """
    address = address or settings.address
    threads = tune_process(settings.torch_threads)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="rpc"))
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def on_ready(serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE):
            health_servicer.set(name, status)

    state = ServingState(settings, encoder=encoder, on_ready=on_ready, threads=threads)
    server.add_generic_rpc_handlers((_handlers(RecommenderServicer(state)),))
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as e:
        port, reason = 0, str(e)
    else:
        reason = "address in use or not valid"
    if port == 0:
        state.close()
        raise MovierecError(f"cannot listen on {address}: {reason}")
    server.start()

    stop = server.stop

    def stop_all(grace: float | None = None) -> threading.Event:
        event = stop(grace)
        state.close()
        return event

    server.stop = stop_all  # type: ignore[method-assign]
    server.state = state  # type: ignore[attr-defined]
    return server, port


def main(argv: list[str] | None = None) -> int:
    parser_ = argparse.ArgumentParser(prog="movierec-serve", description=__doc__)
    parser_.add_argument("--index-dir", type=Path, help="folder with CURRENT and the index versions (setting index_dir)")
    parser_.add_argument("--address", help="host:port to listen on (setting address; default 127.0.0.1:50051)")
    parser_.add_argument("--port", type=int, help="port on the configured host")
    parser_.add_argument("--config", type=Path, help="TOML settings file")
    args = parser_.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config, index_dir=args.index_dir, address=args.address)
        if args.port is not None:
            settings = settings.replace(address=f"{settings.address.rsplit(':', 1)[0]}:{args.port}")
        server, port = create_server(settings)
    except (MovierecError, ValueError, OSError) as e:
        print(f"movierec-serve: {e}", file=sys.stderr)
        return 1
    log.info("listening on %s (port %d), index dir %s", settings.address, port, settings.index_dir)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    log.info("shutting down")
    server.stop(grace=5).wait(6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
