"""`python -m movierec.server.replicas`: N `movierec-serve` replicas on consecutive ports (`make serve-replicas`).

Every replica reads the same settings (the environment, e.g. MOVIEREC_STORE_URL, and --config), so
they serve the same index and share one ratings store: with PostgreSQL (or one SQLite file on this
machine) a rating given to one replica is in the others' lists within a second. A client given all
the addresses ("127.0.0.1:50051,127.0.0.1:50052") balances over them and routes around one that dies.

Replicas on one machine share its cores: unless `torch_threads` is set (environment or --config),
each gets an equal share of them for its encoder (`replica_threads`). Left at one thread pool per
core each, N replicas run N times more threads than cores and their throughput collapses
(reports/bench-replicas.md).

SIGTERM or Ctrl-C is passed on to every replica, which drain as `movierec-serve` does; a replica
that exits on its own is reported and the others go on.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from movierec.hardware import usable_cores

SERVE = Path(sys.executable).parent / "movierec-serve"


def replica_commands(
    replicas: int, host: str, port: int, index_dir: Path | None, config: Path | None, metrics_address: str
) -> list[list[str]]:
    """One movierec-serve command line per replica: ports port, port + 1, ...; metrics likewise."""
    metrics_host, _, metrics_port = metrics_address.rpartition(":")
    commands = []
    for i in range(replicas):
        command = [str(SERVE), "--address", f"{host}:{port + i}"]
        if index_dir is not None:
            command += ["--index-dir", str(index_dir)]
        if config is not None:
            command += ["--config", str(config)]
        command += ["--metrics-address", f"{metrics_host}:{int(metrics_port) + i}" if metrics_port else ""]
        commands.append(command)
    return commands


def replica_threads(replicas: int, configured: int, cores: int | None = None) -> int:
    """Encoder threads for each of `replicas` servers on one machine: the configured torch_threads when
    set (> 0), else an equal share of the cores (at least one)."""
    if configured > 0:
        return configured
    return max(1, (cores or usable_cores()) // replicas)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m movierec.server.replicas",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--replicas", "-n", type=int, default=2, help="how many servers (default 2)")
    parser.add_argument("--host", default="127.0.0.1", help="the address they listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=50051, help="the first one's port; the others follow")
    parser.add_argument("--index-dir", type=Path, help="folder with CURRENT and the index versions")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument(
        "--metrics-address", default="", help="host:port of the first one's /metrics; the others follow (default: none)"
    )
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    if args.metrics_address and not args.metrics_address.rpartition(":")[2].isdigit():
        parser.error(f"--metrics-address {args.metrics_address!r} is not host:port")

    from movierec.settings import load_settings

    threads = replica_threads(args.replicas, load_settings(args.config).encoder.torch_threads)
    env = dict(os.environ, MOVIEREC_TORCH_THREADS=str(threads))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    commands = replica_commands(args.replicas, args.host, args.port, args.index_dir, args.config, args.metrics_address)
    # Each in a process group of its own, so that a Ctrl-C reaches them once, from here.
    processes = [subprocess.Popen(command, start_new_session=True, env=env) for command in commands]
    addresses = [command[command.index("--address") + 1] for command in commands]
    for process, address in zip(processes, addresses):
        print(f"replica on {address}: pid {process.pid}, {threads} encoder thread(s)", file=sys.stderr, flush=True)
    print(f"clients: --target {','.join(addresses)}", file=sys.stderr, flush=True)

    running = dict(zip(addresses, processes))
    while running and not stop.wait(0.2):
        for address, process in list(running.items()):
            if process.poll() is not None:
                print(f"replica on {address} exited with code {process.returncode}", file=sys.stderr, flush=True)
                del running[address]
    for process in running.values():
        process.send_signal(signal.SIGTERM)  # each drains (shutdown_grace_s) and exits
    for process in running.values():
        process.wait()
    return 0 if stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
