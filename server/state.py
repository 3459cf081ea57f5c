"""What the server is serving: the current Recommender, loaded from index_dir and swapped on reindex."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import numpy as np

from movierec.artifact import current_version, load_artifact
from movierec.diagnostics import DeadlineExceeded, MovierecError, NotRecorded, ResourceExhausted, Unavailable
from movierec.domain import IndexInfo, RecommendQuery, RecommendResult
from movierec.embedding import TextEncoder, settings_encoder
from movierec.prompt_cache import PromptCache
from movierec.recommender import Feedback, Recommender, UserSummary
from movierec.server.batcher import MicroBatcher
from movierec.server.interceptors import current_call
from movierec.server.metrics import ServerMetrics
from movierec.settings import Settings
from movierec.store import RatingsStore, StoredRating, describe, open_store
from movierec.understanding import Understood

log = logging.getLogger(__name__)


class TimedEncoder:
    """The encoder, with the time of each call observed and kept for the calling lane's batch."""

    def __init__(self, encoder: TextEncoder, metrics: ServerMetrics):
        self._encoder, self._metrics = encoder, metrics
        self._spent = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self._encoder.encode(texts, *args, **kwargs)
        finally:
            seconds = time.perf_counter() - started
            self._metrics.encode_seconds.observe(seconds)
            self._spent.seconds = getattr(self._spent, "seconds", 0.0) + seconds

    def take_spent(self) -> float:
        """Seconds this thread spent encoding since the last call."""
        spent, self._spent.seconds = getattr(self._spent, "seconds", 0.0), 0.0
        return spent


