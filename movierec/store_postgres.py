"""The ratings store on PostgreSQL (psycopg 3 and its connection pool), for replicas that share ratings.

Same semantics as the SQLite store (`movierec.store`): a rating is acknowledged only after its
COMMIT, a request_id is stored once (a UNIQUE constraint, checked under the insert lock below), and
the schema moves by numbered migrations recorded in the table `schema_version`.

Seq order is commit order. An identity column alone would not give that: a transaction can take seq
7, another seq 8 and commit first, and a reader that saw 8 and then asks for "seq > 8" would never
see 7. So every insert first takes one transaction-scoped advisory lock (`pg_advisory_xact_lock`),
and only then takes its seq: the next writer cannot take a seq until the previous one has committed
and become visible (PostgreSQL releases a transaction's locks after making its commit visible), so
the rows visible to any snapshot are exactly those up to some seq. The price is that inserts from
all replicas are serialised, one commit at a time, as they are in a SQLite file.

Each commit also sends a NOTIFY on `movierec_feedback` (delivered only if the transaction commits),
which wakes the other replicas' followers (`wait_for_news`); they poll as well, in case one is lost.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg_pool import ConnectionPool

from movierec.diagnostics import NotRecorded, Unavailable
from movierec.store import COLUMNS, RATING, RatingsStore, StoredRating, existing_rating, redact_url, stored_row

log = logging.getLogger(__name__)

CHANNEL = "movierec_feedback"
# Advisory lock keys ("movierec" as a 64-bit number, and the next one): inserts, and migrations.
INSERT_LOCK = 0x6D6F766965726563
MIGRATION_LOCK = INSERT_LOCK + 1
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10
LISTEN_RETRY_S = 5.0

# Each entry moves the schema from version i to i + 1 (a row in schema_version). Never edit one that
# has shipped: add the next.
MIGRATIONS = (
    """
    CREATE TABLE feedback (
        seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id    BIGINT NOT NULL,
        movie_id   BIGINT NOT NULL,
        rating     DOUBLE PRECISION NOT NULL CHECK (rating >= 0.5 AND rating <= 5.0),
        timestamp  BIGINT NOT NULL,
        request_id TEXT UNIQUE
    );
    CREATE INDEX feedback_user ON feedback (user_id, seq);
    """,
    # Marks: a row is a rating (rating set) or a mark (rating NULL, kind seen / not_interested).
    """
    ALTER TABLE feedback ALTER COLUMN rating DROP NOT NULL;
    ALTER TABLE feedback ADD COLUMN kind TEXT NOT NULL DEFAULT 'rating'
        CHECK (kind IN ('rating', 'seen', 'not_interested'));
    ALTER TABLE feedback ADD COLUMN undo BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE feedback ADD CONSTRAINT feedback_rating_kind CHECK ((kind = 'rating') = (rating IS NOT NULL));
    ALTER TABLE feedback ADD CONSTRAINT feedback_undo_mark CHECK (kind <> 'rating' OR NOT undo);
    CREATE INDEX feedback_marks ON feedback (seq) WHERE kind <> 'rating';
    """,
)
SCHEMA_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version    INTEGER PRIMARY KEY,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""


def _secrets(url: str) -> list[str]:
    """The password(s) in a URL, to keep them out of every message."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    return found


def _why(error: BaseException, url: str) -> str:
    """The first line of a driver error, without the password."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0].strip()
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def migrate(conn: psycopg.Connection) -> int:
    """Bring the schema up to date (in one transaction, one replica at a time). Returns the version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(SCHEMA_VERSION_TABLE)
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise Unavailable(
                f"the ratings store has schema version {version}, newer than this program knows ({len(MIGRATIONS)})"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)  # our own literal SQL
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (target,))
    return len(MIGRATIONS)


