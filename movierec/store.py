"""The ratings store: every piece of feedback, durably, in SQLite (WAL mode, fsync on commit).

It is the source of truth for ratings given through the service: `make reindex` reads it together
with the CSV ratings (for the same user and movie the later rating wins), and a server replays the
rows newer than its index (`seq` greater than the index's `store_seq`) on load.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from movierec.diagnostics import InvalidArgument, Unavailable

STORE_NAME = "feedback.sqlite"

# Each entry moves the schema from version i to i + 1 (PRAGMA user_version). Never edit one that
# has shipped: add the next.
MIGRATIONS = (
    """
    CREATE TABLE feedback (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id    INTEGER NOT NULL,
        movie_id   INTEGER NOT NULL,
        rating     REAL    NOT NULL CHECK (rating >= 0.5 AND rating <= 5.0),
        timestamp  INTEGER NOT NULL,
        request_id TEXT UNIQUE
    );
    CREATE INDEX feedback_user ON feedback (user_id, seq);
    """,
)


@dataclass(frozen=True)
class StoredRating:
    seq: int
    user_id: int
    movie_id: int
    rating: float
    timestamp: int
    duplicate: bool = False


def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _unavailable(path: Path, error: sqlite3.Error) -> Unavailable:
    text = str(error)
    if "full" in text:
        why = "the disk is full"
    elif "readonly" in text or "read-only" in text or _read_only_filesystem(path):
        why = "it is read-only"
    else:
        why = text
    return Unavailable(f"the ratings store {path} cannot be written ({why}); the rating was not recorded, "
                       "retry later with the same request_id")


class RatingsStore:
    """Thread-safe; one connection, writes serialised. `record` returns after a durable commit."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: every commit fsyncs the WAL, so an acknowledged rating survives a crash or power loss.
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as e:
            raise _unavailable(path, e) from e

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise Unavailable(f"the ratings store {self.path} has schema version {version}, newer than this "
                              f"program knows ({len(MIGRATIONS)})")
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {target}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record(self, user_id: int, movie_id: int, rating: float, request_id: str | None = None,
               timestamp: int | None = None) -> StoredRating:
        """Store one rating durably. With a request_id seen before, returns the stored row (duplicate=True)."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        with self._lock:
            try:
                if request_id:
                    row = self._db.execute("SELECT seq, user_id, movie_id, rating, timestamp FROM feedback "
                                           "WHERE request_id = ?", (request_id,)).fetchone()
                    if row is not None:
                        if (row[1], row[2], row[3]) != (user_id, movie_id, rating):
                            raise InvalidArgument(
                                f"request_id {request_id!r} was already used for user {row[1]}, movie {row[2]}, "
                                f"rating {row[3]}; use a new request_id for a different rating")
                        seq, stored_user, stored_movie, stored_rating, stored_at = row
                        return StoredRating(seq, stored_user, stored_movie, stored_rating, stored_at, duplicate=True)
                cursor = self._db.execute(
                    "INSERT INTO feedback (user_id, movie_id, rating, timestamp, request_id) VALUES (?, ?, ?, ?, ?)",
                    (user_id, movie_id, rating, timestamp, request_id or None))
                assert cursor.lastrowid is not None  # an INSERT always sets it
                return StoredRating(cursor.lastrowid, user_id, movie_id, rating, timestamp)
            except sqlite3.Error as e:
                raise _unavailable(self.path, e) from e

    def since(self, seq: int) -> list[StoredRating]:
        """Rows with seq > `seq`, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, user_id, movie_id, rating, timestamp FROM feedback WHERE seq > ? "
                                    "ORDER BY seq", (seq,)).fetchall()
        return [StoredRating(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_store(path: Path) -> tuple[pd.DataFrame, int]:
    """All stored ratings for the indexer: (frame with user_id, movie_id, rating, timestamp, seq; max seq).

    Opened read-only, so a reindex never blocks or changes the store a server is writing.
    """
    columns = ["user_id", "movie_id", "rating", "timestamp", "seq"]
    if not path.exists():
        return pd.DataFrame(columns=columns), 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT user_id, movie_id, rating, timestamp, seq FROM feedback ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # a store created but never migrated: nothing in it
        rows = []
    finally:
        db.close()
    frame = pd.DataFrame(rows, columns=columns)
    return frame, int(frame["seq"].max()) if len(frame) else 0
