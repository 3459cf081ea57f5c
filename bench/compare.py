"""`movierec-bench-compare`: two servers on the same machine, alternating, under the bench's load.

    movierec-bench-compare --a old=/path/to/old/.venv/bin/movierec-serve:/path/to/old-index \
                           --a new=movierec-serve:var/bench/index --rounds 4

Each round starts each server in turn (order reversed every other round, so drift over time
falls on both), warms it up, then drives it with the bench's load generator: 64 clients with
~10-token prompts, then one client. It records requests/s, the server's CPU seconds per request
(from /proc, so the load generator's share is apart) and the one-client p50. Comparing changes
this way rather than across `make bench` runs matters on a shared VM whose speed drifts by more
than the change being measured. Prints a table and writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path
from typing import Any

from movierec.bench.run import Server, load


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_round(
    name: str,
    command: list[str],
    index_dir: Path,
    users: list[int],
    seconds: float,
    single_s: float,
    seed: int,
    log_dir: Path,
) -> dict[str, float]:
    server = Server([*command, "--index-dir", index_dir], log_dir / f"compare-{name}.log")
    try:
        server.wait_ready()
        load(server.target, 64, 3, 1, "short", users, f"{name} warm-up", seed=seed + 1000)
        server_before, client_before = cpu_seconds(server.process.pid), children_cpu_seconds()
        busy = load(server.target, 64, seconds, 0, "short", users, f"{name} 64 clients", seed=seed)
        server_after, client_after = cpu_seconds(server.process.pid), children_cpu_seconds()
        single = load(server.target, 1, single_s, 1, "short", users[:1], f"{name} 1 client", seed=seed)
    finally:
        server.stop()
    n = max(1, busy["requests"])
    return {
        "requests_per_s": busy["requests"] / busy["seconds"],
        "server_cpu_ms_per_request": (server_after - server_before) / n * 1000,
        "loadgen_cpu_ms_per_request": (client_after - client_before) / n * 1000,
        "p50_64_clients_ms": busy["p50"],
        "p50_1_client_ms": single["p50"],
    }


def parse_server(spec: str) -> tuple[str, list[str], Path]:
    """ "name=command:index_dir" (command may contain spaces: a program and its arguments)."""
    name, rest = spec.split("=", 1)
    command, index_dir = rest.rsplit(":", 1)
    return name, command.split(), Path(index_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-bench-compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--a",
        dest="servers",
        action="append",
        required=True,
        metavar="NAME=COMMAND:INDEX_DIR",
        help="a server to compare (give two or more)",
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="64-client run per round")
    parser.add_argument("--single-seconds", type=float, default=10.0, help="one-client run per round")
    parser.add_argument("--users", default="", help="comma-separated user ids (empty: anonymous requests)")
    parser.add_argument("--out", type=Path, default=Path("var/bench/compare.json"))
    args = parser.parse_args(argv)
    servers = [parse_server(s) for s in args.servers]
    users = [int(u) for u in args.users.split(",") if u]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in servers}
    for r in range(args.rounds):
        for name, command, index_dir in servers if r % 2 == 0 else servers[::-1]:
            rounds[name].append(
                one_round(
                    name, command, index_dir, users, args.seconds, args.single_seconds, seed=r, log_dir=args.out.parent
                )
            )
    summary: dict[str, Any] = {
        name: {key: statistics.mean(row[key] for row in rows) for key in rows[0]} for name, rows in rounds.items()
    }
    args.out.write_text(json.dumps({"rounds": rounds, "means": summary}, indent=2))
    keys = list(next(iter(summary.values())))
    print("| server | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, means in summary.items():
        print(f"| {name} | " + " | ".join(f"{means[k]:.2f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