class PostgresRatingsStore(RatingsStore):
    """A pool of connections for writes and reads; one more connection that LISTENs, for the follower."""

    def __init__(self, url: str, pool_size: int = 4):
        super().__init__(redact_url(url))
        self._url = url
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                migrate(conn)
        except psycopg.Error as e:
            raise Unavailable(f"the ratings store {self.location} cannot be reached ({_why(e, url)})") from None
        # check: a connection the server closed (a restart, an idle timeout) is replaced before use.
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=POOL_TIMEOUT_S,
            open=True,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            check=ConnectionPool.check_connection,
            name="movierec-store",
        )
        self._listener: psycopg.Connection | None = None
        self._listen_again_at = 0.0
        self._listen_failure: str | None = None

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
        stored_rating = rating if kind == RATING else None
        committing = False
        try:
            with self._pool.connection() as conn:
                with conn.transaction():
                    # Held until the commit is visible: seq order = commit order (module docstring).
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (INSERT_LOCK,))
                    if request_id:
                        row = conn.execute(
                            f"SELECT {COLUMNS} FROM feedback WHERE request_id = %s", (request_id,)
                        ).fetchone()
                        if row is not None:
                            return existing_rating(row, user_id, movie_id, rating, request_id, kind, undo)
                    inserted = conn.execute(
                        "INSERT INTO feedback (user_id, movie_id, rating, timestamp, request_id, kind, undo) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING seq",
                        (user_id, movie_id, stored_rating, timestamp, request_id or None, kind, undo),
                    ).fetchone()
                    assert inserted is not None  # INSERT … RETURNING returns the row
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(inserted[0])))
                    committing = True
                # Committed: acknowledged from here on.
                return StoredRating(
                    int(inserted[0]), user_id, movie_id, stored_rating or 0.0, timestamp, kind=kind, undo=undo
                )
        except psycopg.Error as e:
            why = _why(e, self._url)
            if committing:  # the connection broke during COMMIT: the outcome is unknown, a retry is safe
                raise NotRecorded(
                    f"the ratings store {self.location} failed while committing the feedback ({why}); "
                    "it may or may not have been recorded: retry with the same request_id, "
                    "which stores it once"
                ) from None
            raise NotRecorded(
                f"the ratings store {self.location} cannot be written ({why}); the feedback was not "
                "recorded, retry later with the same request_id"
            ) from None

    def _select(self, where: str, seq: int) -> list[StoredRating]:
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(f"SELECT {COLUMNS} FROM feedback WHERE {where} ORDER BY seq", (seq,)).fetchall()
        except psycopg.Error as e:
            raise Unavailable(f"the ratings store {self.location} cannot be read ({_why(e, self._url)})") from None
        return [stored_row(r) for r in rows]

    def since(self, seq: int) -> list[StoredRating]:
        return self._select("seq > %s", seq)

    def marks(self, through_seq: int) -> list[StoredRating]:
        return self._select("kind <> 'rating' AND seq <= %s", through_seq)

    def wait_for_news(self, timeout_s: float) -> bool:
        """True as soon as another writer commits a rating (NOTIFY), False after `timeout_s`. Without a
        listening connection (the server cannot be reached) it just waits, and tries again later."""
        listener = self._listening()
        if listener is None:
            self._closed.wait(timeout_s)
            return False
        try:
            woken = any(True for _ in listener.notifies(timeout=timeout_s, stop_after=1))
            if woken:  # several commits since the last look: one read covers them all
                for _ in listener.notifies(timeout=0):
                    pass
            return woken
        except psycopg.Error as e:
            self._drop_listener(e)
            return False

    def _listening(self) -> psycopg.Connection | None:
        if self._listener is not None or self._closed.is_set() or time.monotonic() < self._listen_again_at:
            return self._listener
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as e:
            self._drop_listener(e)
            return None
        if self._listen_failure is not None:
            log.info("listening to the ratings store %s again", self.location)
            self._listen_failure = None
        self._listener = conn
        return conn

    def _drop_listener(self, error: psycopg.Error) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._listen_again_at = time.monotonic() + LISTEN_RETRY_S
        why = _why(error, self._url)
        if why != self._listen_failure and not self._closed.is_set():
            log.warning("cannot listen to the ratings store %s (%s); polling it until it answers", self.location, why)
        self._listen_failure = why

    def close(self) -> None:
        super().close()
        if self._listener is not None:
            self._listener.close()
        self._pool.close()


def read_rows(url: str) -> tuple[list[tuple[int, int, float, int, int]], int]:
    """Every stored rating as (user_id, movie_id, rating, timestamp, seq), oldest first, and the highest
    seq of any row (marks included), in one snapshot."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.read_only = True
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
                    # A store written before marks existed holds ratings only (and has no kind column).
                    only_ratings = " WHERE kind = 'rating'" if version and version[0] >= 2 else ""
                    last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM feedback").fetchone()
                    rows = conn.execute(
                        f"SELECT user_id, movie_id, rating, timestamp, seq FROM feedback{only_ratings} ORDER BY seq"
                    ).fetchall()
            except psycopg.errors.UndefinedTable:  # no server has opened this store yet: nothing in it
                return [], 0
    except psycopg.Error as e:
        raise Unavailable(f"the ratings store {redact_url(url)} cannot be read ({_why(e, url)})") from None
    return [(int(u), int(m), float(r), int(t), int(s)) for u, m, r, t, s in rows], int(last[0]) if last else 0
