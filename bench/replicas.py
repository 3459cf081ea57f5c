"""`movierec-bench-replicas` (run by `make bench-scale`): replicas on one PostgreSQL store against one server.

Starts a throwaway PostgreSQL (movierec.bench.postgres), copies an index (`--index-dir`, without its
SQLite ratings) and serves it with `movierec-serve` processes whose store is that PostgreSQL. It measures:

- **Throughput**: the same closed-loop client load (the load generator, `--clients` callers, short
  everyday requests, known users) against one replica, then against two through one balanced
  channel (the bundled client's: round_robin and its retry policy); each replica's share of the
  answers comes from its access log. The pair runs as `make serve-replicas` starts it (the cores
  split between them, `replica_threads`) and, unless `--skip-oversubscribed`, with every core each
  (a thread pool per core in each replica: what two plain `movierec-serve` on one machine do).
- **Feedback-to-visibility across replicas**: a rating acknowledged by one replica, then the time
  until the other replica's live profile of that user holds it (its `User` call counts it; that
  profile is what excludes rated movies from the next list). Alternating directions, first with the
  replicas idle and then under the client load.

Writes reports/bench-replicas.md, .json and .png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from movierec.bench.run import BIN, Server, load, percentiles
from movierec.hardware import usable_cores

ACCESS_RECOMMEND_OK = "movierec.access: Recommend OK"


def served(server: Server) -> int:
    """Recommend calls this replica answered OK so far (its access log)."""
    server.log.flush()
    return Path(server.log.name).read_text(errors="replace").count(ACCESS_RECOMMEND_OK)


def start_replicas(
    index_dir: Path, store_url: str, logs: Path, n: int, label: str, env: dict[str, str] | None = None
) -> list[Server]:
    """n servers of `index_dir` on the store, started together and answering."""
    command = [BIN / "movierec-serve", "--index-dir", index_dir, "--metrics-address", ""]
    servers = [
        Server(command, logs / f"{label}-{i}.log", env={"MOVIEREC_STORE_URL": store_url, **(env or {})})
        for i in range(n)
    ]
    for server in servers:
        server.wait_ready()
    return servers


def throughput(
    servers: list[Server], clients: int, seconds: float, warmup_s: float, users: list[int], label: str, seed: int
) -> dict[str, Any]:
    """The load generator against these servers (balanced when several): throughput, latency, shares."""
    before = [served(s) for s in servers]
    result = load(",".join(s.target for s in servers), clients, seconds, warmup_s, "short", users, label, seed)
    del result["latencies_ms"]
    answered = [served(s) - b for s, b in zip(servers, before)]
    result["share"] = [a / max(1, sum(answered)) for a in answered]
    return result


def visibility(
    a: Server, b: Server, users: list[int], movies: list[int], trials: int, label: str, seed: int
) -> list[float]:
    """Seconds from a rating's acknowledgement by one replica until the other replica's profile of the
    user counts it; `trials` ratings, alternating A->B and B->A, each a user and movie drawn at random."""
    from movierec.clients.client import RecommenderClient

    rng = np.random.default_rng(seed)
    delays: list[float] = []
    with RecommenderClient(a.target) as ca, RecommenderClient(b.target) as cb:
        for trial in tqdm(range(trials), desc=label, unit="rating", leave=False):
            giver, other = (ca, cb) if trial % 2 == 0 else (cb, ca)
            user = int(users[rng.integers(len(users))])
            before = other.user(user).ratings
            ack = giver.record_feedback(user, int(movies[rng.integers(len(movies))]), 4.0, f"{label}-{seed}-{trial}")
            acknowledged = time.perf_counter()
            if ack.ratings == before:  # a movie this user had rated already: nothing new to see
                continue
            while other.user(user).ratings < ack.ratings:
                if time.perf_counter() - acknowledged > 10:
                    raise RuntimeError(f"rating of user {user} not visible on the other replica after 10 s")
                time.sleep(0.001)
            delays.append(time.perf_counter() - acknowledged)
    return delays


def summary(delays_s: list[float]) -> dict[str, Any]:
    ms = [d * 1000 for d in delays_s]
    return {
        "ratings": len(ms),
        **percentiles(ms),
        "max": max(ms) if ms else float("nan"),
        "under_1s": sum(m < 1000 for m in ms) / max(1, len(ms)),
        "delays_ms": ms,
    }


def run(
    index_dir: Path,
    work_dir: Path,
    clients: int,
    seconds: float,
    warmup_s: float,
    trials: int,
    oversubscribed: bool,
    seed: int = 0,
) -> dict[str, Any]:
    from movierec.artifact import load_artifact
    from movierec.bench.postgres import PostgresServer
    from movierec.server.replicas import replica_threads

    index = load_artifact(index_dir)
    users = [int(u) for u in index.user_ids[:200]]
    movies = [int(m) for m in index.movie_ids]
    del index
    work_dir.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="replicas-", dir=work_dir))
    copy = logs / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    postgres = PostgresServer().start()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "index": str(index_dir),
        "clients": clients,
        "seconds": seconds,
        "trials": trials,
        "load": [],
        "cores": usable_cores(),
    }
    try:
        store_url = postgres.new_database()
        one = start_replicas(copy, store_url, logs, 1, "one")
        try:
            report["load"].append(
                {
                    "replicas": 1,
                    "threads": "default",
                    **throughput(one, clients, seconds, warmup_s, users, "1 replica", seed),
                }
            )
        finally:
            for server in one:
                server.stop()
        split = str(replica_threads(2, 0))
        pair = start_replicas(copy, store_url, logs, 2, "two", env={"MOVIEREC_TORCH_THREADS": split})
        try:
            report["load"].append(
                {
                    "replicas": 2,
                    "threads": split,
                    **throughput(pair, clients, seconds, warmup_s, users, "2 replicas", seed),
                }
            )
            report["visibility_idle"] = summary(
                visibility(pair[0], pair[1], users, movies, trials, "visibility, idle", seed)
            )
            background = subprocess.Popen(  # the same load, long enough to cover the trials below
                [
                    sys.executable,
                    "-m",
                    "movierec.bench.loadgen",
                    "--target",
                    ",".join(s.target for s in pair),
                    "--clients",
                    str(clients),
                    "--seconds",
                    str(max(30.0, trials * 0.5)),
                    "--warmup",
                    "0",
                    "--users",
                    ",".join(map(str, users)),
                    "--seed",
                    str(seed + 1),
                    "--out",
                    str(logs / "bg.json"),
                ]
            )
            try:
                time.sleep(warmup_s)
                report["visibility_loaded"] = summary(
                    visibility(pair[0], pair[1], users, movies, trials, "visibility, under load", seed + 1)
                )
            finally:
                background.terminate()
                background.wait()
        finally:
            for server in pair:
                server.stop()
        if oversubscribed:
            pair = start_replicas(copy, store_url, logs, 2, "two-every-core")
            try:
                report["load"].append(
                    {
                        "replicas": 2,
                        "threads": "default",
                        **throughput(pair, clients, seconds, warmup_s, users, "2 replicas, every core each", seed),
                    }
                )
            finally:
                for server in pair:
                    server.stop()
    finally:
        postgres.stop()
    one_rate = report["load"][0]["throughput"]
    for row in report["load"]:
        row["vs_one"] = row["throughput"] / one_rate
    shutil.rmtree(copy, ignore_errors=True)
    report["logs"] = str(logs)
    return report


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-replicas.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Replicas on one PostgreSQL store",
        "",
        f"Written by `make bench-scale` (`movierec-bench-replicas`) on {report['started']}; it took "
        f"{report['wall_s']:.0f} s. Index: `{report['index']}`; `movierec-serve` processes on this machine "
        "with a throwaway PostgreSQL as their ratings store. Load: the load generator with "
        f"{report['clients']} closed-loop callers (short everyday requests, known users) for "
        f"{report['seconds']:.0f} s after a warm-up; against two replicas it uses one balanced channel "
        '(round_robin, the bundled client\'s policy). Encoder threads "default": one per core '
        f"({report['cores']} here) in each process; a number: `torch_threads` as set for each replica "
        "(`make serve-replicas` splits the cores between the replicas).",
        "",
        "| replicas | encoder threads each | Recommend/s | × one | p50 ms | p99 ms | share of answers | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["load"]:
        share = " / ".join(f"{s:.0%}" for s in row["share"])
        errors = sum(row["errors"].values())
        lines.append(
            f"| {row['replicas']} | {row['threads']} | {row['throughput']:.1f} | {row['vs_one']:.2f} | "
            f"{row['p50']:.1f} | {row['p99']:.1f} | {share} | {errors} |"
        )
    lines += [
        "",
        "Feedback-to-visibility: a rating acknowledged by one replica, until the other replica's "
        f"profile of the user holds it (alternating directions, {report['trials']} ratings each).",
        "",
        "| the replicas | ratings | p50 ms | p90 ms | p99 ms | max ms | within 1 s |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("visibility_idle", "idle"), ("visibility_loaded", "under the load above")):
        v = report[key]
        lines.append(
            f"| {label} | {v['ratings']} | {v['p50']:.1f} | {v['p90']:.1f} | {v['p99']:.1f} | "
            f"{v['max']:.1f} | {v['under_1s']:.0%} |"
        )
    lines += ["", "![throughput and visibility](bench-replicas.png)", ""]
    _plot(report, out / "bench-replicas.png")
    (out / "bench-replicas.md").write_text("\n".join(lines) + "\n")
    return out / "bench-replicas.md"


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [
        f"{r['replicas']} replica{'s' if r['replicas'] > 1 else ''}\nthreads {r['threads']}" for r in report["load"]
    ]
    left.bar(labels, [r["throughput"] for r in report["load"]], color="tab:blue")
    left.set_ylabel("Recommend/s")
    left.set_title(f"{report['clients']} callers, same load")
    data = [report["visibility_idle"]["delays_ms"], report["visibility_loaded"]["delays_ms"]]
    right.boxplot(data, whis=(1, 99))
    right.set_xticks([1, 2], ["idle", "under load"])
    right.set_ylabel("ms until the other replica holds the rating")
    right.set_title("feedback-to-visibility")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-bench-replicas", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        default=Path("var/bench-scale/index"),
        help="the index the replicas serve (copied; its SQLite ratings are left behind)",
    )
    parser.add_argument("--work-dir", type=Path, default=Path("var/bench-replicas"), help="logs and the copy")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds of each load run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--trials", type=int, default=60, help="ratings timed for visibility, idle and loaded")
    parser.add_argument(
        "--skip-oversubscribed", action="store_true", help="skip the run of the pair with every core each"
    )
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = run(
        args.index_dir,
        args.work_dir,
        args.clients,
        args.seconds,
        args.warmup,
        args.trials,
        not args.skip_oversubscribed,
    )
    report["wall_s"] = time.monotonic() - started
    path = write_report(report, args.out)
    for row in report["load"]:
        print(
            f"{row['replicas']} replica(s), threads {row['threads']}: {row['throughput']:.1f}/s "
            f"({row['vs_one']:.2f}x one), p50 {row['p50']:.1f} ms"
        )
    for key in ("visibility_idle", "visibility_loaded"):
        print(f"{key}: p50 {report[key]['p50']:.1f} ms, max {report[key]['max']:.1f} ms")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
