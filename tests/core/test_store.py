"""The ratings store's promises, on both backends (SQLite and a real PostgreSQL server).

Idempotent request ids, versioned migrations, data kept across a reopen, and seq order = commit
order: concurrent writers on their own connections, with a follower reading "after the last seq it
saw" all the while, and the follower must see every acknowledged row exactly once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest

from movierec.diagnostics import InvalidArgument, Unavailable
from movierec.store import MIGRATIONS, StoredRating, open_store, read_store, redact_url, sqlite_path, sqlite_url
from movierec.store_postgres import MIGRATIONS as PG_MIGRATIONS

from processes import free_port


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "feedback.sqlite")
    return request.getfixturevalue("postgres_url")


def test_records_in_seq_order_and_since_reads_after_a_seq(store_url: str) -> None:
    store = open_store(store_url)
    try:
        first = store.record(1, 862, 4.5, "a", timestamp=100)
        second = store.record(2, 603, 3.0, None, timestamp=101)
        third = store.record(1, 603, 0.5, "c")
        assert first.seq < second.seq < third.seq and not first.duplicate
        assert third.timestamp >= int(time.time()) - 5
        assert store.since(0) == [first, second, third]
        assert store.since(first.seq) == [second, third]
        assert store.since(third.seq) == []
        assert all(isinstance(r.rating, float) and isinstance(r.seq, int) for r in store.since(0))
    finally:
        store.close()


def test_a_request_id_is_stored_once_and_cannot_name_another_rating(store_url: str) -> None:
    store = open_store(store_url)
    try:
        stored = store.record(5, 862, 4.0, "retry-me", timestamp=200)
        again = store.record(5, 862, 4.0, "retry-me", timestamp=999)
        assert again == StoredRating(stored.seq, 5, 862, 4.0, 200, duplicate=True)
        for other in [(5, 862, 3.5), (6, 862, 4.0), (5, 603, 4.0)]:
            with pytest.raises(InvalidArgument, match="already used"):
                store.record(*other, "retry-me")
        assert len(store.since(0)) == 1
        # Without a request id nothing is deduplicated.
        store.record(5, 862, 4.0)
        store.record(5, 862, 4.0)
        assert len(store.since(0)) == 3
    finally:
        store.close()


def test_reopening_keeps_the_rows_and_the_schema_version(store_url: str) -> None:
    store = open_store(store_url)
    kept = [store.record(7, 862, 2.5, "k1"), store.record(8, 603, 5.0, "k2")]
    store.close()
    store = open_store(store_url)
    try:
        assert store.since(0) == kept
        assert store.record(7, 862, 2.5, "k1").duplicate
        assert store.record(9, 862, 1.0, "k3").seq > kept[-1].seq
    finally:
        store.close()
    path = sqlite_path(store_url)
    if path is not None:
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    else:
        with psycopg.connect(store_url) as conn:
            versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, len(PG_MIGRATIONS) + 1))  # applied once each, however often opened


def test_a_schema_newer_than_the_program_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    path = sqlite_path(store_url)
    if path is not None:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 99")
    else:
        with psycopg.connect(store_url) as conn:
            conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(Unavailable, match="schema version 99, newer than this program knows"):
        open_store(store_url)


def test_concurrent_writers_and_a_follower_see_every_acknowledged_row_once(store_url: str) -> None:
    writers, per_writer = 6, 25
    acked: list[StoredRating] = []
    lock = threading.Lock()
    done = threading.Event()
    seen: list[int] = []
    follower_store = open_store(store_url)

    def write(w: int) -> None:
        store = open_store(store_url)  # a connection (or pool) of its own, like another replica
        try:
            for i in range(per_writer):
                stored = store.record(100 + w, 862 + i, 0.5 + (i % 10) / 2, f"w{w}-{i}")
                with lock:
                    acked.append(stored)
        finally:
            store.close()

    def follow() -> None:
        last = 0
        while True:
            finished = done.is_set()  # read before the last look, so that look sees every acknowledged row
            for row in follower_store.since(last):
                seen.append(row.seq)
                last = row.seq
            if finished:
                return
            time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    follower = threading.Thread(target=follow)
    follower.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    follower.join()
    follower_store.close()
    assert len(acked) == writers * per_writer
    assert sorted(seen) == seen and len(set(seen)) == len(seen)  # in order, each once
    assert set(seen) == {r.seq for r in acked}  # every acknowledged row, nothing else
    frame, max_seq = read_store(store_url)
    assert len(frame) == len(acked) and max_seq == max(seen)
    assert set(zip(frame["user_id"], frame["movie_id"], frame["rating"])) == {
        (r.user_id, r.movie_id, r.rating) for r in acked
    }


def test_the_indexer_reads_every_row_and_the_last_seq(store_url: str) -> None:
    frame, seq = read_store(store_url)  # a store nobody has opened yet: empty
    assert len(frame) == 0 and seq == 0
    store = open_store(store_url)
    try:
        rows = [store.record(u, 862, 3.5, f"r{u}", timestamp=1000 + u) for u in range(1, 6)]
    finally:
        store.close()
    frame, seq = read_store(store_url)
    assert seq == rows[-1].seq
    assert frame.to_dict("records") == [
        {"user_id": r.user_id, "movie_id": r.movie_id, "rating": r.rating, "timestamp": r.timestamp, "seq": r.seq}
        for r in rows
    ]


def test_another_writers_commit_wakes_a_waiting_follower(store_url: str) -> None:
    follower, writer = open_store(store_url), open_store(store_url)
    try:
        follower.since(0)
        if sqlite_path(store_url) is not None:  # SQLite cannot tell: its followers poll
            started = time.monotonic()
            assert not follower.wait_for_news(0.2) and time.monotonic() - started >= 0.19
            return
        assert not follower.wait_for_news(0.05)  # starts listening; nothing yet
        threading.Timer(0.3, lambda: writer.record(1, 862, 4.0, "wake")).start()
        started = time.monotonic()
        assert follower.wait_for_news(5.0)
        woke_after = time.monotonic() - started
        assert 0.25 < woke_after < 1.0, woke_after
        assert [r.user_id for r in follower.since(0)] == [1]
    finally:
        follower.close()
        writer.close()


def test_an_unreachable_postgresql_store_is_unavailable_without_its_password() -> None:
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/movierec"
    with pytest.raises(Unavailable) as e:
        open_store(url)
    message = str(e.value)
    assert "cannot be reached" in message and "someone:***@127.0.0.1" in message, message
    assert "s3cret-pw" not in message
    with pytest.raises(Unavailable, match="cannot be read") as e:
        read_store(url)
    assert "s3cret-pw" not in str(e.value)


def test_a_postgresql_server_that_goes_away_makes_writes_unavailable_then_they_work_again(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        store.record(1, 862, 4.0, "before")
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # every connection of the store is cut
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        # The pool replaces the dead connections (checked before use), so the next write goes through.
        assert not store.record(1, 603, 3.0, "after").duplicate
        assert [r.movie_id for r in store.since(0)] == [862, 603]
    finally:
        store.close()


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u@h/db?password=secret&sslmode=require", "postgres://u@h/db?password=***&sslmode=require"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("sqlite:///var/feedback.sqlite", "sqlite:///var/feedback.sqlite"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# -- marks (seen, not interested) ---------------------------------------------------------------
def test_marks_are_stored_beside_ratings_and_only_ratings_reach_the_indexer(store_url: str) -> None:
    store = open_store(store_url)
    try:
        rating = store.record(1, 862, 4.0, "r1", timestamp=10)
        seen = store.record(1, 603, 0.0, "m1", timestamp=11, kind="seen")
        unwanted = store.record(2, 862, 0.0, "m2", timestamp=12, kind="not_interested")
        undone = store.record(1, 603, 0.0, "m3", timestamp=13, kind="seen", undo=True)
        assert (seen.kind, seen.rating, seen.undo, seen.is_mark) == ("seen", 0.0, False, True)
        assert not rating.is_mark and undone.undo
        assert store.since(0) == [rating, seen, unwanted, undone]  # the follower sees every kind
        assert store.marks(unwanted.seq) == [seen, unwanted]  # marks up to a seq, no ratings
        assert store.marks(undone.seq) == [seen, unwanted, undone]
        assert store.record(1, 603, 0.0, "m1", kind="seen") == StoredRating(
            seen.seq, 1, 603, 0.0, 11, duplicate=True, kind="seen"
        )  # a retried mark is stored once
        for other in [
            (1, 603, 0.0, "not_interested", False),
            (1, 603, 0.0, "seen", True),
            (1, 603, 4.0, "rating", False),
        ]:
            with pytest.raises(InvalidArgument, match="already used for user 1, movie 603, seen"):
                store.record(other[0], other[1], other[2], "m1", kind=other[3], undo=other[4])
    finally:
        store.close()
    frame, last = read_store(store_url)
    assert frame[["user_id", "movie_id", "rating"]].values.tolist() == [[1, 862, 4.0]]
    assert last == undone.seq  # the max seq counts the marks: a server on that index loads them as marks


def test_the_schema_refuses_a_mark_with_a_rating_and_a_rating_undone(store_url: str) -> None:
    open_store(store_url).close()
    bad = [
        "INSERT INTO feedback (user_id, movie_id, rating, timestamp, kind) VALUES (1, 2, 4.0, 0, 'seen')",
        "INSERT INTO feedback (user_id, movie_id, rating, timestamp, kind) VALUES (1, 2, NULL, 0, 'rating')",
        "INSERT INTO feedback (user_id, movie_id, rating, timestamp, kind) VALUES (1, 2, NULL, 0, 'liked')",
    ]
    path = sqlite_path(store_url)
    for statement in bad:
        if path is not None:
            with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError):
                db.execute(statement)
        else:
            with psycopg.connect(store_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(statement)


def test_a_store_written_before_marks_is_migrated_with_its_rows_and_seqs(store_url: str) -> None:
    """A store at schema version 1 (ratings only) opens with every row, seq and request id kept, and the
    next seq after the last one."""
    path = sqlite_path(store_url)
    if path is not None:
        with sqlite3.connect(path) as db:
            db.executescript(MIGRATIONS[0])
            db.execute("PRAGMA user_version = 1")
            db.executemany(
                "INSERT INTO feedback (user_id, movie_id, rating, timestamp, request_id) VALUES (?, ?, ?, ?, ?)",
                [(1, 862, 4.5, 100, "old-1"), (2, 603, 3.0, 101, None)],
            )
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT "
                "NULL DEFAULT now())"
            )
            for statement in filter(str.strip, PG_MIGRATIONS[0].split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (1)")
            conn.execute(
                "INSERT INTO feedback (user_id, movie_id, rating, timestamp, request_id) VALUES "
                "(1, 862, 4.5, 100, 'old-1'), (2, 603, 3.0, 101, NULL)"
            )
    frame, last = read_store(store_url)  # the indexer reads a store no new server has opened yet
    assert frame["movie_id"].tolist() == [862, 603] and last == 2
    store = open_store(store_url)
    try:
        assert store.since(0) == [StoredRating(1, 1, 862, 4.5, 100), StoredRating(2, 2, 603, 3.0, 101)]
        assert store.record(1, 862, 4.5, "old-1").duplicate
        assert store.record(3, 862, 0.0, "new", kind="seen").seq == 3
    finally:
        store.close()


def test_the_indexer_reads_one_snapshot_while_feedback_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rating committed while the indexer reads (here: right after its first query) is either in
    what it read or above the last seq it returns, so that a server replays it; never lost between."""
    url = sqlite_url(tmp_path / "feedback.sqlite")
    writer = open_store(url)
    writer.record(1, 862, 4.0, "before")
    connect = sqlite3.connect

    class Interleaved:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            cursor = self.db.execute(sql, *args)
            if "FROM feedback" in sql and not writer.since(1):  # after the first read of the rows or the seq
                writer.record(2, 603, 3.0, "during")  # another connection commits in between
            return cursor

        def close(self) -> None:
            self.db.close()

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Interleaved(connect(*a, **k)))
    frame, last = read_store(url)
    monkeypatch.setattr(sqlite3, "connect", connect)
    during = writer.since(0)[-1]
    writer.close()
    assert during.movie_id == 603 and during.seq > last  # replayed by a server on this index
    assert frame["seq"].tolist() == [s for s in [1, 2] if s <= last] == [1]
