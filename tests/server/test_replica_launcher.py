"""`make serve-replicas` (movierec.server.replicas): the command lines and the encoder threads it gives each replica."""

from __future__ import annotations

from pathlib import Path

from movierec.server.replicas import replica_commands, replica_threads


def test_replicas_on_one_machine_split_its_cores_unless_threads_are_set() -> None:
    assert [replica_threads(n, 0, cores=8) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert replica_threads(3, 5, cores=8) == 5  # torch_threads as configured wins


def test_each_replica_listens_and_exports_metrics_on_its_own_port() -> None:
    commands = replica_commands(3, "127.0.0.1", 50051, Path("var/index"), None, "127.0.0.1:9464")
    addresses = [c[c.index("--address") + 1] for c in commands]
    metrics = [c[c.index("--metrics-address") + 1] for c in commands]
    assert addresses == ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"]
    assert metrics == ["127.0.0.1:9464", "127.0.0.1:9465", "127.0.0.1:9466"]
    assert all(c[c.index("--index-dir") + 1] == "var/index" for c in commands)
    assert all(c[c.index("--metrics-address") + 1] == "" for c in replica_commands(2, "h", 1, None, None, ""))