class ServingState:
    """Holds the loaded index (None until the first load) and batches requests against it.

    A watcher thread loads the encoder, then the version CURRENT names, and afterwards checks
    CURRENT every `reload_interval_s`: a new version is loaded beside the old one and swapped in
    with one assignment, so in-flight requests finish on the version they started with. A version
    that fails to load is logged and skipped; the previous one keeps serving.

    Feedback is committed to the ratings store, then applied to the serving Recommender, under one
    lock that a swap also takes: a new version replays the store rows its index does not contain
    before it starts serving, so no acknowledged rating falls between two versions.

    Replicas sharing a store learn each other's ratings from a follower thread: it reads the rows
    after the last one it applied (`since`), woken by the store when another writer commits
    (PostgreSQL's NOTIFY) and every `store_poll_interval_s` in any case. Since seq order is commit
    order in both stores, reading "after the last seq seen" skips no row. A replica's own ratings
    come back to it this way too; `Recommender.apply` keeps, per user and movie, the row with the
    latest (timestamp, seq), so applying one again changes nothing.
    """

    def _prompt_cache(self) -> PromptCache:
        """The prompt cache in front of the timed encoder (so the encoder's time is its forwards only)."""
        metrics = self.metrics

        def counted(hits: int, misses: int) -> None:
            metrics.prompt_cache.labels("hit").inc(hits)
            metrics.prompt_cache.labels("miss").inc(misses)
            metrics.prompt_cache_bytes.set(prompts.bytes)

        prompts = PromptCache(self._encoder, int(self.settings.encoder.prompt_cache_mb * 2**20), counted)  # type: ignore[arg-type]
        return prompts

    def __init__(
        self,
        settings: Settings,
        encoder: TextEncoder | None = None,
        on_ready: Callable[[bool], None] | None = None,
        threads: int = 1,
        metrics: ServerMetrics | None = None,
    ):
        self.settings = settings
        self.metrics = metrics or ServerMetrics()
        self._encoder: TimedEncoder | None = TimedEncoder(encoder, self.metrics) if encoder is not None else None
        self._prompts: PromptCache | None = self._prompt_cache() if self._encoder is not None else None
        self._recommender: Recommender | None = None
        self._on_ready = on_ready or (lambda serving: None)
        self._failed_version: str | None = None
        self._stop = threading.Event()
        self._feedback_lock = threading.Lock()
        self._store: RatingsStore | None = None
        self._store_lock = threading.Lock()  # opens the store once, for feedback and the follower alike
        # Every store row up to this seq is in the serving Recommender (its index, or applied live).
        self._applied_seq = 0
        self._marks_missing = False  # the marks could not be read when the serving index was loaded
        self._marks_failure: str | None = None
        self.first_load_tried = threading.Event()  # set once the first load has succeeded or failed
        self.load_error: str | None = "the index is loading"
        self.batcher: MicroBatcher[tuple[Recommender, RecommendQuery], RecommendResult | MovierecError] = MicroBatcher(
            self._run_batch,
            settings.server.batch_max_size,
            settings.server.batch_max_wait_ms / 1000,
            lanes=settings.server.batch_lanes,
            threads=threads,
            max_waiting=settings.server.admitted_requests,
        )
        self.metrics.watch_queue(lambda: self.batcher.waiting)
        self._watcher = threading.Thread(target=self._watch, name="movierec-index-watcher", daemon=True)
        self._watcher.start()
        self._follower: threading.Thread | None = None
        if settings.store.store_poll_interval_s > 0:
            self._follower = threading.Thread(target=self._follow, name="movierec-store-follower", daemon=True)
            self._follower.start()

    # -- requests -------------------------------------------------------------------------
    def recommender(self) -> Recommender:
        current = self._recommender
        if current is None:
            raise Unavailable(f"no index loaded yet ({self.load_error}); build one with `make reindex`")
        return current

    def info(self) -> IndexInfo:
        return self.recommender().info()

    def recommend(self, query: RecommendQuery, timeout_s: float | None = None) -> RecommendResult:
        recommender = self.recommender()
        # NOT_FOUND and INVALID_ARGUMENT now, not inside a shared batch.
        recommender.check_users(query)
        recommender.check_fields(query)
        # The prompt is parsed in the batch lane, beside the rest of the batch's Python work: parsed in
        # the request threads it cost more CPU under load (many threads taking turns at the GIL).
        if timeout_s is not None and timeout_s <= 0:
            raise DeadlineExceeded("the request's deadline had passed before it could be queued")
        try:
            future = self.batcher.submit((recommender, query))
        except ResourceExhausted:
            self.metrics.shed.inc()
            raise
        try:
            result = future.result(timeout_s)
        except FutureTimeout:
            # Still queued: cancelled, so the batcher drops it before any compute. Already in a batch:
            # that batch finishes and this answer is discarded.
            dropped = future.cancel()
            raise DeadlineExceeded(
                f"the request's deadline ({1000 * (timeout_s or 0):.0f} ms left when it was "
                f"queued) passed while it waited for a batch; it was "
                f"{'dropped unanswered' if dropped else 'being ranked, and the answer discarded'}"
            ) from None
        if (call := current_call.get()) is not None:
            call.batch_size = getattr(future, "batch_size", None)
        if isinstance(result, MovierecError):
            raise result
        return result

    def store(self) -> RatingsStore:
        """The ratings store, opened on first use (so a store that cannot be opened fails feedback only)."""
        with self._store_lock:
            if self._store is None:
                if self._stop.is_set():
                    raise NotRecorded("the server is shutting down; the feedback was not recorded")
                self._store = open_store(self.settings.effective_store_url)
            return self._store

    def record_feedback(self, feedback: Feedback) -> tuple[StoredRating, int]:
        """Commit durably, then apply live. Returns (the stored row, the user's rating count)."""
        recommender = self.recommender()
        recommender.check_movie(feedback.movie_id)
        with self._feedback_lock:
            try:
                stored = self.store().record(
                    feedback.user_id,
                    feedback.movie_id,
                    feedback.rating,
                    feedback.request_id,
                    kind=feedback.kind,
                    undo=feedback.undo,
                )
            except NotRecorded:
                self.metrics.store_errors.inc()
                raise
            except Unavailable as e:  # the store could not even be opened: say what that means for this feedback
                self.metrics.store_errors.inc()
                raise NotRecorded(f"{e}; the feedback was not recorded, retry later with the same request_id") from e
            if self._marks_missing:  # the store answers again: the marks it could not give at load time
                self._load_missing_marks(locked=True)
            recommender = self.recommender()  # the version serving now (a swap waits for this lock)
            if not stored.duplicate:
                recommender.apply(stored)
        self.metrics.feedback.labels("duplicate" if stored.duplicate else "stored").inc()
        return stored, recommender.rating_count(feedback.user_id)

    def user(self, user_id: int, limit: int) -> UserSummary:
        return self.recommender().user_summary(user_id, limit)

    def _run_batch(
        self, items: list[tuple[Recommender, RecommendQuery]], threads: int
    ) -> list[RecommendResult | MovierecError]:
        """Each item's result, or the error its own query raised (a bad query does not fail its batch)."""
        started = time.perf_counter()
        if self._encoder is not None:
            self._encoder.take_spent()
        try:
            return self._answer_batch(items, threads)
        finally:
            encoding = self._encoder.take_spent() if self._encoder is not None else 0.0
            self.metrics.batch_size.observe(len(items))
            self.metrics.rank_seconds.observe(max(0.0, time.perf_counter() - started - encoding))

    @staticmethod
    def _answer_batch(
        items: list[tuple[Recommender, RecommendQuery]], threads: int
    ) -> list[RecommendResult | MovierecError]:
        results: list[RecommendResult | MovierecError | None] = [None] * len(items)
        understood: list[Understood | None] = [None] * len(items)
        for i, (recommender, query) in enumerate(items):
            try:
                understood[i] = recommender.understand(query)
            except MovierecError as e:
                results[i] = e
        # Around a swap one batch may span two versions: answer each group with its own.
        groups: dict[int, list[int]] = {}
        for i, (recommender, _) in enumerate(items):
            if results[i] is None:
                groups.setdefault(id(recommender), []).append(i)
        for positions in groups.values():
            recommender = items[positions[0]][0]
            answered = recommender.recommend_batch(
                [items[i][1] for i in positions],
                threads,
                understood=[understood[i] for i in positions],  # type: ignore[misc]
            )
            for i, result in zip(positions, answered):
                results[i] = result
        return results  # type: ignore[return-value]

    # -- loading --------------------------------------------------------------------------
    def reload(self) -> bool:
        """Load CURRENT's version if it is not the one being served. True when a new version was swapped in."""
        index_dir = self.settings.index.index_dir
        try:
            version = current_version(index_dir)
        except MovierecError as e:
            self.load_error = str(e)
            return False
        if version is None:
            self.load_error = f"no index in {index_dir}"
            return False
        serving = self._recommender.version if self._recommender else None
        if version in (serving, self._failed_version):
            return False
        started = time.perf_counter()
        try:
            if self._encoder is None:
                self._encoder = TimedEncoder(settings_encoder(self.settings), self.metrics)
                self._prompts = self._prompt_cache()
            recommender = Recommender(
                load_artifact(index_dir / version),
                self._prompts,  # type: ignore[arg-type]
                self.settings.ranking,
                self.settings.server.profile_cache_mb,
            )
        except (MovierecError, OSError) as e:
            self._failed_version = version
            self.load_error = f"index version {version} could not be loaded: {e}"
            log.error("%s; %s", self.load_error, f"still serving {serving}" if serving else "no index is being served")
            return False
        with self._feedback_lock:
            try:
                # Marks are in no index: every one up to the index's seq, then every row after it.
                marks = self.store().marks(recommender.store_seq)
                missed = self.store().since(recommender.store_seq)
                self._marks_missing = False
            except MovierecError as e:  # the store is unreadable: serve the index alone, say so
                log.error("feedback newer than index %s, and the marks, could not be read: %s", version, e)
                # The follower reads them once the store answers: the marks, then from store_seq on.
                marks, missed, self._marks_missing = [], [], True
            for stored in (*marks, *missed):
                recommender.apply(stored)
            self._recommender = recommender
            self._applied_seq = missed[-1].seq if missed else recommender.store_seq
        if missed or marks:
            log.info(
                "replayed %d rows recorded after index %s was built, and %d marks before it",
                len(missed),
                version,
                len(marks),
            )
        self._failed_version = None
        self.load_error = None
        self.metrics.served_version(version, time.perf_counter() - started, time.time())
        log.info(
            "serving index %s (%d movies, %d users)",
            version,
            len(recommender.index.movies),
            len(recommender.index.user_ids),
        )
        self._on_ready(True)
        return True

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.reload()
                if self._marks_missing:
                    self._load_missing_marks()
            except Exception:
                log.exception("bug while reloading the index")
            self.first_load_tried.set()
            interval = self.settings.index.reload_interval_s
            if interval <= 0 and self._recommender is not None and not self._marks_missing:
                return
            self._stop.wait(interval if interval > 0 else 1.0)

    # -- following the shared store ----------------------------------------------------------
    def follow_store(self) -> int:
        """Apply the rows committed to the store since the last one applied (another replica's, or this
        one's own, which change nothing). Returns how many changed the serving Recommender."""
        if self._recommender is None:
            return 0
        if self._marks_missing:
            self._load_missing_marks()
        watermark = self._applied_seq
        rows = self.store().since(watermark)  # read outside the lock: feedback does not wait for it
        if not rows:
            return 0
        changed = 0
        with self._feedback_lock:
            if self._applied_seq != watermark:  # a new version was swapped in meanwhile: read again from its seq
                return 0
            recommender = self.recommender()
            for stored in rows:
                changed += recommender.apply(stored)
            self._applied_seq = rows[-1].seq
        if changed:
            self.metrics.followed.inc(changed)
        return changed

    def _load_missing_marks(self, locked: bool = False) -> None:
        """The marks up to the serving index's seq, when the store could not be read as it was loaded. Tried
        by the follower, the index watcher and each recorded feedback until it works (`locked`: the caller
        holds the feedback lock). A store that still cannot be read leaves them missing, and says so."""
        try:
            recommender = self.recommender()
            marks = self.store().marks(recommender.store_seq)
        except MovierecError as e:
            if str(e) != self._marks_failure:  # said once, not at every try
                log.warning("the marks up to the serving index are still missing: %s", e)
            self._marks_failure = str(e)
            return
        with contextlib.nullcontext() if locked else self._feedback_lock:
            if self.recommender() is recommender:  # else the new version's load read them itself
                for stored in marks:
                    recommender.apply(stored)
                self._marks_missing, self._marks_failure = False, None
                log.info(
                    "loaded %d marks the store could not give when index %s was loaded", len(marks), recommender.version
                )

    def _follow(self) -> None:
        interval = self.settings.store.store_poll_interval_s
        failure: str | None = None
        while not self._stop.is_set():
            try:
                self.follow_store()
                if failure is not None:
                    log.info("following the ratings store %s again", describe(self.settings.effective_store_url))
                    failure = None
            except MovierecError as e:
                if str(e) != failure:  # said once, not every interval
                    log.warning("cannot follow the ratings store: %s; trying again every %.2g s", e, interval)
                failure = str(e)
            except Exception:
                log.exception("bug while following the ratings store")
            store = self._store
            if store is None or failure is not None or self._stop.is_set():
                self._stop.wait(interval)
            else:
                store.wait_for_news(interval)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop watching; queued batches still run (waiting at most `timeout_s` for them); close the store."""
        self._stop.set()
        self.batcher.close(timeout_s)
        if self._follower is not None:
            self._follower.join(timeout=timeout_s)  # wakes within one poll interval
        with self._feedback_lock:
            if self._store is not None:
                self._store.close()
