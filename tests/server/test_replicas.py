"""Two `movierec-serve` replicas on one real PostgreSQL store, over real gRPC channels.

A rating given to one replica shows in the other's lists within a second; SIGKILL of either loses
no acknowledged rating; a client given both addresses gets every answer while one is killed and
restarted; `make reindex` reads the PostgreSQL store and both replicas move to the new version.
The replicas are shared by the tests of this module (each test uses users of its own) and every
test leaves both running.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import REPO, SAMPLE_DATA

from movierec.artifact import load_artifact
from movierec.bench.postgres import PostgresServer
from movierec.clients.client import AsyncRecommenderClient, RecommenderClient
from movierec.settings import Settings

from processes import ServerProcess, stored_feedback

# One worker under pytest-xdist: the module's tests share one pair of replicas.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("replicas")]

ACCESS_OK = ("movierec.access: Recommend OK", "movierec.access: RecordFeedback OK")


class Replicas:
    def __init__(self, index_dir: Path, store_url: str, logs: Path):
        self.index_dir, self.store_url = index_dir, store_url
        env = {"MOVIEREC_STORE_URL": store_url}
        self.a = ServerProcess(index_dir, logs / "a.log", env=env)
        self.b = ServerProcess(index_dir, logs / "b.log", env=env)

    @property
    def both(self) -> tuple[ServerProcess, ServerProcess]:
        return self.a, self.b

    @property
    def target(self) -> str:
        return f"{self.a.target},{self.b.target}"


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, sample_settings: Settings, postgres: PostgresServer
) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    index_dir = root / "index"
    shutil.copytree(sample_settings.index.index_dir, index_dir, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    pair = Replicas(index_dir, postgres.new_database(), root)
    for server in pair.both:
        server.start(wait=False)  # both load at once
    try:
        for server in pair.both:
            server.wait_serving()
        yield pair
    finally:
        for server in pair.both:
            server.stop()
    for server in pair.both:  # the URL carries a password: it must appear in no log line
        assert postgres.password not in server.log.read_text()
    assert not (index_dir / "feedback.sqlite").exists()  # every rating went to PostgreSQL


def served_calls(server: ServerProcess) -> int:
    """Calls this replica answered OK so far (its access log; a restarted replica appends to it)."""
    text = server.log.read_text()
    return sum(text.count(line) for line in ACCESS_OK)


def test_a_rating_given_to_one_replica_leaves_the_others_next_list_within_a_second(replicas: Replicas) -> None:
    index = load_artifact(replicas.index_dir)
    users = [int(u) for u in index.user_ids[:3]]
    delays = []
    with RecommenderClient(replicas.a.target) as a, RecommenderClient(replicas.b.target) as b:
        for n, user in enumerate(users):
            giver, other = (a, b) if n % 2 == 0 else (b, a)
            top = other.recommend(user_id=user, limit=10).movies[0].movie_id
            count = other.user(user).ratings
            ack = giver.record_feedback(user, top, 4.5, f"cross-{user}")
            acknowledged = time.monotonic()
            while top in {m.movie_id for m in other.recommend(user_id=user, limit=10).movies}:
                assert time.monotonic() - acknowledged < 5, f"movie {top} still in user {user}'s list after 5 s"
            delays.append(time.monotonic() - acknowledged)
            assert ack.ratings == count + 1 and other.user(user).ratings == count + 1
        # A user first seen on one replica is known to the other as quickly.
        newcomer = 700_001
        ack = b.record_feedback(newcomer, 862, 5.0, "cross-newcomer")
        acknowledged = time.monotonic()
        while True:
            try:
                movies = a.recommend(user_id=newcomer, limit=5).movies
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND and time.monotonic() - acknowledged < 5
        delays.append(time.monotonic() - acknowledged)
        assert ack.ratings == 1 and 862 not in {m.movie_id for m in movies}
    print(f"cross-replica visibility delays (s): {', '.join(f'{d:.3f}' for d in delays)}")
    assert max(delays) < 1.0, delays


def all_visible(client: RecommenderClient, acked: dict[str, tuple[int, int, float]]) -> bool:
    """Every acknowledged (user, movie, rating) is among the user's ratings on this replica."""
    for user in {u for u, _, _ in acked.values()}:
        seen = {(r.movie_id, r.rating) for r in client.user(user, 1000).recent}
        if not {(m, r) for u, m, r in acked.values() if u == user} <= seen:
            return False
    return True


