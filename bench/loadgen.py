"""The load generator: a separate process that drives a Recommend server over loopback gRPC.

    python -m movierec.bench.loadgen --target 127.0.0.1:50051 --clients 64 --seconds 20 \
        --prompts short --users 1,2,3 --out result.json   [--group-size 5: group requests]

`--target a:1,b:2` balances over several servers as the bundled client does (round_robin).
Each of `clients` concurrent callers (grpc.aio tasks on one channel) sends one request, waits
for the answer, and sends the next. Prints one JSON object: every latency (ms) of the measured
window, completions per second, and the errors by status code (to --out, or stdout).

`--http-port P` compares the edges instead: one caller sends each request over gRPC and over the
server's HTTP/JSON API on port P (the same request, the order alternating so neither edge always
finds the other's work cached), so the two latency lists are of one request sequence at one moment
of the machine's drifting speed.

`--rate R` is open loop instead: R requests a second are sent on schedule whether or not earlier
ones were answered (as independent users would), with a health check every 100 ms beside them; the
result has each answer's latency by status code, the rate actually offered and the health checks'
latencies. It measures overload, where a closed loop would slow down with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from movierec.clients.client import channel_arguments, channel_target
from movierec.prompt_generator import prompts
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc


def balanced_channel(target: str) -> tuple[str, list[tuple[str, object]]]:
    """One server: its address, no options (the bare channel). Several ("a:1,b:2"): the channel
    the bundled client makes for them (round_robin, its retry policy)."""
    address, balanced = channel_target(target)
    return address, list(channel_arguments(30.0, True, balanced)) if balanced else []


def prompt_picker(kind: str, seed: int, zipf: float, rng: random.Random) -> tuple[Callable[[], str], list[str]]:
    """Draws prompts: uniformly from 20,000 generated ones, or with `zipf` > 0 from 2,000 distinct ones
    with the k-th most popular drawn with weight 1 / k**zipf (repeats as in query logs). Also returns
    the list every draw is appended to."""
    drawn: list[str] = []
    if zipf > 0:
        pool = list(dict.fromkeys(prompts(kind, 4_000, seed)))[:2_000]
        weights = [1 / (k + 1) ** zipf for k in range(len(pool))]

        def pick() -> str:
            drawn.append(rng.choices(pool, weights)[0])
            return drawn[-1]
    else:
        pool = prompts(kind, 20_000, seed)

        def pick() -> str:
            drawn.append(pool[rng.randrange(len(pool))])
            return drawn[-1]

    return pick, drawn


def repeat_share(drawn: list[str]) -> float:
    """The share of draws whose text was drawn before (what a big enough cache answers)."""
    return 1 - len(set(drawn)) / max(1, len(drawn))


async def drive(
    target: str,
    clients: int,
    seconds: float,
    warmup_s: float,
    kind: str,
    users: list[int],
    limit: int,
    seed: int,
    group_size: int = 1,
    zipf: float = 0.0,
) -> dict:
    rng = random.Random(seed)
    pick, drawn = prompt_picker(kind, seed, zipf, rng)
    latencies: list[float] = []
    finished_at: list[float] = []
    errors: Counter[str] = Counter()
    address, options = balanced_channel(target)
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = pb_grpc.RecommenderStub(channel)
        await channel.channel_ready()
        start = time.perf_counter()
        measure_from = start + warmup_s
        end = measure_from + seconds

        async def caller(i: int) -> None:
            while (now := time.perf_counter()) < end:
                request = pb.RecommendRequest(prompt=pick(), limit=limit)
                if users and group_size > 1:  # a movie night: distinct users, one list for all of them
                    request.group_user_ids.extend(rng.sample(users, min(group_size, len(users))))
                elif users:
                    request.user_id = users[rng.randrange(len(users))]
                try:
                    await stub.Recommend(request, timeout=30)
                except grpc.aio.AioRpcError as e:
                    errors[e.code().name] += 1
                    continue
                done = time.perf_counter()
                if now >= measure_from:
                    latencies.append((done - now) * 1000)
                    finished_at.append(done - measure_from)

        await asyncio.gather(*(caller(i) for i in range(clients)))
        elapsed = time.perf_counter() - measure_from
    per_second = Counter(int(t) for t in finished_at)
    return {
        "clients": clients,
        "prompts": kind,
        "seconds": elapsed,
        "requests": len(latencies),
        "throughput": len(latencies) / elapsed,
        "latencies_ms": latencies,
        "per_second": [per_second.get(s, 0) for s in range(int(elapsed) + 1)],
        "errors": dict(errors),
        "zipf": zipf,
        "repeat_share": repeat_share(drawn),
    }


class HttpConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams (the standard library has no asyncio client):
    enough for a load generator speaking to our own server, which always sends Content-Length."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()


async def drive_pair(
    target: str, http_port: int, seconds: float, warmup_s: float, kind: str, users: list[int], limit: int, seed: int
) -> dict:
    """One caller, each request over both edges of one server (see the module's docstring)."""
    rng = random.Random(seed)
    pick, _ = prompt_picker(kind, seed, 0.0, rng)
    latencies: dict[str, list[float]] = {"grpc": [], "http": []}
    errors: Counter[str] = Counter()
    http = HttpConnection(target.rpartition(":")[0], http_port)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.RecommenderStub(channel)
        await channel.channel_ready()

        async def over_grpc(request: pb.RecommendRequest) -> str | None:
            try:
                await stub.Recommend(request, timeout=30)
                return None
            except grpc.aio.AioRpcError as e:
                return e.code().name

        async def over_http(request: pb.RecommendRequest) -> str | None:
            body = {"prompt": request.prompt, "limit": request.limit}
            if request.HasField("user_id"):
                body["user_id"] = request.user_id
            status, answer = await http.post("/v1/recommend", json.dumps(body).encode())
            reply = json.loads(answer)  # a client reads the answer, as the gRPC stub parses its message
            return None if status == 200 else f"HTTP {status} {reply['error']['code']}"

        start = time.perf_counter()
        measure_from = start + warmup_s
        end = measure_from + seconds
        edges = [("grpc", over_grpc), ("http", over_http)]
        while (now := time.perf_counter()) < end:
            request = pb.RecommendRequest(prompt=pick(), limit=limit)
            if users:
                request.user_id = users[rng.randrange(len(users))]
            edges.reverse()
            for name, send in edges:
                sent = time.perf_counter()
                failed = await send(request)
                if failed:
                    errors[failed] += 1
                elif now >= measure_from:
                    latencies[name].append((time.perf_counter() - sent) * 1000)
        elapsed = time.perf_counter() - measure_from
    await http.close()
    return {
        "clients": 1,
        "prompts": kind,
        "seconds": elapsed,
        "requests": len(latencies["grpc"]),
        "throughput": len(latencies["grpc"]) / elapsed,
        "latencies_ms": latencies["grpc"],
        "http_latencies_ms": latencies["http"],
        "errors": dict(errors),
    }


async def drive_open(
    target: str, rate: float, seconds: float, warmup_s: float, kind: str, users: list[int], limit: int, seed: int
) -> dict:
    pool = prompts(kind, 20_000, seed)
    rng = random.Random(seed)
    latencies: dict[str, list[float]] = {}
    health_ms: list[float] = []
    health_failures: Counter[str] = Counter()
    sent_in_window = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub, health = pb_grpc.RecommenderStub(channel), health_pb2_grpc.HealthStub(channel)
        await channel.channel_ready()
        start = time.perf_counter()
        measure_from = start + warmup_s
        end = measure_from + seconds
        pending: set[asyncio.Task] = set()

        async def one(request: pb.RecommendRequest, sent: float) -> None:
            try:
                await stub.Recommend(request, timeout=30)
                code = "OK"
            except grpc.aio.AioRpcError as e:
                code = e.code().name
            if sent >= measure_from:
                latencies.setdefault(code, []).append((time.perf_counter() - sent) * 1000)

        async def checks() -> None:
            check = health_pb2.HealthCheckRequest(service="movierec.v1.Recommender")
            while (sent := time.perf_counter()) < end:
                try:
                    await health.Check(check, timeout=5)
                    if sent >= measure_from:
                        health_ms.append((time.perf_counter() - sent) * 1000)
                except grpc.aio.AioRpcError as e:
                    health_failures[e.code().name] += 1
                await asyncio.sleep(0.1)

        checker = asyncio.ensure_future(checks())
        sent_total = 0
        while (now := time.perf_counter()) < end:
            while sent_total < int((now - start) * rate):  # catch up with the schedule
                request = pb.RecommendRequest(prompt=pool[rng.randrange(len(pool))], limit=limit)
                if users:
                    request.user_id = users[rng.randrange(len(users))]
                task = asyncio.ensure_future(one(request, time.perf_counter()))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent_total += 1
                sent_in_window += now >= measure_from
            await asyncio.sleep(0.002)
        await asyncio.gather(checker, *pending)
    answered = latencies.get("OK", [])
    return {
        "rate": rate,
        "prompts": kind,
        "seconds": seconds,
        "offered_per_s": sent_in_window / seconds,
        "throughput": len(answered) / seconds,
        "latencies_ms": answered,
        "by_code": {code: len(v) for code, v in latencies.items()},
        "shed_latencies_ms": latencies.get("RESOURCE_EXHAUSTED", []),
        "health_ms": health_ms,
        "health_failures": dict(health_failures),
        "errors": {code: len(v) for code, v in latencies.items() if code not in ("OK", "RESOURCE_EXHAUSTED")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-loadgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--prompts", choices=("short", "mixed", "none"), default="short")
    parser.add_argument("--users", default="", help="comma-separated user ids to pick from (empty: anonymous)")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument(
        "--group-size", type=int, default=1, help="members per request (drawn from --users); 1: one user"
    )
    parser.add_argument(
        "--zipf",
        type=float,
        default=0.0,
        help="closed loop: draw prompts from 2,000 with Zipf weights of this exponent (0: uniform)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="open loop: send this many requests a second on schedule (--clients is ignored)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=0,
        help="one client: each request over gRPC and over the HTTP/JSON API on this port",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    users = [int(u) for u in args.users.split(",") if u.strip()]
    if args.http_port:
        result = asyncio.run(
            drive_pair(
                args.target, args.http_port, args.seconds, args.warmup, args.prompts, users, args.limit, args.seed
            )
        )
    elif args.rate > 0:
        result = asyncio.run(
            drive_open(args.target, args.rate, args.seconds, args.warmup, args.prompts, users, args.limit, args.seed)
        )
    else:
        result = asyncio.run(
            drive(
                args.target,
                args.clients,
                args.seconds,
                args.warmup,
                args.prompts,
                users,
                args.limit,
                args.seed,
                args.group_size,
                args.zipf,
            )
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    else:
        json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
