"""The ratings store: every piece of feedback, durably, behind one interface with two backends.

Feedback is a rating (`kind` "rating", 0.5–5.0) or a mark: "seen" or "not_interested", which a later
row of the same kind with `undo` takes back. Marks never reach the index (`read_store` reads ratings
only): a server loads them from the store (`marks`) and follows them like ratings.

- SQLite (the default, `sqlite:///<path>`): WAL mode, fsync on every commit; one file that the
  processes of one machine can share.
- PostgreSQL (`postgresql://…`, `movierec.store_postgres`): for replicas on several machines.

It is the source of truth for ratings given through the service: `make reindex` reads it together
with the CSV ratings (for the same user and movie the later rating wins), and a server replays the
rows newer than its index (`seq` greater than the index's `store_seq`) on load, then follows the
rows other replicas add (`since`, woken by `wait_for_news`).

Both backends keep one promise the followers rely on: **seq order is commit order**. A row with a
higher seq is never visible before every row with a lower seq is, so a reader that has seen every
row up to seq N and asks for `since(N)` can never skip one.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from movierec.diagnostics import InvalidArgument, NotRecorded, Unavailable

if TYPE_CHECKING:
    import pandas as pd

STORE_NAME = "feedback.sqlite"
SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")

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
    # Marks: a row is a rating (rating set) or a mark (rating NULL); SQLite cannot relax NOT NULL in
    # place, so the table is copied (seq values kept, and with them the AUTOINCREMENT counter).
    """
    CREATE TABLE feedback_v2 (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id    INTEGER NOT NULL,
        movie_id   INTEGER NOT NULL,
        rating     REAL    CHECK (rating >= 0.5 AND rating <= 5.0),
        timestamp  INTEGER NOT NULL,
        request_id TEXT UNIQUE,
        kind       TEXT    NOT NULL DEFAULT 'rating' CHECK (kind IN ('rating', 'seen', 'not_interested')),
        undo       INTEGER NOT NULL DEFAULT 0 CHECK (undo IN (0, 1)),
        CHECK ((kind = 'rating') = (rating IS NOT NULL)),
        CHECK (kind <> 'rating' OR undo = 0)
    );
    INSERT INTO feedback_v2 (seq, user_id, movie_id, rating, timestamp, request_id)
        SELECT seq, user_id, movie_id, rating, timestamp, request_id FROM feedback ORDER BY seq;
    UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'feedback'), 0))
        WHERE name = 'feedback_v2';
    DROP TABLE feedback;
    ALTER TABLE feedback_v2 RENAME TO feedback;
    CREATE INDEX feedback_user ON feedback (user_id, seq);
    CREATE INDEX feedback_marks ON feedback (seq) WHERE kind <> 'rating';
    """,
)

RATING = "rating"
SEEN = "seen"
NOT_INTERESTED = "not_interested"
KINDS = (RATING, SEEN, NOT_INTERESTED)
MARKS = (SEEN, NOT_INTERESTED)
COLUMNS = "seq, user_id, movie_id, rating, timestamp, kind, undo"


@dataclass(frozen=True)
class StoredRating:
    """One stored row: a rating, or a mark (`kind` seen / not_interested; `rating` 0; `undo` takes it back)."""

    seq: int
    user_id: int
    movie_id: int
    rating: float
    timestamp: int
    duplicate: bool = False
    kind: str = RATING
    undo: bool = False

    @property
    def is_mark(self) -> bool:
        return self.kind != RATING


def stored_row(row: tuple[int, int, int, float | None, int, str, int | bool], duplicate: bool = False) -> StoredRating:
    """A row selected as COLUMNS, as a StoredRating."""
    seq, user_id, movie_id, rating, timestamp, kind, undo = row
    return StoredRating(
        int(seq), int(user_id), int(movie_id), float(rating or 0.0), int(timestamp), duplicate, str(kind), bool(undo)
    )


# -- locations ------------------------------------------------------------------------------------
def redact_url(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) replaced by ***,
    for logs, messages and manifests."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a store URL that cannot be parsed>"
    if parts.password is None and "password=" not in parts.query.lower():
        return url
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_store_url(url: str) -> str:
    """The URL if it names a store this program can open; ValueError (without the password) if not."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or not url[len(SQLITE_PREFIX) :].strip():
            raise ValueError(
                "a SQLite store is sqlite:///<path> (three slashes then a relative path, four for an absolute one)"
            )
        return url
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError(
                f"{redact_url(url)} is not a valid PostgreSQL URL (postgresql://user:password@host:port/database)"
            ) from None
        return url
    raise ValueError("expected sqlite:///<path> or postgresql://user:password@host:port/database")


