"""`make bench` / `movierec-bench`: serving and indexing measured against the encoder's own cost.

One run, on one data folder (default the real seed data), in this order:

1. indexing, in each of `rounds` rounds: a cold build (empty folder, embedding cache and ONNX
   files) with `movierec-index`, then a reindex after 1,000 new ratings were written to the
   ratings store (cache warm);
2. floors, in this process with the server's settings: one ~10-token prompt through the encoder
   (median), and the encoder's batched throughput at batch 64, measured right before and right
   after each serving run they are compared with (the VM's speed drifts by 20% within minutes);
3. serving, `movierec-serve` in its own process, driven over loopback gRPC by the load generator
   in another: `rounds` rounds of one client (p50/p90/p99), groups of five, and 64 clients with
   ~10-token prompts, each run between its floors (a target is judged on the median of the
   rounds, its spread reported beside it); then one client sending each request over gRPC and
   over the server's HTTP/JSON API in turn (what the HTTP edge adds); then 64 clients with mixed
   prompt lengths for five minutes, the leak check: the server's RSS is sampled every second and
   its last minute compared with its first minute after warm-up;
4. in-process: where a batch's time goes, and the thread settings of movierec.runtime on and off;
6. the naive peer (movierec.bench.naive) under the same 64-client load.

Writes reports/bench.md, bench.json and bench.png. `--smoke` runs every step for a few seconds
on small data (CI uses it so the benchmark cannot silently break; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from movierec.hardware import usable_cores
from movierec.prompt_generator import prompts

BIN = Path(sys.executable).parent


@dataclass
class Durations:
    single_s: float = 8.0
    short_s: float = 22.0  # 64 clients, ~10-token prompts
    mixed_s: float = 300.0  # 64 clients, mixed lengths: the 5-minute leak run
    leak_warmup_s: float = 60.0
    naive_s: float = 10.0
    overload_s: float = 8.0  # each open-loop overload point
    overload_queues: tuple[int, ...] = (4, 16, 64)  # max_queued_requests values, one server each
    warmup_s: float = 2.0
    floor_repeats: int = 60
    batch_repeats: int = 8
    rounds: int = 3  # cold builds, and serving rounds with their floors: the spread beside each ratio


SMOKE = Durations(
    single_s=2,
    short_s=3,
    mixed_s=3,
    leak_warmup_s=0,
    naive_s=2,
    overload_s=2,
    warmup_s=0.5,
    floor_repeats=5,
    batch_repeats=2,
    overload_queues=(16,),
    rounds=2,
)
# Overload: open loop, offered as multiples of the 64-client throughput, for each queue bound
# (max_queued_requests): the trade between accepted latency and what is shed.
OVERLOAD_MULTIPLES = (2.0, 10.0)
# The prompt cache's workload: 2,000 distinct everyday requests drawn with Zipf weights of this
# exponent, the shape of query popularity in search logs (a few requests asked very often, a long tail).
PROMPT_ZIPF = 0.8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    if not latencies_ms:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan")}
    p50, p90, p99 = np.percentile(latencies_ms, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99)}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- indexing ---------------------------------------------------------------------------------
def timed_index(data_dir: Path, index_dir: Path) -> float:
    """Run `movierec-index` as a user would; wall seconds of the whole command."""
    started = time.perf_counter()
    subprocess.run(
        [BIN / "movierec-index", "--data-dir", data_dir, "--index-dir", index_dir, "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def built_with(index_dir: Path) -> dict[str, Any]:
    """The encoder backend the current version's catalogue was embedded with (asked for, and as it ran)
    and the CPU flags that decided it, from its manifest."""
    from movierec.artifact import current_version
    from movierec.diagnostics import ArtifactError
    from movierec.manifest import read_manifest

    manifest = read_manifest(index_dir / str(current_version(index_dir)))
    model, cpu = manifest.model, manifest.cpu
    if model is None or model.backend is None:  # the indexer records both; this index is not its
        raise ArtifactError(f"{index_dir}: the manifest does not say which encoder backend embedded the catalogue")
    return {
        "asked": model.backend_requested or model.backend,
        "ran": model.backend,
        "cpu": cpu.to_dict() if cpu else {},
    }


def add_ratings(index_dir: Path, n: int, seed: int = 0) -> None:
    """Record `n` new ratings (known users, catalogue movies) in the ratings store, as feedback would."""
    from movierec.artifact import load_artifact
    from movierec.store import STORE_NAME, SqliteRatingsStore

    index = load_artifact(index_dir)
    rng = random.Random(seed)
    store = SqliteRatingsStore(index_dir / STORE_NAME)
    try:
        for i in range(n):
            store.record(
                int(rng.choice(index.user_ids.tolist())),
                int(rng.choice(index.movie_ids.tolist())),
                rng.randint(1, 10) / 2,
                f"bench-{seed}-{i}",
            )
    finally:
        store.close()


# -- floors -----------------------------------------------------------------------------------
def floors(encoder: Any, durations: Durations, seed: int) -> dict[str, float]:
    """The encoder alone: one ~10-token prompt (median ms) and batch-64 throughput (prompts/s)."""
    pool = prompts("short", durations.floor_repeats + 64 * durations.batch_repeats + 20, seed)
    for p in pool[:20]:
        encoder.encode([p])
    single = []
    for p in pool[20 : 20 + durations.floor_repeats]:
        started = time.perf_counter()
        encoder.encode([p])
        single.append((time.perf_counter() - started) * 1000)
    rest = pool[20 + durations.floor_repeats :]
    encoder.encode(rest[:64])
    batch = []
    for r in range(durations.batch_repeats):
        chunk = rest[r * 64 : (r + 1) * 64]
        started = time.perf_counter()
        encoder.encode(chunk)
        batch.append(time.perf_counter() - started)
    return {
        "single_ms": statistics.median(single),
        "single_p99_ms": float(np.percentile(single, 99)),
        "batch64_per_s": 64 / statistics.median(batch),
    }


def thread_ablation(recommender: Any, durations: Durations) -> dict[str, Any]:
    """recommend_batch in this process with movierec.runtime's pool limits, then with them lifted."""
    import threadpoolctl

    from movierec.domain import RecommendQuery

    users = recommender.index.user_ids.tolist()
    rng = random.Random(1)
    pool = prompts("short", 4000, 7)
    repeats = max(3, durations.floor_repeats // 4)

    def measure(batch: int) -> float:
        times = []
        for _repeat in range(repeats if batch == 1 else max(2, repeats // 8)):
            queries = [
                RecommendQuery(prompt=rng.choice(pool), user_id=int(rng.choice(users)), limit=10) for _ in range(batch)
            ]
            started = time.perf_counter()
            recommender.recommend_batch(queries)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    measure(1)
    tuned = {"batch1_ms": measure(1), "batch64_ms": measure(64)}
    controller = threadpoolctl.ThreadpoolController()
    with (
        controller.limit(limits=usable_cores(), user_api="blas"),
        controller.limit(limits=usable_cores(), user_api="openmp"),
    ):  # restored on exit
        measure(1)
        untuned = {"batch1_ms": measure(1), "batch64_ms": measure(64)}
    return {"tuned": tuned, "untuned": untuned}


def stage_profile(recommender: Any, durations: Durations) -> dict[str, Any]:
    """Where a batch's time goes, in this process: encoder forward vs ranking, at batch 1 and 64."""
    from movierec.ranking import RankRequest

    encoder = recommender.encoder
    users = recommender.index.user_ids.tolist()
    rng = random.Random(2)
    pool = prompts("short", 4000, 9)
    out = {}
    for batch in (1, 64):
        repeats = max(3, durations.floor_repeats // (4 if batch == 1 else 32))
        encode_ms, rank_ms = [], []
        for r in range(repeats + 1):
            texts = [rng.choice(pool) for _ in range(batch)]
            profiles = [recommender.profile(int(rng.choice(users))) for _ in range(batch)]
            started = time.perf_counter()
            vectors = encoder.encode(texts)
            encoded = time.perf_counter()
            recommender.ranker.rank([RankRequest(t, v, p, 10) for t, v, p in zip(texts, vectors, profiles)])
            ranked = time.perf_counter()
            if r:  # the first is a warm-up
                encode_ms.append((encoded - started) * 1000)
                rank_ms.append((ranked - encoded) * 1000)
        out[f"batch{batch}"] = {"encode_ms": statistics.median(encode_ms), "rank_ms": statistics.median(rank_ms)}
    return out


def learned_stage(recommender: Any, durations: Durations) -> dict[str, Any]:
    """The learned ranker's cost at serving, on the one core the ranking runs on, for batches of 64
    prompt-less requests of known users: the MLP forward over their shortlists, the whole second phase
    (shortlist, features, forward, each result's parts), and what it adds to the whole ranking (the
    same batch ranked with and without it, alternating; the median of the paired differences). Also
    the training time the cold build recorded."""

    from movierec import learned
    from movierec.manifest import LearnedRecord
    from movierec.ranking import RankRequest

    ranker = recommender.ranker
    record = ranker.index.manifest.learned or LearnedRecord()
    training = {
        "seconds": record.seconds,
        "carried over from": record.carried_over_from,
        "training": record.training,
        "skipped": record.skipped,
    }
    out: dict[str, Any] = {"training": {k: v for k, v in training.items() if v is not None}}
    if ranker.scorer is None:
        return out | {"serving": None}
    weighted = ranker.with_config(ranker.config.replace(ranker="weighted_sum"))
    rng = random.Random(5)
    users = recommender.index.user_ids.tolist()
    repeats = max(5, durations.floor_repeats * 2)
    phase_ms, forward_ms, rank_ms, added_ms = [], [], [], []
    for r in range(repeats + 1):
        requests = [RankRequest("", None, recommender.profile(int(rng.choice(users))), 10) for _ in range(64)]
        timed = []
        for order in (ranker, weighted) if r % 2 else (weighted, ranker):
            started = time.perf_counter()
            order.rank(requests)
            timed.append((order is ranker, time.perf_counter() - started))
        with_model = next(t for is_learned, t in timed if is_learned)
        without = next(t for is_learned, t in timed if not is_learned)
        batch, values = ranker.candidates_and_signals(requests)
        scored = ranker.weighted_sum(batch, values)
        shortlist = learned.shortlist_of(scored.total, ranker.config.learned_candidates)[0]
        before = time.perf_counter()
        learned.second_phase(ranker.scorer, batch, scored, ranker.movie_ratings, ranker.config.learned_candidates)
        after = time.perf_counter()
        features = np.zeros((*shortlist.shape, learned.n_features(len(ranker.scorer.inputs))), np.float32)
        forward_start = time.perf_counter()
        ranker.scorer.score(features)
        forward_end = time.perf_counter()
        if r:  # the first is a warm-up
            rank_ms.append(with_model * 1000)
            added_ms.append((with_model - without) * 1000)
            phase_ms.append((after - before) * 1000)
            forward_ms.append((forward_end - forward_start) * 1000)
    return out | {
        "serving": {
            "requests": 64,
            "shortlist": ranker.config.learned_candidates,
            "pool_width": int(batch.valid.shape[1]),
            "repeats": repeats,
            "forward_ms": statistics.median(forward_ms),
            "forward_p90_ms": float(np.percentile(forward_ms, 90)),
            "second_phase_ms": statistics.median(phase_ms),
            "second_phase_p90_ms": float(np.percentile(phase_ms, 90)),
            "rank_ms": statistics.median(rank_ms),
            "added_ms": statistics.median(added_ms),
            "added_quartiles_ms": [float(np.percentile(added_ms, 25)), float(np.percentile(added_ms, 75))],
        }
    }


def understanding_cost(recommender: Any, n: int = 3000) -> dict[str, float]:
    """The understanding stage alone (Recommender.understand), per request, over benchmark prompts and
    constraint-style everyday requests: p50 and p99 in ms."""
    from movierec.domain import RecommendQuery
    from movierec.evaluation.constraint_requests import KINDS

    everyday = [prompt for requests in KINDS.values() for prompt, _ in requests]
    texts = prompts("mixed", n, 11) + everyday * max(1, n // (4 * len(everyday)))
    queries = [RecommendQuery(prompt=t, user_id=None, limit=10) for t in texts]
    for q in queries[:50]:  # warm-up
        recommender.understand(q)
    times = []
    for q in queries:
        started = time.perf_counter()
        recommender.understand(q)
        times.append((time.perf_counter() - started) * 1000)
    return {"requests": len(times), "p50_ms": statistics.median(times), "p99_ms": float(np.percentile(times, 99))}


def conversation_cost(recommender: Any, turns: int = 20, n: int = 200, seed: int = 13) -> dict[str, float]:
    """A whole request in this process (Recommender.recommend_batch, one at a time) for a single prompt and
    for the last request of a conversation of `turns` turns ending in that prompt (seekers' requests and
    verdicts, a recommender suggesting catalogue movies), sent as a client sends one: a request after every
    seeker turn, so the earlier turns were read before. p50 of each (ms; only the last requests timed) and
    their ratio."""
    from movierec.domain import RECOMMENDER, SEEKER, RecommendQuery, Turn

    rng = random.Random(seed)
    pool = prompts("mixed", 4 * n, seed)
    movies = recommender.index.movies
    replies = ("seen it", "oh I loved that one", "too dark for us", "not my thing", "sounds good", "maybe")

    def conversation(last: str) -> tuple[Turn, ...]:
        out = []
        for i in range(turns - 1):
            if i % 2:
                m = movies[rng.randrange(len(movies))]
                out.append(Turn(RECOMMENDER, f"How about {m.title} ({m.year})?"))
            else:
                out.append(Turn(SEEKER, rng.choice(pool) if i % 4 == 0 else f"{rng.choice(replies)} {i}"))
        return (*out, Turn(SEEKER, last))

    def ask(q: RecommendQuery) -> float:
        started = time.perf_counter()
        recommender.recommend_batch([q])
        return (time.perf_counter() - started) * 1000

    timings: dict[str, list[float]] = {"single": [], "conversation": []}
    for j, prompt in enumerate(pool[: n + 10]):
        talk = conversation(prompt)
        for end in range(1, turns - 1):  # what the client asked before the last turn
            if talk[end - 1].role == SEEKER:
                recommender.recommend_batch(
                    [RecommendQuery(prompt="", user_id=None, limit=10, conversation=talk[:end])]
                )
        single = ask(RecommendQuery(prompt=prompt, user_id=None, limit=10))
        whole = ask(RecommendQuery(prompt="", user_id=None, limit=10, conversation=talk))
        if j >= 10:  # the first are a warm-up
            timings["single"].append(single)
            timings["conversation"].append(whole)
    single_ms, talk_ms = statistics.median(timings["single"]), statistics.median(timings["conversation"])
    return {
        "turns": turns,
        "requests": n,
        "single_p50_ms": single_ms,
        "conversation_p50_ms": talk_ms,
        "ratio": talk_ms / single_ms,
    }


# -- serving ----------------------------------------------------------------------------------
class Server:
    """A server process (ours or the naive peer) on a free loopback port; with `http`, ours also serves
    the HTTP/JSON API on another (`http_port`)."""

    def __init__(self, command: list[Any], log_path: Path, env: dict[str, str] | None = None, http: bool = False):
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.http_port = free_port() if http else None
        self.log = open(log_path, "w")
        extra = ["--http-port", str(self.http_port)] if self.http_port else []
        self.process = subprocess.Popen(
            [*command, "--address", self.target, *extra],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})),
        )

    def wait_ready(self, timeout_s: float = 180) -> None:
        import grpc

        from movierec.v1 import recommender_pb2 as pb
        from movierec.v1 import recommender_pb2_grpc as pb_grpc

        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(self.target) as channel:
            stub = pb_grpc.RecommenderStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log.name}")
                try:
                    stub.Recommend(pb.RecommendRequest(prompt="warm up", limit=1), timeout=5)
                    return
                except grpc.RpcError:
                    time.sleep(0.3)
        raise RuntimeError(f"server on {self.target} not ready after {timeout_s}s; see {self.log.name}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class RssSampler:
    """Samples a process's RSS once a second in a background thread."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._started, rss_mb(self.pid)))
            except OSError:
                return
            self._stop.wait(1.0)

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        return self.samples


def load(
    target: str,
    clients: int,
    seconds: float,
    warmup_s: float,
    kind: str,
    users: list[int],
    label: str,
    seed: int,
    group_size: int = 1,
    rate: float = 0.0,
    zipf: float = 0.0,
    http_port: int | None = None,
) -> dict[str, Any]:
    """Run the load generator process (open loop at `rate` requests/s when > 0; with `http_port`, one
    client sending each request over gRPC and over HTTP); show a time-based progress bar meanwhile."""
    out = Path(tempfile.mkstemp(prefix="movierec-load-", suffix=".json")[1])
    command = [
        sys.executable,
        "-m",
        "movierec.bench.loadgen",
        "--target",
        target,
        "--clients",
        str(clients),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup_s),
        "--prompts",
        kind,
        "--users",
        ",".join(map(str, users)),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--group-size",
        str(group_size),
        "--rate",
        str(rate),
        "--zipf",
        str(zipf),
        *(["--http-port", str(http_port)] if http_port else []),
    ]
    process = subprocess.Popen(command)  # its result goes to a file: a pipe would fill up and block it
    total = seconds + warmup_s
    with tqdm(total=round(total), desc=label, unit="s", leave=False) as bar:
        started = time.monotonic()
        while process.poll() is None:
            time.sleep(0.5)
            bar.n = min(round(total), int(time.monotonic() - started))
            bar.refresh()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed ({process.returncode})")
    try:
        result = json.loads(out.read_text())
    finally:
        out.unlink()
    result.update(percentiles(result["latencies_ms"]))
    if http_port:  # the same requests over HTTP: what that edge adds to gRPC's p50
        result["http"] = percentiles(result.pop("http_latencies_ms"))
        result["http_overhead_p50_ms"] = result["http"]["p50"] - result["p50"]
    if rate > 0:
        result["shed"] = percentiles(result["shed_latencies_ms"])
        result["health"] = percentiles(result["health_ms"])
        for key in ("latencies_ms", "shed_latencies_ms", "health_ms"):  # the percentiles are what is kept
            del result[key]
    return result


def overload(
    index_dir: Path, work_dir: Path, capacity: float, users: list[int], durations: Durations, seed: int
) -> list[dict[str, Any]]:
    """Open-loop load at multiples of `capacity` against a server per queue bound: what is accepted,
    how fast, what is shed and how fast, and whether health checks stay answered."""
    rows = []
    for queue in durations.overload_queues:
        server = Server(
            [BIN / "movierec-serve", "--index-dir", index_dir],
            work_dir / f"overload-{queue}.log",
            env={"MOVIEREC_MAX_QUEUED_REQUESTS": str(queue)},
        )
        try:
            server.wait_ready()
            for multiple in OVERLOAD_MULTIPLES:
                result = load(
                    server.target,
                    1,
                    durations.overload_s,
                    durations.warmup_s,
                    "short",
                    users,
                    f"overload x{multiple:g}, queue {queue}",
                    seed + 7,
                    rate=multiple * capacity,
                )
                rows.append({"max_queued_requests": queue, "multiple": multiple, **result})
        finally:
            server.stop()
    return rows


def refusal_ceiling(
    index_dir: Path, work_dir: Path, capacity: float, users: list[int], durations: Durations, seed: int
) -> dict[str, Any]:
    """How many calls a second the server can refuse at all: a server that admits two Recommend calls
    (one lane of one), offered the top overload multiple; nearly every call is one to refuse."""
    env = {"MOVIEREC_MAX_QUEUED_REQUESTS": "1", "MOVIEREC_BATCH_MAX_SIZE": "1", "MOVIEREC_BATCH_LANES": "1"}
    server = Server([BIN / "movierec-serve", "--index-dir", index_dir], work_dir / "refusal-ceiling.log", env=env)
    try:
        server.wait_ready()
        result = load(
            server.target,
            1,
            durations.overload_s,
            durations.warmup_s,
            "short",
            users,
            "refusal ceiling",
            seed + 8,
            rate=max(OVERLOAD_MULTIPLES) * capacity,
        )
    finally:
        server.stop()
    result["refused_per_s"] = result["by_code"].get("RESOURCE_EXHAUSTED", 0) / result["seconds"]
    return result


def leak_check(samples: list[tuple[float, float]], warmup_s: float) -> dict[str, Any]:
    """RSS growth over the load run: the last minute's median against the first minute's (after warm-up)."""
    steady = [(t, r) for t, r in samples if t >= warmup_s]
    if len(steady) < 4:
        return {"samples": len(samples), "growth_mb": float("nan"), "slope_mb_per_min": float("nan"), "ok": False}
    span = min(60.0, (steady[-1][0] - steady[0][0]) / 3)
    first = [r for t, r in steady if t <= steady[0][0] + span]
    last = [r for t, r in steady if t >= steady[-1][0] - span]
    growth = statistics.median(last) - statistics.median(first)
    times, values = np.array([t for t, _ in steady]), np.array([r for _, r in steady])
    slope = float(np.polyfit(times / 60, values, 1)[0]) if len(steady) > 2 else float("nan")
    allowed = max(10.0, 0.02 * statistics.median(first))
    return {
        "samples": len(samples),
        "first_mb": statistics.median(first),
        "last_mb": statistics.median(last),
        "growth_mb": growth,
        "allowed_mb": allowed,
        "slope_mb_per_min": slope,
        "ok": growth <= allowed,
    }


# -- the hardware and what ran on it ------------------------------------------------------------
def machine(settings: Any) -> dict[str, Any]:
    """The machine the numbers come from: cores, the CPU and the flags that choose encoder backends."""
    from importlib.metadata import version

    from movierec.embedding import settings_cpu

    return {
        "cpus": usable_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": settings_cpu(settings).as_dict(),
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
    }


def stage_backends(
    settings: Any, rounds: list[dict[str, Any]], served: Any, floor_backend: str, in_process_backend: str
) -> list[dict[str, str]]:
    """Each stage's encoder backend: the one its settings ask for and the one that actually ran (read
    back from the index manifests, the server's GetIndexInfo and the encoders themselves)."""
    builds = sorted({r["indexing"]["backend"]["ran"] for r in rounds})
    return [
        {
            "key": "catalogue",
            "stage": "cold builds (the catalogue, `movierec-index`)",
            "asked": settings.encoder.index_encoder_backend,
            "ran": ", ".join(builds),
        },
        {
            "key": "prompts",
            "stage": "the server's prompts (`movierec-serve`, GetIndexInfo)",
            "asked": settings.encoder.encoder_backend,
            "ran": served.prompt_encoder_backend,
        },
        {
            "key": "served catalogue",
            "stage": "the served index's catalogue (GetIndexInfo)",
            "asked": settings.encoder.index_encoder_backend,
            "ran": served.catalogue_encoder_backend,
        },
        {"key": "floors", "stage": "floors (the reference forward)", "asked": "torch", "ran": floor_backend},
        {
            "key": "in process",
            "stage": "in-process stages and ablations",
            "asked": settings.encoder.encoder_backend,
            "ran": in_process_backend,
        },
    ]


# -- the run ----------------------------------------------------------------------------------
def run(data_dir: Path, work_dir: Path, durations: Durations, ratings_added: int, seed: int = 0) -> dict[str, Any]:
    from movierec.artifact import load_artifact
    from movierec.clients.client import RecommenderClient
    from movierec.embedding import Encoder, settings_encoder
    from movierec.recommender import Recommender
    from movierec.runtime import tune_process
    from movierec.settings import load_settings

    settings = load_settings()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "data_dir": str(data_dir),
        "machine": machine(settings),
    }
    index_dir = work_dir / "index"
    if work_dir.exists():
        subprocess.run(["rm", "-rf", str(work_dir)], check=True)
    work_dir.mkdir(parents=True)
    phases = tqdm(total=6, desc="bench", unit="step")

    # Each round builds from nothing (its own folder, embedding cache and ONNX files), then reindexes
    # after new ratings; the last round's index is the one served below.
    rounds: list[dict[str, Any]] = [{} for _ in range(durations.rounds)]
    for r, this_round in enumerate(rounds):
        built = index_dir if r == len(rounds) - 1 else work_dir / f"index-round{r + 1}"
        phases.set_postfix_str(f"cold build {r + 1}/{len(rounds)}")
        cold = timed_index(data_dir, built)
        backend = built_with(built)
        phases.set_postfix_str(f"reindex after {ratings_added} ratings {r + 1}/{len(rounds)}")
        add_ratings(built, ratings_added, seed)
        this_round["indexing"] = {"cold_build_s": cold, "reindex_s": timed_index(data_dir, built), "backend": backend}
        if built != index_dir:
            subprocess.run(["rm", "-rf", str(built)], check=True)
    phases.update()
    index = load_artifact(index_dir)
    users = [int(u) for u in index.user_ids.tolist()]
    report["indexing"] = {
        "movies": len(index.movies),
        "users": len(users),
        "ratings": int(len(index.rated_rows)),
        **rounds[-1]["indexing"],
        "ratings_added": ratings_added,
    }
    phases.update()

    settings = load_settings(index_dir=index_dir)
    flat = settings.flat()
    report["settings"] = {
        k: flat[k]
        for k in (
            "torch_threads",
            "batch_max_size",
            "batch_max_wait_ms",
            "max_workers",
            "embed_batch_tokens",
            "encoder_backend",
            "index_encoder_backend",
            "cpu_flags_off",
            "prompt_cache_mb",
        )
    }
    report["settings"]["torch_threads_used"] = tune_process(settings.encoder.torch_threads)
    # The floors are always fp32 PyTorch forwards; the in-process stages use what the server uses.
    encoder = Encoder(
        settings.encoder.model_dir,
        settings.encoder.max_seq_length,
        settings.encoder.embed_batch_size,
        settings.encoder.embed_batch_tokens,
    )

    phases.set_postfix_str("serving")
    # The prompt cache is off for the runs the ratios read: their prompts repeat (the generator's word
    # lists), and a floor is a forward of every prompt. It is measured on its own below.
    server = Server(
        [BIN / "movierec-serve", "--index-dir", index_dir],
        work_dir / "server.log",
        env={"MOVIEREC_PROMPT_CACHE_MB": "0"},
        http=True,
    )
    try:
        server.wait_ready()
        report["server_rss_idle_mb"] = rss_mb(server.process.pid)
        with RecommenderClient(server.target) as client:
            served = client.index_info()  # the encoder backends as they run there
        known_user = users[0]
        for r, this_round in enumerate(rounds):  # the ratio runs, each between its own floors
            label = f" ({r + 1}/{len(rounds)})"
            this_round["floors_before"] = floors(encoder, durations, seed + 10 * r)
            single = load(
                server.target,
                1,
                durations.single_s,
                durations.warmup_s,
                "short",
                [known_user],
                "1 client" + label,
                seed + 10 * r,
            )
            # A movie night for five (random users of the index), with the same prompts: the members are
            # rows of one batch, so it should cost little more than one user.
            group = load(
                server.target,
                1,
                durations.single_s,
                durations.warmup_s,
                "short",
                users,
                "1 client, groups of 5" + label,
                seed + 10 * r,
                group_size=5,
            )
            this_round["floors_between"] = floors(encoder, durations, seed + 10 * r + 4)
            short = load(
                server.target,
                64,
                durations.short_s,
                durations.warmup_s,
                "short",
                users,
                "64 clients, ~10-token prompts" + label,
                seed + 10 * r + 1,
            )
            this_round["floors_after"] = floors(encoder, durations, seed + 10 * r + 3)
            this_round["serving"] = {"single": single, "group5": group, "short64": short}
        for key in ("floors_before", "floors_between", "floors_after"):  # the tables show the last round
            report[key] = rounds[-1][key]
        # The HTTP/JSON edge's cost: the single-client run's kind of requests, each over both edges in turn.
        http = load(
            server.target,
            1,
            durations.single_s,
            durations.warmup_s,
            "short",
            [known_user],
            "1 client, gRPC and HTTP/JSON in turn",
            seed + 11,
            http_port=server.http_port,
        )
        sampler = RssSampler(server.process.pid)
        mixed = load(
            server.target,
            64,
            durations.mixed_s,
            durations.warmup_s,
            "mixed",
            users,
            "64 clients, mixed lengths (leak run)",
            seed + 2,
        )
        rss = sampler.stop()
        taste = load(
            server.target,
            64,
            durations.short_s,
            durations.warmup_s,
            "none",
            users,
            "64 clients, no prompt (the learned ranker)",
            seed + 5,
        )
        report["server_rss_loaded_mb"] = rss_mb(server.process.pid)
    finally:
        server.stop()
    report["serving"] = {
        "single": single,
        "group5": group,
        "short64": short,
        "mixed64": mixed,
        "taste64": taste,
        "http1": http,
    }
    report["rounds"] = rounds
    report["rss_samples"] = rss
    report["leak"] = leak_check(rss, durations.warmup_s + durations.leak_warmup_s)
    phases.update()

    phases.set_postfix_str("prompt cache")
    cached = Server([BIN / "movierec-serve", "--index-dir", index_dir], work_dir / "server-cached.log")
    try:
        cached.wait_ready()
        report["prompt_cache"] = {
            "zipf": PROMPT_ZIPF,
            "single": load(
                cached.target,
                1,
                durations.single_s,
                durations.warmup_s,
                "short",
                [known_user],
                "prompt cache, 1 client",
                seed + 6,
                zipf=PROMPT_ZIPF,
            ),
            "short64": load(
                cached.target,
                64,
                durations.short_s,
                durations.warmup_s,
                "short",
                users,
                "prompt cache, 64 clients",
                seed + 7,
                zipf=PROMPT_ZIPF,
            ),
        }
    finally:
        cached.stop()

    phases.set_postfix_str("ablations")
    serving_encoder = settings_encoder(settings, index_dir)  # loaded only now: not beside the servers above
    report["backends"] = stage_backends(settings, rounds, served, encoder.backend, serving_encoder.backend)
    recommender = Recommender(index, serving_encoder, settings.ranking)  # the index loaded after the reindex
    report["stages"] = stage_profile(recommender, durations)
    report["understanding"] = understanding_cost(recommender, 300 if durations.floor_repeats < 20 else 3000)
    report["conversation"] = conversation_cost(recommender, n=40 if durations.floor_repeats < 20 else 200)
    report["learned"] = learned_stage(recommender, durations)
    report["threads_ablation"] = thread_ablation(recommender, durations)
    phases.update()
    del encoder, serving_encoder, recommender

    phases.set_postfix_str("naive peer")
    naive = Server([sys.executable, "-m", "movierec.bench.naive", "--index-dir", index_dir], work_dir / "naive.log")
    try:
        naive.wait_ready()
        naive_short = load(
            naive.target,
            64,
            durations.naive_s,
            durations.warmup_s,
            "short",
            users,
            "naive peer, 64 clients",
            seed + 10 * (len(rounds) - 1) + 1,
        )  # the last round's prompts
    finally:
        naive.stop()
    report["serving"]["naive64"] = naive_short
    phases.update()

    phases.set_postfix_str("overload")
    report["overload"] = overload(index_dir, work_dir, short["throughput"], users, durations, seed)
    report["refusal_ceiling"] = refusal_ceiling(index_dir, work_dir, short["throughput"], users, durations, seed)
    phases.update()
    phases.close()
    report["targets"] = targets(report)
    return report


def floor_for(report: dict[str, Any], run: str) -> dict[str, float]:
    """The floors measured right before and right after a serving run, averaged."""
    pair = ("floors_before", "floors_between") if run == "single" else ("floors_between", "floors_after")
    a, b = report[pair[0]], report[pair[1]]
    return {k: (a[k] + b[k]) / 2 for k in a}


# The targets whose every input is measured in each round (the builds, the floors and the 1- and
# 64-client runs); the others (the leak run, the naive peer, overload) run once, after the rounds.
PER_ROUND_TARGETS = (
    "single-client p50 / fp32 encoder forward",
    "single-client p99 / fp32 encoder forward",
    "group of 5, 1 client: p50 / one user's p50",
    "64-client throughput / batched fp32 encoder",
    "reindex after 1,000 ratings / cold build",
    "cold build of the data (s)",
)


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target's row; a target of PER_ROUND_TARGETS is judged on the median of the rounds, and
    its row keeps every round's value (`runs`) for the spread. The others are computed from the last
    round's runs (`runs` empty)."""
    out = []
    per_round = [
        {name: value for name, value, _, _ in _target_values(_round_view(report, this_round))}
        for this_round in report.get("rounds", [])
    ]
    for name, value, op, bound in _target_values(report):
        runs = [values[name] for values in per_round] if name in PER_ROUND_TARGETS else []
        if runs:
            value = statistics.median(runs)
        met = bool(value <= bound) if op == "<=" else bool(value >= bound) if op == ">=" else bool(value < bound)
        out.append(
            {
                "target": name,
                "value": float(value),
                "op": op,
                "bound": float(bound),
                "met": met,
                "runs": [float(v) for v in runs],
            }
        )
    return out


def _round_view(report: dict[str, Any], this_round: dict[str, Any]) -> dict[str, Any]:
    """The report as one round saw it: its floors, its serving runs, its builds."""
    return {
        **report,
        **{k: this_round[k] for k in ("floors_before", "floors_between", "floors_after")},
        "serving": {**report["serving"], **this_round["serving"]},
        "indexing": {**report["indexing"], **this_round["indexing"]},
    }


def _target_values(report: dict[str, Any]) -> list[tuple[str, float, str, float]]:
    floor_single = floor_for(report, "single")["single_ms"]
    floor_batch = floor_for(report, "short64")["batch64_per_s"]
    s = report["serving"]
    idx = report["indexing"]
    rows = [
        ("single-client p50 / fp32 encoder forward", s["single"]["p50"] / floor_single, "<=", 1.0),
        ("single-client p99 / fp32 encoder forward", s["single"]["p99"] / floor_single, "<=", 1.5),
        ("group of 5, 1 client: p50 / one user's p50", s["group5"]["p50"] / s["single"]["p50"], "<=", 2.0),
        ("64-client throughput / batched fp32 encoder", s["short64"]["throughput"] / floor_batch, ">=", 1.5),
        (
            "64-client throughput / naive peer",
            s["short64"]["throughput"] / max(s["naive64"]["throughput"], 1e-9),
            ">=",
            3.0,
        ),
        ("reindex after 1,000 ratings / cold build", idx["reindex_s"] / idx["cold_build_s"], "<=", 0.10),
        ("cold build of the data (s)", idx["cold_build_s"], "<=", 60.0),
        (
            "RSS growth over the load run (MB)",
            report["leak"]["growth_mb"],
            "<=",
            report["leak"].get("allowed_mb", 10.0),
        ),
        ("understanding stage p50 per request (ms)", report["understanding"]["p50_ms"], "<=", 0.5),
    ]
    if "conversation" in report:
        rows.append(
            (
                f"a {report['conversation']['turns']}-turn conversation: p50 / a single prompt's p50 (in process)",
                report["conversation"]["ratio"],
                "<=",
                2.0,
            )
        )
    from movierec.settings import Settings

    default_queue = Settings().server.max_queued_requests
    for row in report.get("overload", []):
        if row["max_queued_requests"] == default_queue and row["multiple"] == max(OVERLOAD_MULTIPLES):
            rows += [
                (
                    f"overload x{row['multiple']:g} (open loop), default queue {default_queue}: accepted p99 / "
                    "single-client p99",
                    row["p99"] / s["single"]["p99"],
                    "<=",
                    3.0,
                ),
                (
                    f"overload x{row['multiple']:g}: accepted p99 / 64-client p99 (the server at capacity)",
                    row["p99"] / s["short64"]["p99"],
                    "<=",
                    3.0,
                ),
                (f"overload x{row['multiple']:g}: shed answers p99 (ms)", row["shed"]["p99"], "<=", s["single"]["p99"]),
                (
                    f"overload x{row['multiple']:g}: calls neither answered nor shed (errors) + failed health checks",
                    sum(row["errors"].values()) + sum(row["health_failures"].values()),
                    "<=",
                    0,
                ),
            ]
    if "http1" in s:
        rows.append(
            (
                "HTTP/JSON edge, 1 client: Recommend p50 over HTTP - p50 over gRPC, same requests (ms)",
                s["http1"]["http_overhead_p50_ms"],
                "<=",
                1.0,
            )
        )
    serving = (report.get("learned") or {}).get("serving")
    if serving is not None:
        rows.append(
            (
                "learned ranker: MLP forward over 64 requests' shortlists, p50 (ms, one core)",
                serving["forward_ms"],
                "<=",
                1.0,
            )
        )
    return [(name, float(value), op, float(bound)) for name, value, op, bound in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/seed"))
    parser.add_argument("--work-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for bench.md/.json/.png")
    parser.add_argument("--smoke", action="store_true", help="every step for a few seconds (CI)")
    parser.add_argument("--ratings", type=int, default=1000, help="new ratings before the reindex")
    args = parser.parse_args(argv)
    from movierec.bench.report import write_report

    durations = SMOKE if args.smoke else Durations()
    started = time.monotonic()
    report = run(args.data_dir, args.work_dir, durations, args.ratings)
    report["smoke"] = args.smoke
    report["bench_seconds"] = time.monotonic() - started
    path = write_report(report, args.out)
    met = sum(t["met"] for t in report["targets"])
    print(f"{met}/{len(report['targets'])} targets met in {report['bench_seconds']:.0f}s; report: {path}")
    errors = {k: v["errors"] for k, v in report["serving"].items() if v["errors"]}
    if errors:
        print(f"requests failed: {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
