"""Admission control at the gRPC edge, on a real in-process server (port 0) with a handler that blocks."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from movierec.server.interceptors import AdmissionInterceptor

RECOMMEND = "/movierec.v1.Recommender/Recommend"
GET_USER = "/movierec.v1.Recommender/GetUser"


def test_admission_refuses_recommend_calls_beyond_the_limit_and_never_health_checks_or_other_methods() -> None:
    release, shed = threading.Event(), []
    admission = AdmissionInterceptor(limit=2, on_shed=lambda: shed.append(1))

    def blocked(request: bytes, context: grpc.ServicerContext) -> bytes:
        release.wait(10)
        return request

    handlers = {
        "Recommend": grpc.unary_unary_rpc_method_handler(blocked),
        "GetUser": grpc.unary_unary_rpc_method_handler(blocked),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), interceptors=[admission])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("movierec.v1.Recommender", handlers),))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            recommend, get_user = channel.unary_unary(RECOMMEND), channel.unary_unary(GET_USER)
            admitted = [recommend.future(b"a", timeout=20), recommend.future(b"b", timeout=20)]
            others = [get_user.future(b"u", timeout=20) for _ in range(3)]  # not counted, not refused
            deadline = time.monotonic() + 5
            while admission.in_server < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert admission.in_server == 2
            refused = [recommend.future(b"c", timeout=20) for _ in range(3)]
            for call in refused:
                assert call.exception(timeout=5) is not None, "a call beyond the limit was admitted"
                assert call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "at capacity" in call.details()
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            assert not any(call.done() for call in admitted + others)
            release.set()
            assert [call.result(timeout=10) for call in admitted] == [b"a", b"b"]
            assert [call.result(timeout=10) for call in others] == [b"u"] * 3
            assert len(shed) == 3
            deadline = time.monotonic() + 5
            while admission.in_server and time.monotonic() < deadline:
                time.sleep(0.01)
            assert admission.in_server == 0, "admitted calls were not released when they finished"
            assert recommend(b"d", timeout=5) == b"d"  # room again
    finally:
        release.set()
        server.stop(0)