def sqlite_url(path: Path) -> str:
    return SQLITE_PREFIX + str(path)


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL; None for any other store."""
    return Path(url[len(SQLITE_PREFIX) :]).expanduser() if url.startswith(SQLITE_PREFIX) else None


def describe(url: str) -> str:
    """How messages name a store: its file for SQLite, its URL without the password otherwise."""
    path = sqlite_path(url)
    return str(path) if path is not None else redact_url(url)


# -- the interface --------------------------------------------------------------------------------
class RatingsStore(ABC):
    """Thread-safe. `record` returns only after a durable commit; `since` reads in seq (= commit) order."""

    def __init__(self, location: str):
        self.location = location  # how messages and logs name this store (never with a password)
        self._closed = threading.Event()

    @abstractmethod
    def record(
        self,
        user_id: int,
        movie_id: int,
        rating: float,
        request_id: str | None = None,
        timestamp: int | None = None,
        kind: str = RATING,
        undo: bool = False,
    ) -> StoredRating:
        """Store one piece of feedback durably (a mark: `kind` seen / not_interested, `rating` 0). With a
        request_id seen before, returns the stored row (duplicate=True); the same request_id for other
        feedback is InvalidArgument; a store that cannot be written, Unavailable."""

    @abstractmethod
    def since(self, seq: int) -> list[StoredRating]:
        """Rows (ratings and marks) with seq > `seq`, oldest first."""

    @abstractmethod
    def marks(self, through_seq: int) -> list[StoredRating]:
        """The mark rows with seq <= `through_seq`, oldest first (an index holds none of them)."""

    def wait_for_news(self, timeout_s: float) -> bool:
        """Wait until another writer may have added rows (True), or `timeout_s` (False). A store that
        cannot tell just waits: its followers poll."""
        self._closed.wait(timeout_s)
        return False

    def close(self) -> None:
        self._closed.set()


def describe_feedback(kind: str, rating: float, undo: bool) -> str:
    """How messages name a piece of feedback: "rating 4.5", "seen", "undo of not_interested"."""
    if kind == RATING:
        return f"rating {rating:g}"
    return f"undo of {kind}" if undo else kind


def existing_rating(
    row: tuple[int, int, int, float | None, int, str, int | bool],
    user_id: int,
    movie_id: int,
    rating: float,
    request_id: str,
    kind: str = RATING,
    undo: bool = False,
) -> StoredRating:
    """The stored row (selected as COLUMNS) a request_id already names, as a duplicate; InvalidArgument if
    it was used for other feedback."""
    stored = stored_row(row, duplicate=True)
    if (stored.user_id, stored.movie_id, stored.rating, stored.kind, stored.undo) != (
        user_id,
        movie_id,
        rating if kind == RATING else 0.0,
        kind,
        undo,
    ):
        raise InvalidArgument(
            f"request_id {request_id!r} was already used for user {stored.user_id}, movie {stored.movie_id}, "
            f"{describe_feedback(stored.kind, stored.rating, stored.undo)}; use a new request_id for different "
            "feedback"
        )
    return stored


def open_store(url: str) -> RatingsStore:
    """The store a (checked) store URL names: Unavailable if it cannot be opened."""
    path = sqlite_path(url)
    if path is not None:
        return SqliteRatingsStore(path)
    from movierec.store_postgres import PostgresRatingsStore

    return PostgresRatingsStore(url)


# -- SQLite ---------------------------------------------------------------------------------------
def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _unavailable(path: Path, error: sqlite3.Error, writing: bool = True) -> Unavailable:
    """What a SQLite error means: for a write, feedback not recorded (a retry is safe); else the store
    cannot be opened."""
    # SQLite's primary result code (the low byte of the extended one) says what went wrong.
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        why = "the disk is full"
    elif code == sqlite3.SQLITE_READONLY or _read_only_filesystem(path):
        why = "it is read-only"
    else:
        why = str(error)
    if not writing:
        return Unavailable(f"the ratings store {path} cannot be opened ({why})")
    return NotRecorded(
        f"the ratings store {path} cannot be written ({why}); the feedback was not recorded, "
        "retry later with the same request_id"
    )


class SqliteRatingsStore(RatingsStore):
    """One connection, writes serialised. Several processes may share the file (e.g. replicas on one
    machine): each write is one IMMEDIATE transaction, which holds SQLite's single write lock from
    before the request_id check until the commit, so the check is atomic across processes and rowids
    (seq) are taken in commit order."""

    def __init__(self, path: Path):
        super().__init__(str(path))
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
            raise _unavailable(path, e, writing=False) from e

    def _version(self) -> int:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise Unavailable(
                f"the ratings store {self.path} has schema version {version}, newer than this "
                f"program knows ({len(MIGRATIONS)})"
            )
        return int(version)

    def _migrate(self) -> None:
        if self._version() == len(MIGRATIONS):
            return
        self._db.execute("BEGIN IMMEDIATE")  # one process migrates; another waits, then finds it done
        try:
            version = self._version()
            for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {target}")
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the connection rolled back on its own (e.g. after a full disk)

    def record(
        self,
        user_id: int,
        movie_id: int,
        rating: float,
        request_id: str | None = None,
        timestamp: int | None = None,
        kind: str = RATING,
        undo: bool = False,
    ) -> StoredRating:
        timestamp = int(time.time()) if timestamp is None else timestamp
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    stored = self._insert(user_id, movie_id, rating, request_id, timestamp, kind, undo)
                    self._db.execute("COMMIT")  # acknowledged only once this returns
                except BaseException:
                    self._rollback()
                    raise
                return stored
            except sqlite3.Error as e:
                raise _unavailable(self.path, e) from e

    def _insert(
        self, user_id: int, movie_id: int, rating: float, request_id: str | None, timestamp: int, kind: str, undo: bool
    ) -> StoredRating:
        if request_id:
            row = self._db.execute(f"SELECT {COLUMNS} FROM feedback WHERE request_id = ?", (request_id,)).fetchone()
            if row is not None:
                return existing_rating(row, user_id, movie_id, rating, request_id, kind, undo)
        stored_rating = rating if kind == RATING else None
        cursor = self._db.execute(
            "INSERT INTO feedback (user_id, movie_id, rating, timestamp, request_id, kind, undo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, movie_id, stored_rating, timestamp, request_id or None, kind, int(undo)),
        )
        assert cursor.lastrowid is not None  # an INSERT always sets it
        return StoredRating(cursor.lastrowid, user_id, movie_id, stored_rating or 0.0, timestamp, kind=kind, undo=undo)

    def _select(self, where: str, seq: int) -> list[StoredRating]:
        with self._lock:
            try:
                rows = self._db.execute(f"SELECT {COLUMNS} FROM feedback WHERE {where} ORDER BY seq", (seq,)).fetchall()
            except sqlite3.Error as e:
                raise Unavailable(f"the ratings store {self.path} cannot be read ({e})") from e
        return [stored_row(r) for r in rows]

    def since(self, seq: int) -> list[StoredRating]:
        return self._select("seq > ?", seq)

    def marks(self, through_seq: int) -> list[StoredRating]:
        return self._select("kind <> 'rating' AND seq <= ?", through_seq)

    def close(self) -> None:
        super().close()
        with self._lock:
            self._db.close()


# -- for the indexer ------------------------------------------------------------------------------
def read_store(location: str | Path) -> tuple[pd.DataFrame, int]:
    """All stored ratings for the indexer: (frame with user_id, movie_id, rating, timestamp, seq; max seq).

    Marks (seen, not interested) are no ratings and stay out of the frame; the max seq counts them, so
    a server on the new index loads them from the store (`marks`) rather than replaying them.

    `location`: a store URL, or the path of a SQLite store. Read in one snapshot without writing, so
    a reindex never blocks or changes the store a server is writing; since seq order is commit order,
    the snapshot holds every row up to its max seq.
    """
    import pandas as pd

    columns = ["user_id", "movie_id", "rating", "timestamp", "seq"]
    path = location if isinstance(location, Path) else sqlite_path(location)
    rows: list[tuple[int, int, float, int, int]] = []
    last = 0
    if path is None:
        from movierec.store_postgres import read_rows

        rows, last = read_rows(str(location))
    elif path.exists():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            # One read transaction: the version, the last seq and the rows all come from one snapshot (a
            # rating committed in between would otherwise sit below `last` without being in the rows,
            # and no server would ever replay it). The rows are also bounded by `last` itself.
            db.execute("BEGIN")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM feedback").fetchone()[0]
            # A store written before marks existed holds ratings only (and has no kind column).
            only_ratings = " AND kind = 'rating'" if version >= 2 else ""
            rows = db.execute(
                f"SELECT user_id, movie_id, rating, timestamp, seq FROM feedback WHERE seq <= ?"
                f"{only_ratings} ORDER BY seq",
                (last,),
            ).fetchall()
            db.execute("COMMIT")
        except sqlite3.OperationalError:  # a store created but never migrated: nothing in it
            rows, last = [], 0
        finally:
            db.close()
    return pd.DataFrame(rows, columns=columns), int(last)