def check_after_kill(victim: ServerProcess, survivor: ServerProcess, acked: dict[str, tuple[int, int, float]]) -> None:
    """Every acknowledged rating is on the survivor within a second (it learns the victim's last rows
    from the store), then, once restarted, on the victim."""
    with RecommenderClient(survivor.target) as client:
        deadline = time.monotonic() + 1.0
        while not all_visible(client, acked) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all_visible(client, acked), "an acknowledged rating is missing on the surviving replica"
    if victim.process is None or victim.process.poll() is not None:
        victim.start()
    with RecommenderClient(victim.target) as client:
        assert all_visible(client, acked), "an acknowledged rating is missing on the restarted replica"


def test_a_client_with_both_replicas_gets_every_answer_while_one_is_killed_and_restarted(replicas: Replicas) -> None:
    """Two clients given both addresses (round robin) ask and rate, paced; right after an acknowledged
    rating replica A is SIGKILLed, then restarted. No call fails (gRPC retries a call cut by the kill
    on B; RecordFeedback's request_id makes that safe), both replicas served calls, A gets calls again
    once it is back, and no acknowledged rating is lost on either replica."""
    a, b = replicas.both
    counts = {"ok": 0, "failed": 0}
    errors: list[str] = []
    acked: dict[str, tuple[int, int, float]] = {}
    lock = threading.Lock()
    rated = threading.Event()
    stop = threading.Event()

    def load(seed: int) -> None:
        movies = [int(m) for m in load_artifact(replicas.index_dir).movie_ids[20 * seed : 20 * seed + 20]]
        with RecommenderClient(replicas.target, timeout_s=10) as client:
            for n in itertools.count():
                if stop.is_set():
                    return
                try:
                    if n % 3 == 2:
                        user, movie = 720_000 + seed, movies[n % len(movies)]
                        rating, request_id = 0.5 + n % 10 / 2, f"rr-{seed}-{n}"
                        client.record_feedback(user, movie, rating, request_id)
                        with lock:
                            acked[request_id] = (user, movie, rating)
                        rated.set()
                    else:
                        prompt = "a comedy" if n % 6 == 0 else ""  # mostly taste-only: no encoder, little CPU
                        assert len(client.recommend(prompt, user_id=1 + seed).movies) == 10
                    with lock:
                        counts["ok"] += 1
                except Exception as e:  # counted: the assertion below says what went wrong
                    with lock:
                        counts["failed"] += 1
                        errors.append(repr(e)[:300])
                time.sleep(0.1)  # paced, so that the restart is not starved of CPU on a 2-core machine

    started = {server.target: served_calls(server) for server in replicas.both}
    threads = [threading.Thread(target=load, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while min(served_calls(s) - started[s.target] for s in replicas.both) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        served_before = {s.target: served_calls(s) - started[s.target] for s in replicas.both}
        rated.clear()
        assert rated.wait(10)
        a.kill()  # right after an acknowledged rating, with calls in flight
        killed_at, answered_at_kill = time.monotonic(), counts["ok"]
        time.sleep(1.0)
        a.start()
        back_at = served_calls(a)
        deadline = time.monotonic() + 15  # the clients try it again within their 5 s reconnect backoff
        while served_calls(a) < back_at + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        episode_s = time.monotonic() - killed_at
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(
        f"round robin: {counts['ok']} answers, {counts['failed']} failed; {counts['ok'] - answered_at_kill} in "
        f"the {episode_s:.1f} s from the kill until A answered again; served before the kill: {served_before}"
    )
    assert counts["failed"] == 0, errors[:5]
    assert all(n >= 3 for n in served_before.values()), served_before  # both replicas served calls
    assert counts["ok"] > answered_at_kill + 10
    assert served_calls(a) >= back_at + 3, "the restarted replica got no calls again"
    check_after_kill(a, b, acked)


def write_ratings(
    victim: ServerProcess,
    survivor: ServerProcess,
    user: int,
    movies: list[int],
    prefix: str,
    acked: dict[str, tuple[int, int, float]],
    lock: threading.Lock,
) -> None:
    """Rate `movies` through the victim; once a call fails (it was killed), through the survivor, starting
    with that same rating and request_id."""
    with (
        RecommenderClient(victim.target, timeout_s=5, wait_for_ready=False) as to_victim,
        RecommenderClient(survivor.target, timeout_s=5) as to_survivor,
    ):
        client = to_victim
        for i, movie in enumerate(movies):
            request_id, rating = f"{prefix}-{i}", 0.5 + movie % 10 / 2
            try:
                client.record_feedback(user, movie, rating, request_id)
            except grpc.RpcError as e:
                assert client is to_victim, e
                assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), e
                client = to_survivor
                client.record_feedback(user, movie, rating, request_id)
            with lock:
                acked[request_id] = (user, movie, rating)


def test_sigkill_of_the_other_replica_right_after_acks_loses_no_rating(replicas: Replicas) -> None:
    """Three writers on replica B; right after its fifth ack it is SIGKILLed; a write cut by the kill is
    sent again (same request_id) to A. Every acknowledged rating is on A within a second and on B after
    its restart, and the store holds each exactly once. (A was killed in the test above.)"""
    a, b = replicas.both
    movies = [int(m) for m in load_artifact(replicas.index_dir).movie_ids[:10]]
    acked: dict[str, tuple[int, int, float]] = {}
    lock = threading.Lock()
    writers = [
        threading.Thread(target=write_ratings, args=(b, a, 710_000 + w, movies, f"kill-{w}", acked, lock))
        for w in range(3)
    ]
    for t in writers:
        t.start()
    while len(acked) < 5:
        time.sleep(0.001)
    b.kill()  # right after an ack, with the other writers' calls in flight
    for t in writers:
        t.join()
    check_after_kill(b, a, acked)
    rows = [row for row in stored_feedback(replicas.store_url) if row[0].startswith("kill-")]
    assert len(rows) == len(acked) == 30  # none duplicated
    assert {r[0]: (r[1], r[2], r[3]) for r in rows} == acked  # none lost, each as acknowledged


def test_the_async_client_balances_over_both_replicas_too(replicas: Replicas) -> None:
    async def ask(n: int) -> list[int]:
        async with AsyncRecommenderClient([replicas.a.target, replicas.b.target], timeout_s=10) as client:
            return [len((await client.recommend(user_id=1 + i % 5, limit=5)).movies) for i in range(n)]

    before = {server.target: served_calls(server) for server in replicas.both}
    assert asyncio.run(ask(20)) == [5] * 20
    assert all(served_calls(server) > before[server.target] for server in replicas.both)  # round robin: both


def test_make_reindex_reads_the_postgresql_store_and_both_replicas_switch(replicas: Replicas) -> None:
    with RecommenderClient(replicas.a.target) as a, RecommenderClient(replicas.b.target) as b:
        newcomer = 730_001
        a.record_feedback(newcomer, 862, 5.0, "reindex-1")
        before = a.index_info().index_version
        done = subprocess.run(
            [
                "make",
                "-s",
                "reindex",
                f"DATA_DIR={SAMPLE_DATA}",
                f"INDEX_DIR={replicas.index_dir}",
                f"STORE_URL={replicas.store_url}",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        b.record_feedback(newcomer, 603, 4.0, "reindex-2")  # after the build read the store: replayed on the swap
        index = load_artifact(replicas.index_dir)
        first, second = seqs(replicas.store_url, "reindex-1", "reindex-2")
        assert newcomer in index.user_row and first <= index.manifest.store_seq < second
        inputs = index.manifest.inputs
        assert inputs is not None and inputs.store is not None
        assert inputs.store.path.startswith("postgresql://postgres:***@")
        for client in (a, b):
            deadline = time.monotonic() + 20
            while client.index_info().index_version == before and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.index_info().index_version == index.version
            assert {r.movie_id for r in client.user(newcomer).recent} == {862, 603}


def seqs(store_url: str, *request_ids: str) -> list[int]:
    import psycopg

    with psycopg.connect(store_url) as conn:
        found = dict(
            conn.execute(
                "SELECT request_id, seq FROM feedback WHERE request_id = ANY(%s)", (list(request_ids),)
            ).fetchall()
        )
    return [found[r] for r in request_ids]
