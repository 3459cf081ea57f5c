"""How the clients turn one or several servers into a gRPC target and service config."""

from __future__ import annotations

import json

import pytest

from movierec.clients.client import channel_arguments, channel_target


@pytest.mark.parametrize(
    "given, target, balanced",
    [
        ("127.0.0.1:50051", "127.0.0.1:50051", False),
        ("localhost:50051", "localhost:50051", False),  # one server: as given, any syntax
        ("dns:///movierec.internal:50051", "dns:///movierec.internal:50051", False),
        ("127.0.0.1:50051, 127.0.0.1:50052", "ipv4:127.0.0.1:50051,127.0.0.1:50052", True),
        (["127.0.0.1:50051", "127.0.0.2:50052"], "ipv4:127.0.0.1:50051,127.0.0.2:50052", True),
        (["localhost:50051", "127.0.0.1:50052"], "ipv4:127.0.0.1:50051,127.0.0.1:50052", True),  # names resolved once
        ("[::1]:50051,[::1]:50052", "ipv6:[::1]:50051,[::1]:50052", True),
        ("ipv4:127.0.0.1:50051,127.0.0.1:50052", "ipv4:127.0.0.1:50051,127.0.0.1:50052", True),  # gRPC's own syntax
    ],
)
def test_several_servers_become_one_balanced_target(given: str | list[str], target: str, balanced: bool) -> None:
    assert channel_target(given) == (target, balanced)


@pytest.mark.parametrize(
    "given, says",
    [
        ("", "no server given"),
        ("127.0.0.1:50051,50052", "is not host:port"),
        ("127.0.0.1:50051,[::1]:50052", "mix IPv4 and IPv6"),
    ],
)
def test_bad_server_lists_are_one_clear_error(given: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        channel_target(given)


def test_a_balanced_channel_is_round_robin_and_retries_unavailable() -> None:
    options = dict(channel_arguments(5.0, balanced=True))
    config = json.loads(options["grpc.service_config"])
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    method = config["methodConfig"][0]
    assert method["waitForReady"] and "UNAVAILABLE" in method["retryPolicy"]["retryableStatusCodes"]
    assert options["grpc.enable_retries"] == 1 and options["grpc.max_reconnect_backoff_ms"] == 5000
    single = dict(channel_arguments(5.0))
    assert "loadBalancingConfig" not in json.loads(single["grpc.service_config"])  # one server: as before
